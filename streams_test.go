package mcpauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestCleanupEndsGETStreams(t *testing.T) {
	m := newHandler(t, nil)
	opened := make(chan struct{})
	ended := make(chan error, 1)
	go func() {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+bobToken)
		caddyhttp.NewTestReplacer(req)
		ended <- m.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			close(opened)
			<-r.Context().Done() // a stream that runs until its request ends
			return nil
		}))
	}()
	<-opened
	select {
	case <-ended:
		t.Fatal("the stream ended on its own")
	default:
	}
	if err := m.Cleanup(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Cleanup did not end the open GET stream")
	}
	// A stream opened after Cleanup (a request still in flight on the old
	// config) ends at once.
	r, st := m.streams.track(httptest.NewRequest(http.MethodGet, "/mcp", nil), &principal{})
	defer m.streams.untrack(st)
	if r.Context().Err() == nil {
		t.Error("a stream opened after Cleanup stays open")
	}
}

func TestStreamEndsAtTokenExpiry(t *testing.T) {
	var s streamSet
	exp := time.Now().Add(50 * time.Millisecond)
	r, st := s.track(httptest.NewRequest(http.MethodGet, "/mcp", nil), &principal{exp: exp})
	if d, ok := r.Context().Deadline(); !ok || !d.Equal(exp) {
		t.Fatalf("deadline %v %v, want %v", d, ok, exp)
	}
	<-r.Context().Done()
	if r.Context().Err() != context.DeadlineExceeded {
		t.Errorf("err = %v", r.Context().Err())
	}
	if len(s.open) != 1 {
		t.Errorf("%d streams tracked", len(s.open))
	}
	s.untrack(st)
	if len(s.open) != 0 {
		t.Errorf("a finished stream stays tracked")
	}
}
