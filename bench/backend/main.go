// Command backend is the load test's stand-in for an MCP server: it
// answers any POST (a JSON-RPC tools/call) with a small JSON-RPC result
// and any GET with a small JSON body, as cheaply as net/http allows, so
// that it is not the bottleneck.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
)

var (
	postReply = []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"ok"}],"isError":false}}`)
	getReply  = []byte(`{"ok":true}`)
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	flag.Parse()
	postLen, getLen := strconv.Itoa(len(postReply)), strconv.Itoa(len(getReply))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply, n := getReply, getLen
		if r.Method == http.MethodPost {
			// Drain the body so the connection is reused.
			_, _ = io.Copy(io.Discard, r.Body)
			reply, n = postReply, postLen
		}
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json"}
		hd["Content-Length"] = []string{n}
		_, _ = w.Write(reply)
	})
	log.Fatal(http.ListenAndServe(*addr, h))
}
