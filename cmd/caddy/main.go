// Command caddy is Caddy with its standard modules plus mcp_auth, so that
// `go run ./cmd/caddy run --config Caddyfile` works from a checkout without xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// Caddy's standard modules, as in the official build.
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	// This module.
	_ "github.com/caddy-mcp-auth/caddy-mcp-auth"
)

func main() {
	caddycmd.Main()
}
