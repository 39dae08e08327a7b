package mcpauth

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mcp-auth",
		Usage: "hash-token | new-token",
		Short: "Tools for mcp_auth tokens",
		Long: `
Tools for the tokens of the mcp_auth handler.

  caddy mcp-auth hash-token
      Reads a token from standard input (one line) and prints its
      sha256:<hex> form, for the <secret> of a token line.

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
