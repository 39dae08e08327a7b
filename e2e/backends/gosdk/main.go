// Command gosdk is the Go SDK backend of the differential suite
// (e2e/test/differential.test.mjs): the official Go SDK's
// (github.com/modelcontextprotocol/go-sdk, the version of go.mod)
// stateless Streamable HTTP handler at /mcp, with the tools and resources
// of the suite's Node backends (e2e/backends/common.mjs) and the same
// execution record, served as JSON at GET /record on a second loopback
// port. Cleartext HTTP/2 (h2c) is enabled beside HTTP/1.1, so that the
// suite can send it the HTTP/2 requests it sends through Caddy.
//
//	PORT=3001 RECORD_PORT=3002 SECRET=marker go run ./e2e/backends/gosdk
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// httpEntry is one HTTP request that reached the server (see common.mjs
// for the meaning of each field).
type httpEntry struct {
	Seq        int         `json:"seq"`
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	Case       *string     `json:"case"`
	Identity   [][2]string `json:"identity"`
	Connection *string     `json:"connection"`
	Upgrade    *string     `json:"upgrade"`
	BodyBytes  int64       `json:"bodyBytes"`
	BodySHA256 *string     `json:"bodySha256"`
	Trailers   [][2]string `json:"trailers"`
	Complete   bool        `json:"complete"`
}

// ranEntry is one tool run or resource read.
type ranEntry struct {
	Seq      int            `json:"seq"`
	Kind     string         `json:"kind"`
	Name     string         `json:"name,omitempty"`
	Args     map[string]any `json:"args,omitempty"`
	URI      string         `json:"uri,omitempty"`
	Template *string        `json:"template,omitempty"`
	Secret   bool           `json:"secret"`
	User     *string        `json:"user"`
	Roles    *string        `json:"roles"`
	Case     *string        `json:"case"`
}

type recorder struct {
	mu   sync.Mutex
	HTTP []*httpEntry `json:"http"`
	Ran  []*ranEntry  `json:"ran"`
}

var rec = recorder{HTTP: []*httpEntry{}, Ran: []*ranEntry{}}

// watched reports whether a header name is one the oracle watches: the
// identity the gateway sets, and the credential it strips, in any
// spelling a CGI-style server reads alike.
func watched(name string) bool {
	switch strings.ReplaceAll(strings.ToLower(name), "_", "-") {
	case "x-mcp-user", "x-mcp-roles", "authorization":
		return true
	}
	return false
}

// shown is how a header value is recorded: a credential only as present.
func shown(name, value string) string {
	if strings.EqualFold(name, "authorization") {
		return "<present>"
	}
	return value
}

func optional(h http.Header, key string) *string {
	if vs := h.Values(key); len(vs) > 0 {
		v := strings.Join(vs, ", ")
		return &v
	}
	return nil
}

// tappedBody counts and hashes the body as the SDK reads it, and notes the
// trailers once it has reached EOF (net/http fills r.Trailer then).
type tappedBody struct {
	io.ReadCloser
	r     *http.Request
	entry *httpEntry
	hash  hash.Hash
	done  bool
}

func (b *tappedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.hash.Write(p[:n])
	rec.mu.Lock()
	defer rec.mu.Unlock()
	b.entry.BodyBytes += int64(n)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		sum := hex.EncodeToString(b.hash.Sum(nil))
		b.entry.BodySHA256 = &sum
		for k, vs := range b.r.Trailer {
			for _, v := range vs {
				b.entry.Trailers = append(b.entry.Trailers, [2]string{strings.ToLower(k), shown(k, v)})
			}
		}
		b.entry.Complete = true
	}
	return n, err
}

// tap records every request as its head arrives; the body is recorded as
// it is read. A body nobody reads is drained after the handler, so that
// the record shows the bytes that arrived.
func tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &httpEntry{
			Method:     r.Method,
			URL:        r.URL.RequestURI(),
			Case:       optional(r.Header, "X-Diff-Case"),
			Identity:   [][2]string{},
			Connection: optional(r.Header, "Connection"),
			Upgrade:    optional(r.Header, "Upgrade"),
			Trailers:   [][2]string{},
		}
		for k, vs := range r.Header {
			if watched(k) {
				for _, v := range vs {
					e.Identity = append(e.Identity, [2]string{strings.ToLower(k), shown(k, v)})
				}
			}
		}
		rec.mu.Lock()
		e.Seq = len(rec.HTTP)
		rec.HTTP = append(rec.HTTP, e)
		rec.mu.Unlock()
		body := &tappedBody{ReadCloser: r.Body, r: r, entry: e, hash: sha256.New()}
		r.Body = body
		next.ServeHTTP(w, r)
		_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	})
}

func ran(e *ranEntry, h http.Header) {
	e.User = optional(h, "X-MCP-User")
	e.Roles = optional(h, "X-MCP-Roles")
	e.Case = optional(h, "X-Diff-Case")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	e.Seq = len(rec.Ran)
	rec.Ran = append(rec.Ran, e)
}

func serveRecord(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&rec)
}

type echoArgs struct {
	Text string `json:"text,omitempty"`
}

type deleteArgs struct {
	ID string `json:"id,omitempty"`
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func newServer(secret string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "diff-go-sdk", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(_ context.Context, req *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			ran(&ranEntry{Kind: "tool", Name: "echo", Args: map[string]any{"text": in.Text}}, req.Extra.Header)
			return text("echo: " + in.Text), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "delete_record", Description: "Deletes a record."},
		func(_ context.Context, req *mcp.CallToolRequest, in deleteArgs) (*mcp.CallToolResult, any, error) {
			ran(&ranEntry{Kind: "tool", Name: "delete_record", Args: map[string]any{"id": in.ID}}, req.Extra.Header)
			return text("deleted record " + in.ID), nil, nil
		})
	static := map[string]func(user string) string{
		"file:///docs/readme.txt": func(string) string { return "the public readme" },
		// A backend that trusts a missing identity (see common.mjs).
		"file:///docs/profile": func(user string) string {
			if user != "" {
				return "the profile of " + user
			}
			return "all profiles (internal caller): " + secret
		},
		"file:///private/secrets.txt":  func(string) string { return "the secrets: " + secret },
		"https://vault.example/secret": func(string) string { return "vault: " + secret },
		"https://vault.example/":       func(string) string { return "vault index: " + secret },
		"http://vault.example/secret":  func(string) string { return "plain vault: " + secret },
		"https://127.0.0.1/secret":     func(string) string { return "loopback vault: " + secret },
	}
	for uri, read := range static {
		s.AddResource(&mcp.Resource{URI: uri, Name: uri, MIMEType: "text/plain"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				t := read(req.Extra.Header.Get("X-MCP-User"))
				ran(&ranEntry{Kind: "resource", URI: req.Params.URI, Secret: strings.Contains(t, secret)}, req.Extra.Header)
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: t}}}, nil
			})
	}
	templates := map[string]func(id string) string{
		"file:///private/keys/{id}": func(id string) string { return "key " + id + ": " + secret },
		"file:///docs/notes/{id}":   func(id string) string { return "note " + id },
	}
	for tmpl, read := range templates {
		prefix := strings.TrimSuffix(tmpl, "{id}")
		s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: tmpl, Name: tmpl, MIMEType: "text/plain"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				t := read(strings.TrimPrefix(req.Params.URI, prefix))
				ran(&ranEntry{Kind: "resource", URI: req.Params.URI, Template: &tmpl, Secret: strings.Contains(t, secret)}, req.Extra.Header)
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: t}}}, nil
			})
	}
	return s
}

func main() {
	port, recordPort, secret := os.Getenv("PORT"), os.Getenv("RECORD_PORT"), os.Getenv("SECRET")
	if port == "" || recordPort == "" || secret == "" {
		log.Fatal("PORT, RECORD_PORT and SECRET must be set")
	}
	server := newServer(secret)
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true}))

	recordLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", recordPort))
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal(http.Serve(recordLn, http.HandlerFunc(serveRecord))) }()

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: net.JoinHostPort("127.0.0.1", port), Handler: tap(mux), Protocols: &protocols}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("gosdk listening on %s", srv.Addr)
	log.Fatal(srv.Serve(ln))
}
