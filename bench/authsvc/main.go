// Command authsvc is what a Caddy user would otherwise build for
// forward_auth: it checks the bearer token of the original request against
// a set of SHA-256 digests (the same check mcp_auth makes) and answers 200
// (with X-Auth-User), 401 (no bearer token) or 403 (unknown token). It does
// not look at the request body: forward_auth does not send it.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9002", "listen address")
	file := flag.String("tokens", "", `token file: "<name> sha256:<hex> <role...>" lines`)
	flag.Parse()
	tokens, err := load(*file)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("authsvc: %d tokens", len(tokens))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("Authorization")
		if len(v) < 8 || !strings.EqualFold(v[:7], "Bearer ") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		user, ok := tokens[sha256.Sum256([]byte(v[7:]))]
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header()["X-Auth-User"] = []string{user}
		w.WriteHeader(http.StatusOK)
	})
	log.Fatal(http.ListenAndServe(*addr, h))
}

func load(path string) (map[[32]byte]string, error) {
	m := map[[32]byte]string{}
	if path == "" {
		return m, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "sha256:") {
			continue
		}
		var d [32]byte
		if _, err := hex.Decode(d[:], []byte(strings.TrimPrefix(fields[1], "sha256:"))); err != nil {
			return nil, err
		}
		m[d] = fields[0]
	}
	return m, sc.Err()
}
