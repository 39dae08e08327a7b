// Package testcaddy runs real Caddy processes, built from ./cmd/caddy with
// mcp_auth, for the module's process-level tests (hostile/,
// integration/sessions/), and holds the small helpers those tests and the
// in-process integration tests share.
//
// A test package builds Caddy once, in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testcaddy.Run(m, "hostile")) }
//
// and each test starts its own process with [Start]: free loopback ports
// for HTTP and admin, its own temporary directories, stopped when the test
// ends. Set MCP_AUTH_CADDY_BIN to the absolute path of an already built
// Caddy (go build -o bin/caddy ./cmd/caddy) to skip the build.
//
// Everything here is loopback only, and every wait is bounded.
package testcaddy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BinEnv names the environment variable that, when set, is the absolute
// path of a Caddy binary built with mcp_auth, used instead of a fresh
// build.
const BinEnv = "MCP_AUTH_CADDY_BIN"

// mainPackage is the Caddy command with mcp_auth, by import path so that
// the build works from any package directory of the module.
const mainPackage = "github.com/caddy-mcp-auth/caddy-mcp-auth/cmd/caddy"

// moduleID is what `caddy list-modules` shows for mcp_auth.
const moduleID = "http.handlers.mcp_auth"

// bin is the Caddy binary of this test binary, set by Run.
var bin string

// Run builds Caddy with mcp_auth (or takes the one named by
// MCP_AUTH_CADDY_BIN), runs the tests, removes the build and returns the
// exit code for os.Exit. name prefixes its messages on stderr. A failed
// build fails the whole test binary: no test runs, none is skipped.
func Run(m *testing.M, name string) int {
	path, cleanup, err := build(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer cleanup()
	bin = path
	return m.Run()
}

// Bin returns the Caddy binary that Run built or took from
// MCP_AUTH_CADDY_BIN; it fails the test if Run was not called.
func Bin(t testing.TB) string {
	t.Helper()
	if bin == "" {
		t.Fatal("testcaddy: no Caddy binary: TestMain must call testcaddy.Run")
	}
	return bin
}

// build returns the Caddy binary to use and a function that removes what
// build made.
func build(name string) (string, func(), error) {
	if p := os.Getenv(BinEnv); p != "" {
		if err := checkBin(p); err != nil {
			return "", nil, fmt.Errorf("%s=%s: %w", BinEnv, p, err)
		}
		fmt.Fprintf(os.Stderr, "%s: using %s=%s\n", name, BinEnv, p)
		return p, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "mcp-auth-"+name+"-")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	path := filepath.Join(dir, "caddy")
	cmd := exec.Command("go", "build", "-o", path, mainPackage)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building Caddy with mcp_auth (go build ./cmd/caddy) failed, so every test here fails: %w", err)
	}
	fmt.Fprintf(os.Stderr, "%s: built %s in %s\n", name, path, time.Since(start).Round(time.Millisecond))
	return path, cleanup, nil
}

// checkBin makes sure p is an absolute path to a Caddy that has mcp_auth.
func checkBin(p string) error {
	if !filepath.IsAbs(p) {
		return errors.New("not an absolute path (tests run in their package's directory)")
	}
	out, err := exec.Command(p, "list-modules").CombinedOutput()
	if err != nil {
		return fmt.Errorf("caddy list-modules: %w\n%s", err, Tail(string(out), 2000))
	}
	if !bytes.Contains(out, []byte(moduleID)) {
		return fmt.Errorf("this Caddy has no %s module", moduleID)
	}
	return nil
}
