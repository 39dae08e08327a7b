package mcpauth

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"
)

// digestOf hashes a presented token, reading the string's bytes in place
// (sha256 neither keeps nor changes them), so the hash costs no
// allocation whatever the token's length: an access token is often
// longer than a stack buffer would be.
func digestOf(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// maxTokenFile bounds what is read of a token file.
const maxTokenFile = 64 << 20

// readTokenFile reads "<name> <secret> <role...>" lines, and the line
// number of each token. Errors name the file and line, never a secret.
func readTokenFile(path string) ([]Token, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("token file %s: %v", path, errWithoutPath(err))
	}
	defer f.Close()
	toks, lines, err := parseTokenFile(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return nil, nil, fmt.Errorf("token file %s:%v", path, err)
	}
	return toks, lines, nil
}

// errWithoutPath strips the *PathError wrapper, whose path is already named.
func errWithoutPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// parseTokenFile parses a token file's text. An error starts with the line
// number ("12: …").
func parseTokenFile(r io.Reader) ([]Token, []int, error) {
	var toks []Token
	var lines []int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		text = stripComment(text)
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 3 {
			return nil, nil, fmt.Errorf("%d: want \"<name> <secret> <role...>\", got %d field(s)", line, len(fields))
		}
		if isRuntimeSecret(fields[1]) {
			return nil, nil, fmt.Errorf("%d: token %q: placeholders are not expanded in token files", line, fields[0])
		}
		if _, err := secretDigest(fields[1]); err != nil {
			return nil, nil, fmt.Errorf("%d: token %q: %v", line, fields[0], err)
		}
		toks = append(toks, Token{Name: fields[0], Secret: fields[1], Roles: fields[2:]})
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%d: %v", line+1, err)
	}
	return toks, lines, nil
}

// stripComment removes a '#' comment that starts the line or follows white
// space; a '#' inside a secret is kept.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// tokenEntry is a configured token and where it was configured.
type tokenEntry struct {
	Token
	where string // "tokens[i]" or "token file <path>:<line>"
}

// collectTokens lists the inline tokens and those of the token files,
// secrets unresolved.
func collectTokens(inline []Token, files []string) ([]tokenEntry, error) {
	var all []tokenEntry
	for i, t := range inline {
		all = append(all, tokenEntry{t, fmt.Sprintf("tokens[%d]", i)})
	}
	for _, path := range files {
		more, lines, err := readTokenFile(path)
		if err != nil {
			return nil, err
		}
		for i, t := range more {
			all = append(all, tokenEntry{t, fmt.Sprintf("token file %s:%d", path, lines[i])})
		}
	}
	return all, nil
}
