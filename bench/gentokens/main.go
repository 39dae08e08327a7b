// Command gentokens writes an mcp_auth token file of n tokens, one
// "<name> sha256:<hex> <role>" a line. The first line is the token given
// with -token (so the load test can use it); the others are random.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
)

func main() {
	n := flag.Int("n", 100000, "number of tokens")
	token := flag.String("token", "", "the one token whose secret is known (required)")
	role := flag.String("role", "caller", "role of every token")
	flag.Parse()
	if *token == "" {
		log.Fatal("-token is required")
	}
	w := bufio.NewWriter(os.Stdout)
	d := sha256.Sum256([]byte(*token))
	fmt.Fprintf(w, "bench sha256:%s %s\n", hex.EncodeToString(d[:]), *role)
	for i := 1; i < *n; i++ {
		var secret [32]byte
		_, _ = rand.Read(secret[:])
		d := sha256.Sum256([]byte(hex.EncodeToString(secret[:])))
		fmt.Fprintf(w, "t%06d sha256:%s %s\n", i, hex.EncodeToString(d[:]), *role)
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
}
