package integration

import (
	"strings"
	"testing"
)

// TestProgressThroughFilteredStreamForReader: TestProgressStreamsThroughCaddy
// for a caller whose lists are filtered (the reader, here also allowed
// slow_count): the same writer that rewrites its list replies event by
// event passes progress events on as they come, before the tool finishes;
// a tools/list on the same session is filtered before and after.
func TestProgressThroughFilteredStreamForReader(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newBackend(t, mode)
			site := strings.Replace(plainSite(b.Addr), "allow tools/call echo get_*", "allow tools/call echo get_* slow_count", 1)
			if site == plainSite(b.Addr) {
				t.Fatal("the reader's tools/call rule was not found in plainSite")
			}
			startCaddy(t, site)
			s := mustConnect(t, connectOpts{token: bobToken})
			waitForStream(t, b, s.ID())
			want := catalog{
				tools:     []string{"echo", "get_time", "slow_count"},
				resources: []string{"file:///docs/readme.md"},
				prompts:   []string{"summarize"},
			}
			s.assertLists(t, want)
			runProgress(t, b, s)
			s.assertLists(t, want)
			if n := b.calls("slow_count"); n != 1 {
				t.Errorf("slow_count ran %d time(s), want 1", n)
			}
			b.assertNoAuthorization(t)
		})
	}
}
