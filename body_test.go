package mcpauth

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestPooledBody(t *testing.T) {
	pb, err := readBody(strings.NewReader("hello"), 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	if string(pb.bytes()) != "hello" {
		t.Fatalf("bytes %q", pb.bytes())
	}
	got, _ := io.ReadAll(pb)
	if string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	_ = pb.Close()
	_ = pb.Close() // twice is harmless
	if n, err := pb.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Errorf("read after close: %d %v", n, err)
	}
	if _, err := readBody(strings.NewReader(strings.Repeat("x", 11)), -1, 10); !errors.Is(err, errTooLarge) {
		t.Errorf("11 bytes with limit 10: %v", err)
	}
	if pb, err := readBody(strings.NewReader(strings.Repeat("x", 10)), -1, 10); err != nil || len(pb.bytes()) != 10 {
		t.Errorf("10 bytes with limit 10: %v", err)
	}
}

// TestPooledBodyCloseDuringRead: the transport may read a request body
// after RoundTrip returns while the server closes it; with -race this
// proves Close and Read do not race, and a read after Close sees EOF, never
// another request's bytes.
func TestPooledBodyCloseDuringRead(t *testing.T) {
	for i := 0; i < 200; i++ {
		pb, err := readBody(strings.NewReader(strings.Repeat("a", 4096)), 4096, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for {
				n, err := pb.Read(buf)
				if strings.Trim(string(buf[:n]), "a") != "" {
					t.Errorf("read foreign bytes %q", buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			_ = pb.Close()
			// Reuse the pooled buffer for another body at once.
			other, _ := readBody(strings.NewReader(strings.Repeat("b", 4096)), 4096, 1<<20)
			_ = other.Close()
		}()
		wg.Wait()
	}
}
