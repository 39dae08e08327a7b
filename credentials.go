package mcpauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// credStatus is the outcome of reading the credential header.
type credStatus uint8

const (
	credOK credStatus = iota
	// credMissing: no credential, an empty one, the bare word "Bearer", or
	// another scheme. Answered 401 without an error code (RFC 6750 §3.1).
	credMissing
	// credMalformed: two credential headers, control or non-ASCII bytes, or
	// a bearer value that is not one token. Answered 400 invalid_request.
	credMalformed
)

// parseCredential extracts the token from the values of the credential
// header. With bearer set (the Authorization header) the value is
// "<scheme> <token>" with a case-insensitive scheme that must be Bearer, or
// a bare token without a space; otherwise the whole value is the token.
// Surrounding spaces and tabs are trimmed.
func parseCredential(values []string, bearer bool) (string, credStatus) {
	switch len(values) {
	case 0:
		return "", credMissing
	case 1:
	default:
		return "", credMalformed
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return "", credMissing
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return "", credMalformed
		}
	}
	if !bearer {
		return v, credOK
	}
	sp := strings.IndexByte(v, ' ')
	if sp < 0 {
		if strings.EqualFold(v, "Bearer") {
			return "", credMissing
		}
		return v, credOK // a bare token
	}
	if !strings.EqualFold(v[:sp], "Bearer") {
		return "", credMissing // another scheme (Basic, Digest, …)
	}
	tok := strings.TrimLeft(v[sp+1:], " ")
	if strings.IndexByte(tok, ' ') >= 0 {
		return "", credMalformed
	}
	return tok, credOK
}

// digestPrefix marks a secret given as the SHA-256 digest of the token.
const digestPrefix = "sha256:"

// errMalformedDigest is returned for a "sha256:" secret that is not 64 hex
// digits. It never contains the secret.
var errMalformedDigest = errors.New("malformed digest: want sha256: followed by 64 hex digits")

// secretDigest returns the SHA-256 digest that identifies a token: the
// digest given as "sha256:<hex>", or the digest of a literal secret.
func secretDigest(secret string) ([32]byte, error) {
	var d [32]byte
	if rest, ok := strings.CutPrefix(secret, digestPrefix); ok {
		if len(rest) != 64 {
			return d, errMalformedDigest
		}
		if _, err := hex.Decode(d[:], []byte(rest)); err != nil {
			return d, errMalformedDigest
		}
		return d, nil
	}
	if secret == "" {
		return d, errors.New("empty secret")
	}
	return sha256.Sum256([]byte(secret)), nil
}

// hashToken returns the "sha256:<hex>" form of a token.
func hashToken(token string) string {
	d := sha256.Sum256([]byte(token))
	return digestPrefix + hex.EncodeToString(d[:])
}

// isRuntimeSecret reports whether a secret is resolved when the config is
// provisioned ({env.*} or {file.*} placeholders) and so must be kept as
// written in the adapted JSON.
func isRuntimeSecret(s string) bool {
	return strings.Contains(s, "{env.") || strings.Contains(s, "{file.")
}

// normalizeSecret turns a secret as written in a Caddyfile into the form
// stored in the JSON config: placeholders as they are, digests checked, and
// literal tokens replaced by their digest, so that no plaintext token ever
// appears in adapted JSON, the admin API or autosave.
func normalizeSecret(s string) (string, error) {
	switch {
	case s == "":
		return "", errors.New("empty secret")
	case isRuntimeSecret(s):
		return s, nil
	case strings.HasPrefix(s, digestPrefix):
		d, err := secretDigest(s)
		if err != nil {
			return "", err
		}
		return digestPrefix + hex.EncodeToString(d[:]), nil
	case strings.ContainsAny(s, " \t"):
		return "", fmt.Errorf("secret contains white space")
	default:
		return hashToken(s), nil
	}
}
