package testcaddy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options says how to start a Caddy process.
type Options struct {
	// Name names the process in messages (such as "A" when a test runs
	// two). Default: none.
	Name string
	// Global holds global options, one a line, each indented by a tab. The
	// Caddyfile always begins with admin on the process's admin address,
	// persist_config off and auto_https off; Global follows them. {PORT}
	// stands for the HTTP port.
	Global string
	// Sites holds the site blocks; {PORT} stands for the HTTP port.
	Sites string
	// Env is extra environment (NAME=value) for the process, after PATH,
	// HOME, XDG_CONFIG_HOME and XDG_DATA_HOME.
	Env []string
	// DataHome is XDG_DATA_HOME; Caddy's default storage is
	// $XDG_DATA_HOME/caddy, so two processes given the same one share it.
	// Default: a directory of the process's own.
	DataHome string
	// Ready reports whether the process is up; Start polls it every 50 ms
	// until it returns nil. Default: the admin endpoint answers GET
	// /config/ and the HTTP port accepts a TCP connection.
	Ready func(*Caddy) error
	// ReadyTimeout bounds the wait for Ready. Default: 30 s.
	ReadyTimeout time.Duration
	// StopTimeout is how long Stop waits for the process to exit after
	// SIGINT before it kills it. Default: 15 s.
	StopTimeout time.Duration
	// LogSlowStop makes a process that had to be killed a line in the test
	// log; without it, the kill fails the test.
	LogSlowStop bool
	// FailOnPanic makes Stop fail the test if the process's output
	// mentions a panic.
	FailOnPanic bool
}

// Caddy is a running Caddy process, started by Start with free loopback
// ports for HTTP and admin and temporary HOME, XDG_CONFIG_HOME and
// XDG_DATA_HOME directories.
type Caddy struct {
	t        testing.TB
	opts     Options
	cmd      *exec.Cmd
	dir      string
	cfgPath  string
	port     int    // HTTP
	admin    string // host:port of the admin endpoint
	out      *SyncBuffer
	exited   chan struct{}
	exitErr  error // set before exited is closed
	stopOnce sync.Once
}

// Start runs `caddy run` with the Caddyfile of o and waits until o.Ready
// holds; the process is stopped when the test ends, and its output is
// logged if the test failed. Any failure to start fails the test.
func Start(t testing.TB, o Options) *Caddy {
	t.Helper()
	if o.Ready == nil {
		o.Ready = listening
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 15 * time.Second
	}
	dir := t.TempDir()
	if o.DataHome == "" {
		o.DataHome = filepath.Join(dir, "data")
	}
	c := &Caddy{
		t:       t,
		opts:    o,
		dir:     dir,
		cfgPath: filepath.Join(dir, "Caddyfile"),
		port:    FreePort(t),
		admin:   fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
		out:     &SyncBuffer{},
		exited:  make(chan struct{}),
	}
	if err := c.writeConfig(o.Sites); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(Bin(t), "run", "--config", c.cfgPath, "--adapter", "caddyfile")
	c.cmd.Dir = dir
	c.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + o.DataHome,
	}, o.Env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%sstarting %s: %v", c.prefix(), c.cmd.Path, err)
	}
	go func() {
		c.exitErr = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("%sCaddy's output:\n%s", c.prefix(), Tail(c.out.String(), 8000))
		}
	})

	deadline := time.Now().Add(o.ReadyTimeout)
	for {
		select {
		case <-c.exited:
			t.Fatalf("%sCaddy exited at start (%v):\n%s", c.prefix(), c.exitErr, c.out.String())
		default:
		}
		err := o.Ready(c)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%sCaddy did not come up within %v (last: %v):\n%s", c.prefix(), o.ReadyTimeout, err, c.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listening is the default Ready: the admin endpoint answers and the HTTP
// port accepts a connection.
func listening(c *Caddy) error {
	resp, err := http.Get("http://" + c.admin + "/config/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	conn, err := net.DialTimeout("tcp", c.Addr(), time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

func (c *Caddy) prefix() string {
	if c.opts.Name == "" {
		return ""
	}
	return c.opts.Name + ": "
}

// Name is Options.Name.
func (c *Caddy) Name() string { return c.opts.Name }

// Port is the HTTP port that {PORT} stands for.
func (c *Caddy) Port() int { return c.port }

// Addr is 127.0.0.1:<HTTP port>.
func (c *Caddy) Addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// Base is the HTTP origin, http://127.0.0.1:<HTTP port>.
func (c *Caddy) Base() string { return "http://" + c.Addr() }

// Admin is the host:port of the admin endpoint.
func (c *Caddy) Admin() string { return c.admin }

// DataHome is the process's XDG_DATA_HOME (its storage is below it, in
// caddy/).
func (c *Caddy) DataHome() string { return c.opts.DataHome }

// Output is everything the process wrote to stdout and stderr so far.
func (c *Caddy) Output() string { return c.out.String() }

// caddyfile is the whole Caddyfile for the site blocks.
func (c *Caddy) caddyfile(sites string) string {
	cfg := fmt.Sprintf("{\n\tadmin %s\n\tpersist_config off\n\tauto_https off\n%s}\n", c.admin, c.opts.Global) + sites
	return strings.ReplaceAll(cfg, "{PORT}", strconv.Itoa(c.port))
}

func (c *Caddy) writeConfig(sites string) error {
	return os.WriteFile(c.cfgPath, []byte(c.caddyfile(sites)), 0o600)
}

// Reload loads new site blocks (with the same global options) through the
// admin API: POST /load with the Caddyfile adapter, as `caddy reload`
// does, bounded at 30 s. force makes Caddy reload even when the adapted
// JSON did not change (`caddy reload --force`). Caddy answers once the new
// config runs; for a moment after that, the old server may still accept a
// new connection and close it unanswered (see Settle).
func (c *Caddy) Reload(sites string, force bool) error {
	cfg := c.caddyfile(sites)
	if err := os.WriteFile(c.cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+c.admin+"/load", strings.NewReader(cfg))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	if force {
		req.Header.Set("Cache-Control", "must-revalidate")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /load: %d %s", resp.StatusCode, body)
	}
	return nil
}

// Settle waits, after a reload, until the new config's server alone
// accepts connections, by POSTing {} to url (each time on a new
// connection) until it answers want five times in a row; any other status
// fails the test.
//
// Caddy hands the listening socket from the old server to the new one;
// for a moment after the reload returns, the old server, shutting down,
// may still accept a connection and then close it unanswered (seen as EOF
// on a new connection, about once in 40 runs under load: a Caddy/net/http
// handover race, not mcp_auth's). A transport error starts the count
// again and is logged; the wait is bounded at 10 s.
func (c *Caddy) Settle(t testing.TB, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	ok, failures := 0, 0
	for ok < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%sthe site did not answer 5 requests in a row within 10s of the reload (%d transport errors)", c.prefix(), failures)
		}
		resp, err := NoKeepAliveClient().Post(url, "application/json", strings.NewReader(`{}`))
		if err != nil {
			failures++
			ok = 0
			t.Logf("%sright after the reload: %v", c.prefix(), err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%sPOST %s after the reload: status %d, want %d", c.prefix(), url, resp.StatusCode, want)
		}
		ok++
	}
}

// Stop ends the process: SIGINT (Caddy's graceful stop, as POST /stop),
// then, if it has not exited within Options.StopTimeout, SIGKILL to this
// process only. It runs once; later calls return at once. See
// Options.LogSlowStop and Options.FailOnPanic for what fails the test.
func (c *Caddy) Stop() {
	c.t.Helper()
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.exited:
		case <-time.After(c.opts.StopTimeout):
			_ = c.cmd.Process.Kill()
			<-c.exited
			if c.opts.LogSlowStop {
				c.t.Logf("%sCaddy did not stop within %v of SIGINT; killed pid %d", c.prefix(), c.opts.StopTimeout, c.cmd.Process.Pid)
			} else {
				c.t.Errorf("%sCaddy did not stop within %v of SIGINT", c.prefix(), c.opts.StopTimeout)
			}
		}
		if out := c.out.String(); c.opts.FailOnPanic && strings.Contains(strings.ToLower(out), "panic") {
			c.t.Errorf("%sCaddy's output mentions a panic:\n%s", c.prefix(), Tail(out, 8000))
		}
	})
}

var goroutineTotal = regexp.MustCompile(`goroutine profile: total (\d+)`)

// Goroutines reads the process's goroutine count from the admin
// endpoint's /debug/pprof/goroutine?debug=1, and the profile itself.
func (c *Caddy) Goroutines() (int, string, error) {
	resp, err := http.Get("http://" + c.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	m := goroutineTotal.FindSubmatch(b)
	if m == nil {
		return 0, "", fmt.Errorf("no goroutine total in %q", Tail(string(b), 200))
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n, string(b), nil
}
