package testcaddy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestStatusWriterReportsTheFirstStatusOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"WriteHeader then Write", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "x")
		}, http.StatusAccepted},
		{"Write alone", func(w http.ResponseWriter) { _, _ = io.WriteString(w, "x") }, http.StatusOK},
		{"two WriteHeaders", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusOK)
		}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var got []int
			tc.write(&StatusWriter{ResponseWriter: rec, OnStatus: func(code int) { got = append(got, code) }})
			if !slices.Equal(got, []int{tc.want}) {
				t.Errorf("OnStatus saw %v, want [%d]", got, tc.want)
			}
			if rec.Code != tc.want {
				t.Errorf("the wrapped writer got status %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestStatusWriterFlushesAndUnwraps(t *testing.T) {
	rec := httptest.NewRecorder()
	w := &StatusWriter{ResponseWriter: rec, OnStatus: func(int) {}}
	w.Flush()
	if !rec.Flushed {
		t.Error("Flush did not reach the wrapped writer")
	}
	rec2 := httptest.NewRecorder()
	if err := http.NewResponseController(&StatusWriter{ResponseWriter: rec2, OnStatus: func(int) {}}).Flush(); err != nil || !rec2.Flushed {
		t.Errorf("http.ResponseController did not flush through Unwrap: %v", err)
	}
}

type recordTripper struct{ got *http.Request }

func (r *recordTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = req
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

func TestBearerSetsTheTokenOnACopy(t *testing.T) {
	rt := &recordTripper{}
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/mcp", nil)
	req.Header.Set("Authorization", "Basic old")
	resp, err := Bearer{Token: "tok", Base: rt}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rt.got.Header.Get("Authorization"); got != "Bearer tok" {
		t.Errorf("sent Authorization %q, want %q", got, "Bearer tok")
	}
	if got := req.Header.Get("Authorization"); got != "Basic old" {
		t.Errorf("the caller's request was changed: Authorization %q", got)
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abc", 5, "abc"},
		{"abcdef", 2, "…ef"},
	} {
		if got := Tail(tc.s, tc.n); got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			_, _ = b.Write([]byte("x"))
		}
	}()
	for i := 0; i < 100; i++ {
		_, _ = b.Write([]byte("y"))
		_ = b.String()
	}
	<-done
	if s := b.String(); len(s) != 200 || strings.Count(s, "x") != 100 {
		t.Errorf("SyncBuffer holds %d bytes (%d x), want 200 (100 x)", len(s), strings.Count(s, "x"))
	}
}
