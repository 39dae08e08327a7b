package mcpauth

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mcp-auth",
		Usage: "hash-token | new-token | explain",
		Short: "Tools for mcp_auth tokens",
		Long: `
Tools for the tokens of the mcp_auth handler.

  caddy mcp-auth hash-token
      Reads a token from standard input (one line) and prints its
      sha256:<hex> form, for the <secret> of a token line.

  caddy mcp-auth explain --config Caddyfile --token-name <name> --method tools/call --target <tool>
      Prints whether the token may make the call and the rule that
      decides, without starting a server. Token secrets are not needed.

  caddy mcp-auth new-token
      Prints a fresh random 256-bit token (base64url) and, on the next
      line, its sha256:<hex> form. Give the token to the caller; put the
      hash in the Caddyfile.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(&cobra.Command{
				Use:   "hash-token",
				Short: "Reads a token from stdin and prints its sha256: digest",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					return cmdHashToken(c.InOrStdin(), c.OutOrStdout())
				},
			})
			explain := &cobra.Command{
				Use:   "explain --config <Caddyfile> --token-name <name> --method <method> [--target <target>]",
				Short: "Prints whether a token may make a call, and the rule that decides",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					f := c.Flags()
					config, _ := f.GetString("config")
					adapter, _ := f.GetString("adapter")
					name, _ := f.GetString("token-name")
					method, _ := f.GetString("method")
					target, _ := f.GetString("target")
					raw, err := os.ReadFile(config)
					if err != nil {
						return err
					}
					return cmdExplain(c.OutOrStdout(), raw, adapter, name, Action{Method: method, Target: target, HasTarget: f.Changed("target")})
				},
			}
			explain.Flags().StringP("config", "c", "Caddyfile", "The config file")
			explain.Flags().StringP("adapter", "a", "caddyfile", "The config adapter (json for a JSON config)")
			explain.Flags().String("token-name", "", "The token's public name")
			explain.Flags().String("method", "", "The JSON-RPC method, e.g. tools/call")
			explain.Flags().String("target", "", "The tool or prompt name, or the resource URI")
			cmd.AddCommand(explain)
			cmd.AddCommand(&cobra.Command{
				Use:   "new-token",
				Short: "Prints a new random token and its sha256: digest",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					return cmdNewToken(c.OutOrStdout())
				},
			})
		},
	})
}

func cmdHashToken(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(in, 1<<16)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	tok := strings.TrimRight(line, "\r\n")
	if tok == "" {
		return errors.New("no token on standard input")
	}
	if _, st := parseCredential([]string{tok}, false); st != credOK || strings.ContainsAny(tok, " \t") {
		return errors.New("a token is printable ASCII without white space")
	}
	_, err = fmt.Fprintln(out, hashToken(tok))
	return err
}

func cmdNewToken(out io.Writer) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	_, err := fmt.Fprintf(out, "%s\n%s\n", tok, hashToken(tok))
	return err
}

// cmdExplain judges one action for a named token of a config, as the
// running handler would, and prints the decision and the deciding rule.
func cmdExplain(out io.Writer, raw []byte, adapter, tokenName string, a Action) error {
	if tokenName == "" || a.Method == "" {
		return errors.New("--token-name and --method are required")
	}
	cfg := raw
	if adapter != "json" {
		ad := caddyconfig.GetAdapter(adapter)
		if ad == nil {
			return fmt.Errorf("unknown config adapter %q", adapter)
		}
		var err error
		if cfg, _, err = ad.Adapt(raw, nil); err != nil {
			return err
		}
	}
	var tree any
	if err := json.Unmarshal(cfg, &tree); err != nil {
		return err
	}
	var handlers []json.RawMessage
	findHandlers(tree, &handlers)
	if len(handlers) == 0 {
		return errors.New("no mcp_auth handler in the config")
	}
	for i, h := range handlers {
		var m MCPAuth
		if err := json.Unmarshal(h, &m); err != nil {
			return err
		}
		roles, err := compileRoles(m.Roles)
		if err != nil {
			return err
		}
		tokens, err := collectTokens(m.Tokens, m.TokenFiles)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			if t.Name != tokenName {
				continue
			}
			var held []*compiledRole
			for _, rn := range t.Roles {
				cr, ok := roles[rn]
				if !ok {
					return fmt.Errorf("token %q: unknown role %q", t.Name, rn)
				}
				held = append(held, cr)
			}
			where := ""
			if len(handlers) > 1 {
				where = fmt.Sprintf(" (mcp_auth handler %d of %d)", i+1, len(handlers))
			}
			what := a.Method
			if a.HasTarget {
				what += " " + wire.Quote(a.Target)
				if mi, ok := wire.Lookup(a.Method); ok && mi.Target == wire.TargetURI {
					if why := wire.ShortURIProblem(a.Target); why != "" {
						_, err := fmt.Fprintf(out, "refused (400): resource URI %s%s\n", why, where)
						return err
					}
				}
			}
			d := decide(held, a)
			verdict := "deny"
			if d.Allowed {
				verdict = "allow"
			}
			_, err := fmt.Fprintf(out, "%s: %s for token %q (roles %s)%s\n  decided by: %s\n",
				verdict, what, t.Name, strings.Join(t.Roles, ","), where, d.Reason())
			return err
		}
	}
	return fmt.Errorf("no token named %q in the config", tokenName)
}

// findHandlers collects every object with "handler": "mcp_auth".
func findHandlers(v any, out *[]json.RawMessage) {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "mcp_auth" {
			b, _ := json.Marshal(x)
			*out = append(*out, b)
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			findHandlers(x[k], out)
		}
	case []any:
		for _, e := range x {
			findHandlers(e, out)
		}
	}
}
