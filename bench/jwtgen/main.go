// Command jwtgen writes what the JWT configurations of the load test need
// (config 5): an ES256 and an RS256 key, a JWKS file with both public keys,
// and signed access tokens for each (es256.jwt, rs256.jwt; with -n > 1 also
// es256.tokens and rs256.tokens, n distinct tokens one a line, for the
// uncached runs), with the given issuer, audience and scope, valid for a
// day. Standard library only.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var b64 = base64.RawURLEncoding

func main() {
	dir := flag.String("dir", ".", "output directory: jwks.json, es256.jwt, rs256.jwt")
	iss := flag.String("iss", "https://auth.bench.invalid", "issuer")
	aud := flag.String("aud", "http://127.0.0.1/mcp", "audience")
	scope := flag.String("scope", "mcp:call", "scope claim")
	n := flag.Int("n", 1, "distinct tokens per algorithm")
	flag.Parse()

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	jwks := map[string]any{"keys": []any{
		map[string]any{"kty": "EC", "crv": "P-256", "kid": "es", "alg": "ES256", "use": "sig",
			"x": b64.EncodeToString(pad32(ec.X)), "y": b64.EncodeToString(pad32(ec.Y))},
		map[string]any{"kty": "RSA", "kid": "rs", "alg": "RS256", "use": "sig",
			"n": b64.EncodeToString(rs.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(rs.E)).Bytes())},
	}}
	now := time.Now().Unix()
	claims := func(i int) map[string]any {
		return map[string]any{"iss": *iss, "aud": *aud, "sub": "bench", "scope": *scope,
			"iat": now, "nbf": now - 60, "exp": now + 86400, "jti": fmt.Sprintf("bench-%d", i)}
	}
	es := func(d []byte) []byte {
		r, s, err := ecdsa.Sign(rand.Reader, ec, d)
		if err != nil {
			log.Fatal(err)
		}
		return append(pad32(r), pad32(s)...)
	}
	rsSign := func(d []byte) []byte {
		sig, err := rsa.SignPKCS1v15(rand.Reader, rs, crypto.SHA256, d)
		if err != nil {
			log.Fatal(err)
		}
		return sig
	}

	write(*dir, "jwks.json", mustJSON(jwks))
	write(*dir, "es256.jwt", []byte(sign("ES256", "es", claims(0), es)))
	write(*dir, "rs256.jwt", []byte(sign("RS256", "rs", claims(0), rsSign)))
	if *n > 1 {
		var esTokens, rsTokens strings.Builder
		for i := range *n {
			esTokens.WriteString(sign("ES256", "es", claims(i), es) + "\n")
			rsTokens.WriteString(sign("RS256", "rs", claims(i), rsSign) + "\n")
		}
		write(*dir, "es256.tokens", []byte(esTokens.String()))
		write(*dir, "rs256.tokens", []byte(rsTokens.String()))
	}
}

func sign(alg, kid string, claims map[string]any, f func(digest []byte) []byte) string {
	input := b64.EncodeToString(mustJSON(map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid})) +
		"." + b64.EncodeToString(mustJSON(claims))
	d := sha256.Sum256([]byte(input))
	return input + "." + b64.EncodeToString(f(d[:]))
}

func pad32(n *big.Int) []byte {
	b := make([]byte, 32)
	return n.FillBytes(b)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func write(dir, name string, b []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		log.Fatal(err)
	}
}
