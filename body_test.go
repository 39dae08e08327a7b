package mcpauth

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// testAccount charges a roomy budget of its own.
func testAccount() account {
	return account{b: &budget{total: 1 << 30, share: 1 << 30, by: map[string]int64{}}, p: "t"}
}

func TestPooledBody(t *testing.T) {
	pb, err := readBody(strings.NewReader("hello"), 10, testAccount())
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
	if _, err := readBody(strings.NewReader(strings.Repeat("x", 11)), 10, testAccount()); !errors.Is(err, errTooLarge) {
		t.Errorf("11 bytes with limit 10: %v", err)
	}
	if pb, err := readBody(strings.NewReader(strings.Repeat("x", 10)), 10, testAccount()); err != nil || len(pb.bytes()) != 10 {
		t.Errorf("10 bytes with limit 10: %v", err)
	}
}

// TestPooledBodyCloseDuringRead: the transport may read a request body
// after RoundTrip returns while the server closes it; with -race this
// proves Close and Read do not race, and a read after Close sees EOF, never
// another request's bytes.
func TestPooledBodyCloseDuringRead(t *testing.T) {
	for i := 0; i < 200; i++ {
		pb, err := readBody(strings.NewReader(strings.Repeat("a", 4096)), 1<<20, testAccount())
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
			other, _ := readBody(strings.NewReader(strings.Repeat("b", 4096)), 1<<20, testAccount())
			_ = other.Close()
		}()
		wg.Wait()
	}
}

// TestBodyChargedToBudget: a body takes its bytes from the budget as it
// grows, never from a declared length, and gives them back at Close; a
// budget that cannot hold it refuses it.
func TestBodyChargedToBudget(t *testing.T) {
	b := &budget{total: 64 << 10, share: 64 << 10, by: map[string]int64{}}
	pb, err := readBody(strings.NewReader(strings.Repeat("x", 20000)), 1<<20, account{b: b, p: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if used := b.used.Load(); used < 20000 || used > 64<<10 {
		t.Errorf("a 20,000-byte body holds %d bytes of the budget", used)
	}
	_ = pb.Close()
	if used := b.used.Load(); used != 0 || len(b.by) != 0 {
		t.Errorf("after Close the budget still holds %d bytes (%v)", used, b.by)
	}
	if _, err := readBody(strings.NewReader(strings.Repeat("x", 100000)), 1<<20, account{b: b, p: "alice"}); !errors.Is(err, errBudget) {
		t.Errorf("a body larger than the budget: %v", err)
	}
	if used := b.used.Load(); used != 0 {
		t.Errorf("a refused body left %d bytes charged", used)
	}
	// A per-principal share: one caller cannot take all of it.
	shared := &budget{total: 1 << 20, share: 16 << 10, by: map[string]int64{}}
	if _, err := readBody(strings.NewReader(strings.Repeat("x", 20000)), 1<<20, account{b: shared, p: "bob"}); !errors.Is(err, errBudget) {
		t.Errorf("a body over the caller's share: %v", err)
	}
	if pb, err := readBody(strings.NewReader(strings.Repeat("x", 1000)), 1<<20, account{b: shared, p: "carol"}); err != nil {
		t.Errorf("another caller: %v", err)
	} else {
		_ = pb.Close()
	}
}
