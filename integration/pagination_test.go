package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newCustomBackend is newBackend with a server built by build (which gets
// the recorder, to count tool calls), for tests that need other tools or
// server options than newMCPServer's.
func newCustomBackend(t *testing.T, mode backendMode, build func(*backend) *mcp.Server) *backend {
	t.Helper()
	b := &backend{toolCalls: map[string]int{}}
	srv := build(b)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{JSONResponse: mode.json, Stateless: mode.stateless})
	ts := httptest.NewServer(b.record(h))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	b.URL = ts.URL
	b.Addr = strings.TrimPrefix(ts.URL, "http://")
	return b
}

const (
	pagedTools    = 25
	pagedPageSize = 2 // 13 pages; some hold no tool the reader may use
)

// pagedToolName names tool i; every third one ends in "-r", which the
// reader of pagedSite may call (9 of 25, spread over the pages).
func pagedToolName(i int) string {
	if i%3 == 0 {
		return fmt.Sprintf("tool-%02d-r", i)
	}
	return fmt.Sprintf("tool-%02d", i)
}

// newPagedBackend serves pagedTools tools, pagedPageSize a page.
func newPagedBackend(t *testing.T, mode backendMode) *backend {
	return newCustomBackend(t, mode, func(b *backend) *mcp.Server {
		s := mcp.NewServer(&mcp.Implementation{Name: "paged-backend", Version: "1.0.0"},
			&mcp.ServerOptions{PageSize: pagedPageSize})
		for i := range pagedTools {
			name := pagedToolName(i)
			mcp.AddTool(s, &mcp.Tool{Name: name, Description: "Tool " + name + "."},
				func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
					b.countTool(name)
					return textResult(name), nil, nil
				})
		}
		return s
	})
}

// pagedSite: alice may call every tool, bob only the "*-r" ones.
func pagedSite(backendAddr string) string {
	return fmt.Sprintf(`http://localhost:%d {
	mcp_auth {
		token alice alice-secret-token admin
		token bob   bob-secret-token   reader
		role admin {
			allow *
		}
		role reader {
			allow tools/call *-r
		}
	}
	reverse_proxy %s
}
`, httpPort, backendAddr)
}

// page is one tools/list reply.
type page struct {
	tools      []string
	nextCursor string
}

// listPages follows nextCursor from the first page to the last, one
// tools/list request a page.
func (s *session) listPages(t *testing.T) []page {
	t.Helper()
	var pages []page
	cursor := ""
	for {
		res, err := s.ListTools(ctxT(t), &mcp.ListToolsParams{Cursor: cursor})
		if err != nil {
			t.Fatalf("tools/list page %d (cursor %q): %v", len(pages)+1, cursor, err)
		}
		var p page
		for _, x := range res.Tools {
			p.tools = append(p.tools, x.Name)
		}
		p.nextCursor = res.NextCursor
		pages = append(pages, p)
		if res.NextCursor == "" {
			return pages
		}
		if len(pages) > pagedTools+1 {
			t.Fatalf("tools/list did not end after %d pages", len(pages))
		}
		cursor = res.NextCursor
	}
}

// TestPaginatedListFiltered: a go-sdk server pages 25 tools two at a time.
// Page by page, the reader sees exactly the tools it may call of the page
// the admin sees (an empty page where it may call none), with a cursor of
// its own (sealed for it) where the admin's page has one, so it walks all
// 13 pages; the SDK's iterator, which follows
// the cursors itself, yields exactly the 9 allowed tools. Both reply
// modes, checked on the wire.
func TestPaginatedListFiltered(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newPagedBackend(t, mode)
			startCaddy(t, pagedSite(b.Addr))
			alice := mustConnect(t, connectOpts{token: aliceToken})
			bob := mustConnect(t, connectOpts{token: bobToken})

			all := alice.listPages(t)
			if want := (pagedTools + pagedPageSize - 1) / pagedPageSize; len(all) != want {
				t.Fatalf("admin walked %d pages, want %d: the backend did not paginate as configured", len(all), want)
			}
			var allNames []string
			for _, p := range all {
				allNames = append(allNames, p.tools...)
			}
			if len(allNames) != pagedTools {
				t.Fatalf("admin saw %d tools over all pages, want %d: %v", len(allNames), pagedTools, allNames)
			}

			mine := bob.listPages(t)
			if len(mine) != len(all) {
				t.Fatalf("reader walked %d pages, admin %d", len(mine), len(all))
			}
			empty := 0
			var wantAllowed []string
			for i, p := range all {
				want := slices.DeleteFunc(slices.Clone(p.tools), func(n string) bool { return !strings.HasSuffix(n, "-r") })
				wantAllowed = append(wantAllowed, want...)
				if len(want) == 0 {
					empty++
				}
				if !slices.Equal(mine[i].tools, want) {
					t.Errorf("page %d: reader sees %v, want %v (admin sees %v)", i+1, mine[i].tools, want, p.tools)
				}
				// Cursors are sealed for their caller: each caller's page
				// ends with a cursor exactly when the admin's does, and it
				// is never the other caller's.
				if (mine[i].nextCursor == "") != (p.nextCursor == "") || (p.nextCursor != "" && mine[i].nextCursor == p.nextCursor) {
					t.Errorf("page %d: reader's nextCursor %q, admin's %q: the cursor was not kept, or not sealed per caller", i+1, mine[i].nextCursor, p.nextCursor)
				}
			}
			if empty == 0 {
				t.Error("no page was empty for the reader: the test does not cover a filtered-out page")
			}
			if len(wantAllowed) != 9 {
				t.Fatalf("want 9 allowed tools in the catalog, got %v", wantAllowed)
			}

			// The SDK's own pagination.
			var iterated []string
			for tool, err := range bob.Tools(ctxT(t), nil) {
				if err != nil {
					t.Fatalf("Tools iterator: %v", err)
				}
				iterated = append(iterated, tool.Name)
			}
			if !slices.Equal(iterated, wantAllowed) {
				t.Errorf("the SDK iterator yields %v, want %v", iterated, wantAllowed)
			}

			// Every list reply (the pages walked by hand, then by the
			// iterator) took the path of this mode: JSON replies are read
			// whole by the gateway, SSE replies event by event.
			bob.assertListReplyFormat(t, mode, 2*len(mine))

			// A hidden tool stays uncallable, and an allowed one works.
			assertDeniedNotForwarded(t, b, bob, "tools/call", "tool-01", func() error {
				_, err := bob.CallTool(ctxT(t), &mcp.CallToolParams{Name: "tool-01", Arguments: map[string]any{}})
				return err
			})
			if got := bob.callText(t, "tool-24-r", nil); got != "tool-24-r" {
				t.Errorf("tool-24-r = %q", got)
			}
			b.assertNoAuthorization(t)
		})
	}
}

// assertListReplyFormat checks that the tools/list requests of the session
// (want of them) were answered as application/json in JSON mode and as an
// event stream in SSE mode.
func (s *session) assertListReplyFormat(t *testing.T, mode backendMode, want int) {
	t.Helper()
	s.wire.mu.Lock()
	defer s.wire.mu.Unlock()
	n := 0
	for _, ex := range s.wire.exchanges {
		if !strings.Contains(string(ex.request), `"tools/list"`) {
			continue
		}
		n++
		if ex.status != http.StatusOK {
			t.Errorf("tools/list answered %d", ex.status)
		}
		if gotJSON := ex.response != nil; gotJSON != mode.json {
			t.Errorf("%s mode: a tools/list reply was application/json = %v", mode.name, gotJSON)
		}
	}
	if n != want {
		t.Errorf("%d tools/list exchanges on the wire, want %d", n, want)
	}
}
