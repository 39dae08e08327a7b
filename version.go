package mcpauth

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/caddyserver/caddy/v2"
)

// Version is the version of caddy-mcp-auth: `caddy mcp-auth version`
// prints it, and every handler logs it when it is provisioned.
// CHANGELOG.md lists what each version changed.
const Version = "0.1.0-dev"

// modulePath is the Go module of caddy-mcp-auth.
const modulePath = "github.com/caddy-mcp-auth/caddy-mcp-auth"

// cmdVersion prints the version, the Go module version it was built
// from when the build records one, and the Caddy and Go it was built
// with.
func cmdVersion(out io.Writer) error {
	line := "caddy-mcp-auth " + Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path != modulePath {
				continue
			}
			v := dep.Version
			if dep.Replace != nil {
				v += " => " + dep.Replace.Path
				if dep.Replace.Version != "" {
					v += " " + dep.Replace.Version
				}
			}
			line += " (module " + v + ")"
		}
	}
	caddyVersion, _ := caddy.Version()
	_, err := fmt.Fprintf(out, "%s\nCaddy %s, %s\n", line, caddyVersion, runtime.Version())
	return err
}
