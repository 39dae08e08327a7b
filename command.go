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
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mcp-auth",
		Usage: "hash-token | new-token | explain | test | version",
		Short: "Tools for mcp_auth tokens and policies",
		Long: `
Tools for the tokens and the policy of the mcp_auth handler.

  caddy mcp-auth hash-token
      Reads a token from standard input (one line) and prints its
      sha256:<hex> form, for the <secret> of a token line.

  caddy mcp-auth new-token
      Prints a fresh random 256-bit token (base64url) and, on the next
      line, its sha256:<hex> form. Give the token to the caller; put the
      hash in the Caddyfile.

  caddy mcp-auth explain --config Caddyfile --token-name <name> --method tools/call --target <tool> [--json]
      Prints whether the caller may make the call and the rule that
      decides, without starting a server; --roles <a,b> or --claims <json>
      name the caller instead of a token. Token secrets are not needed.
      Exits 0 on allow, 1 on deny (or a request that would be refused
      outright), 2 on an error.

  caddy mcp-auth test [--config Caddyfile] <tests.json>
      Runs a file of policy test cases (caller, method, target, the
      decision wanted) against the config and prints each mismatch.
      Exits 0 when every case passes, 1 when one fails, 2 on an error.

  caddy mcp-auth version
      Prints the version of caddy-mcp-auth.
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
			cmd.AddCommand(&cobra.Command{
				Use:   "new-token",
				Short: "Prints a new random token and its sha256: digest",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					return cmdNewToken(c.OutOrStdout())
				},
			})
			explain := &cobra.Command{
				Use:   "explain --config <file> (--token-name <name> | --roles <role,...> | --claims <json>) --method <method> [--target <target>] [--json]",
				Short: "Prints whether a caller may make a call, and the rule that decides",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					f := c.Flags()
					str := func(name string) string { v, _ := f.GetString(name); return v }
					asJSON, _ := f.GetBool("json")
					handler, _ := f.GetInt("handler")
					var who caller
					who.Token = str("token-name")
					if f.Changed("roles") {
						who.Roles, _ = f.GetStringSlice("roles")
					}
					if f.Changed("claims") {
						if err := json.Unmarshal([]byte(str("claims")), &who.Claims); err != nil || who.Claims == nil {
							return exitWith(c, 2, fmt.Errorf("--claims: want a JSON object: %v", err))
						}
					}
					a := Action{Method: str("method"), Target: str("target"), HasTarget: f.Changed("target"), Ref: str("ref")}
					code, err := cmdExplain(c.OutOrStdout(), str("config"), str("adapter"), handler, who, a, asJSON)
					return exitWith(c, code, err)
				},
			}
			explain.Flags().StringP("config", "c", "Caddyfile", "The config file")
			explain.Flags().StringP("adapter", "a", "", "The config adapter (default: json for a .json file, else caddyfile)")
			explain.Flags().String("token-name", "", "The token's public name")
			explain.Flags().StringSlice("roles", nil, "The caller's roles, instead of a token")
			explain.Flags().String("claims", "", "The claims of an OAuth access token (JSON), instead of a token")
			explain.Flags().Int("handler", 0, "Which mcp_auth handler of the config (1-based; default: the first with the token, or the only one)")
			explain.Flags().String("method", "", "The JSON-RPC method, e.g. tools/call")
			explain.Flags().String("target", "", "The tool or prompt name, or the resource URI")
			explain.Flags().String("ref", "", "For completion/complete: ref/prompt or ref/resource")
			explain.Flags().Bool("json", false, "Print the decision as JSON")
			cmd.AddCommand(explain)
			test := &cobra.Command{
				Use:   "test [--config <file>] <tests.json>",
				Short: "Runs policy test cases against a config; exits 1 when one fails",
				Args:  cobra.ExactArgs(1),
				RunE: func(c *cobra.Command, args []string) error {
					f := c.Flags()
					config, _ := f.GetString("config")
					adapter, _ := f.GetString("adapter")
					verbose, _ := f.GetBool("verbose")
					failed, err := runPolicyTests(c.OutOrStdout(), args[0], config, adapter, verbose)
					code := 0
					if failed > 0 {
						code = 1
					}
					return exitWith(c, code, err)
				},
			}
			test.Flags().StringP("config", "c", "", "The config file (default: the test file's \"config\")")
			test.Flags().StringP("adapter", "a", "", "The config adapter (default: json for a .json file, else caddyfile)")
			test.Flags().BoolP("verbose", "v", false, "Print passing cases too")
			cmd.AddCommand(test)
			cmd.AddCommand(&cobra.Command{
				Use:   "version",
				Short: "Prints the version of caddy-mcp-auth",
				Args:  cobra.NoArgs,
				RunE: func(c *cobra.Command, _ []string) error {
					return cmdVersion(c.OutOrStdout())
				},
			})
		},
	})
}

// exitWith ends a command that has an exit status of its own: 0, 1 (a
// deny, a failed case), or 2 for an error, printed first.
func exitWith(c *cobra.Command, code int, err error) error {
	if err != nil {
		fmt.Fprintf(c.ErrOrStderr(), "Error: %v\n", err)
		code = 2
	}
	if code != 0 {
		os.Exit(code)
	}
	return nil
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

// cmdExplain judges one action for a caller of a config, as the running
// handler would, and prints the decision and the deciding rule. It
// returns the exit status: 0 allow, 1 deny or refused.
func cmdExplain(out io.Writer, configPath, adapter string, handler int, who caller, a Action, asJSON bool) (int, error) {
	if who.kinds() != 1 || a.Method == "" {
		return 2, errors.New("--method and one of --token-name, --roles and --claims are required")
	}
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return 2, err
	}
	ps, err := loadPolicies(raw, adapterFor(adapter, configPath), configPath)
	if err != nil {
		return 2, err
	}
	r, err := pick(ps, handler, who)
	if err != nil {
		return 2, err
	}
	v, err := r.judge(a)
	if err != nil {
		return 2, err
	}
	if asJSON {
		b, _ := json.MarshalIndent(v, "", "  ")
		_, err = fmt.Fprintf(out, "%s\n", b)
	} else {
		where := ""
		if len(ps) > 1 {
			where = fmt.Sprintf(" (mcp_auth at %s)", v.Handler)
		}
		_, err = io.WriteString(out, v.text(where))
	}
	if err != nil {
		return 2, err
	}
	if v.Decision != "allow" {
		return 1, nil
	}
	return 0, nil
}
