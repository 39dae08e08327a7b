package wire

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The differential test against the TypeScript SDK stack, one-sided as
// differential_test.go is against the Go SDK: for every body and
// Content-Type the module forwards, the TypeScript SDK's reading
// (express.json(), i.e. body-parser 2.4.0 with its defaults, then the
// Streamable HTTP transport and JSONRPCMessageSchema of
// @modelcontextprotocol/sdk 1.32.2) is the module's reading: the same
// messages, kinds, methods, targets and ids; and every resource URI the
// module accepts is its own WHATWG serialization in Node.js
// (new URL(uri).href). Inputs the module refuses are no differentials;
// neither is a body the SDK refuses (the backend answers an error and
// nothing runs).
//
// The node side is e2e/tools/readings.mjs over stdin, with e2e/'s pinned
// node_modules; without them the test runs `npm ci` in e2e/ itself. It
// never skips: no node or no npm fails it.
//
// Content-Types: the module's media-type rule is in the root package
// (jsonMediaType in framing.go), which this package cannot import; the
// generated Content-Types are restricted to spellings that rule accepts
// (application/json, any case, optionally with exactly one parameter
// charset=utf-8 in any case, quoted or not, with optional spaces or tabs
// around the ";"), so every body here is one the module forwards.
var forwardedContentTypes = []string{
	"application/json",
	"application/json; charset=utf-8",
	"Application/JSON;charset=UTF-8",
	`application/json; charset="utf-8"`,
	"application/json ;charset=utf-8",
	"application/json\t;\tcharset=\"UTF-8\"",
	"APPLICATION/JSON ; CHARSET=Utf-8 ",
}

// nodeHelper is one running readings.mjs.
type nodeHelper struct {
	mu  sync.Mutex
	in  *bufio.Writer
	out *bufio.Reader
	cmd *exec.Cmd
}

var (
	nodeOnce sync.Once
	nodeRun  *nodeHelper
	nodeErr  error
)

// e2eDir is the npm project that pins the SDKs.
func e2eDir() string { return filepath.Join("..", "e2e") }

// ensureNodeModules runs `npm ci` in e2e/ when its node_modules lack what
// readings.mjs imports (bounded to ten minutes).
func ensureNodeModules() error {
	need := []string{"@modelcontextprotocol/sdk/package.json", "express/package.json", "body-parser/package.json"}
	missing := false
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(e2eDir(), "node_modules", n)); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("e2e/node_modules is missing and there is no npm to install it: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = e2eDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in e2e/: %w\n%s", err, out)
	}
	return nil
}

// node returns the shared helper (one per test process: each fuzz worker
// starts its own). It exits when its stdin closes, with the process.
func node(t testing.TB) *nodeHelper {
	t.Helper()
	nodeOnce.Do(func() {
		if nodeErr = ensureNodeModules(); nodeErr != nil {
			return
		}
		bin, err := exec.LookPath("node")
		if err != nil {
			nodeErr = fmt.Errorf("node is needed for the differential test: %w", err)
			return
		}
		cmd := exec.Command(bin, filepath.Join("tools", "readings.mjs"))
		cmd.Dir = e2eDir()
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			nodeErr = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			nodeErr = err
			return
		}
		if nodeErr = cmd.Start(); nodeErr != nil {
			return
		}
		nodeRun = &nodeHelper{in: bufio.NewWriter(in), out: bufio.NewReaderSize(out, 1<<20), cmd: cmd}
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	return nodeRun
}

type nodeQuery struct {
	Body        *string `json:"body,omitempty"`
	ContentType string  `json:"contentType,omitempty"`
	URI         *string `json:"uri,omitempty"`
}

type nodeMsg struct {
	Kind    string            `json:"kind"`
	Method  json.RawMessage   `json:"method"`
	ID      *string           `json:"id"`
	Name    json.RawMessage   `json:"name"`
	URI     json.RawMessage   `json:"uri"`
	RefType json.RawMessage   `json:"refType"`
	RefName json.RawMessage   `json:"refName"`
	RefURI  json.RawMessage   `json:"refUri"`
	Subs    []json.RawMessage `json:"subs"`
}

type nodeAnswer struct {
	Refused string    `json:"refused"`
	Fatal   string    `json:"fatal"`
	Batch   bool      `json:"batch"`
	Msgs    []nodeMsg `json:"msgs"`
	Href    *string   `json:"href"`
	Error   string    `json:"error"`
}

func bodyQuery(body []byte, ct string) nodeQuery {
	b := base64.StdEncoding.EncodeToString(body)
	return nodeQuery{Body: &b, ContentType: ct}
}

func uriQuery(u string) nodeQuery { return nodeQuery{URI: &u} }

// ask sends the queries and returns the answers, in order. The writing
// runs beside the reading, so that neither pipe fills up.
func (h *nodeHelper) ask(qs []nodeQuery) ([]nodeAnswer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	werr := make(chan error, 1)
	go func() {
		for _, q := range qs {
			line, err := json.Marshal(q)
			if err != nil {
				werr <- err
				return
			}
			if _, err := h.in.Write(append(line, '\n')); err != nil {
				werr <- err
				return
			}
		}
		werr <- h.in.Flush()
	}()
	out := make([]nodeAnswer, 0, len(qs))
	for range qs {
		line, err := h.out.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the node helper: %w", err)
		}
		var a nodeAnswer
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, fmt.Errorf("node helper answered %q: %w", line, err)
		}
		if a.Fatal != "" {
			return nil, errors.New("node helper: " + a.Fatal)
		}
		out = append(out, a)
	}
	return out, <-werr
}

// nodeString reads a string field of a node reading: present reports
// whether it was there, ok whether it was a well-formed string.
func nodeString(raw json.RawMessage) (s string, present, ok bool) {
	if len(raw) == 0 {
		return "", false, true
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, false // {"nonString": …} or {"illFormed": …}
	}
	return s, true, true
}

var kindNames = map[Kind]string{KindRequest: "request", KindNotification: "notification", KindResponse: "response"}

// sameNodeID compares the raw id the module echoes with node's JSON text
// of the id the SDK holds.
func sameNodeID(raw []byte, got *string) bool {
	if raw == nil {
		return got == nil
	}
	if got == nil {
		return false
	}
	if raw[0] == 'n' {
		return *got == "null"
	}
	if raw[0] == '"' {
		want, ok := DecodeString(raw)
		var g string
		return ok && json.Unmarshal([]byte(*got), &g) == nil && want == g
	}
	want, err1 := strconv.ParseInt(string(raw), 10, 64)
	g, err2 := strconv.ParseInt(*got, 10, 64)
	return err1 == nil && err2 == nil && want == g
}

// compareBody returns the differences between the module's reading b and
// node's answer a ("" when they agree or node refused).
func compareBody(b *Body, a nodeAnswer) []string {
	if a.Refused != "" {
		return nil
	}
	var diffs []string
	if a.Batch != b.Batch || len(a.Msgs) != len(b.Msgs) {
		return []string{fmt.Sprintf("module: batch %v of %d messages; node: batch %v of %d", b.Batch, len(b.Msgs), a.Batch, len(a.Msgs))}
	}
	for i := range b.Msgs {
		m, n := &b.Msgs[i], a.Msgs[i]
		if n.Kind != kindNames[m.Kind] {
			diffs = append(diffs, fmt.Sprintf("message %d: module %s, node %s", i, kindNames[m.Kind], n.Kind))
			continue
		}
		if !sameNodeID(m.ID, n.ID) {
			diffs = append(diffs, fmt.Sprintf("message %d: module id %s, node id %v", i, m.ID, deref(n.ID)))
		}
		if m.Kind == KindResponse {
			continue
		}
		if s, _, ok := nodeString(n.Method); !ok || s != m.Action.Method {
			diffs = append(diffs, fmt.Sprintf("message %d: module method %q, node %s", i, m.Action.Method, n.Method))
		}
		diffs = append(diffs, compareTarget(i, m, n)...)
	}
	return diffs
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// compareTarget compares what the module judged (tool or prompt name,
// resource URI, completion ref, subscriptions) with node's reading.
func compareTarget(i int, m *Message, n nodeMsg) []string {
	var diffs []string
	field := func(what string, raw json.RawMessage, want string, has bool) {
		s, present, ok := nodeString(raw)
		switch {
		case !has && present:
			diffs = append(diffs, fmt.Sprintf("message %d: module reads no %s, node reads %s", i, what, raw))
		case has && (!ok || s != want):
			diffs = append(diffs, fmt.Sprintf("message %d: module judged %s %q, node reads %s", i, what, want, raw))
		}
	}
	mi, known := Lookup(m.Action.Method)
	if !known {
		return nil
	}
	if m.Action.Method == "subscriptions/listen" {
		if len(n.Subs) != len(m.Subscriptions) {
			return []string{fmt.Sprintf("message %d: module judged %d subscriptions, node reads %d", i, len(m.Subscriptions), len(n.Subs))}
		}
		for j, f := range m.Subscriptions {
			field(fmt.Sprintf("subscription %d", j), n.Subs[j], f.Value, true)
		}
		return diffs
	}
	switch mi.Target {
	case TargetName:
		field("params.name", n.Name, m.Action.Target, m.Action.HasTarget)
	case TargetURI:
		field("params.uri", n.URI, m.Action.Target, m.Action.HasTarget)
	case TargetRef:
		// A ref without its name or uri is no target (rules without
		// targets match); node must then read none either.
		field("params.ref.type", n.RefType, m.Action.Ref, m.Action.Ref != "")
		switch m.Action.Ref {
		case "ref/prompt":
			field("params.ref.name", n.RefName, m.Action.Target, m.Action.HasTarget)
		case "ref/resource":
			field("params.ref.uri", n.RefURI, m.Action.Target, m.Action.HasTarget)
		}
	}
	return diffs
}

// nodeCorpus adds, to the Go SDK differential corpus, bodies aimed at
// JavaScript's reading: prototype keys, escapes JSON.parse decodes,
// numbers JavaScript rounds, U+2028, a leading BOM, and batches.
func nodeCorpus() [][]byte {
	var out [][]byte
	addf := func(format string, a ...any) { out = append(out, []byte(fmt.Sprintf(format, a...))) }
	for _, k := range []string{`"__proto__"`, `"constructor"`, `"prototype"`, `"toString"`, `"hasOwnProperty"`, `"n\u0061me"`, `"name\u2028"`, `"\u006eame"`} {
		addf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",%s:{"name":"x"}}}`, k)
		addf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{%s:"x","name":"echo"}}`, k)
		addf(`{"jsonrpc":"2.0","id":1,%s:{"method":"x"},"method":"resources/read","params":{"uri":"file:///docs/a"}}`, k)
		addf(`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p",%s:"ref/resource"},"argument":{"name":"a","value":"b"}}}`, k)
	}
	for _, name := range []string{`"__proto__"`, `"constructor"`, `"\u2028"`, `"e\u0301cho"`, `"\uFEFFecho"`, `"echo\u0000"`, `"\ud83d\ude00"`, `"\/\/"`} {
		addf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%s}}`, name)
		addf(`{"jsonrpc":"2.0","id":"__proto__","method":"prompts/get","params":{"name":%s}}`, name)
	}
	for _, id := range []string{`9007199254740991`, `-9007199254740991`, `9007199254740992`, `1e2`, `0e0`, `-0`, `0.0`, `"\u0031"`, `"__proto__"`, `00`, `01`} {
		addf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"echo"}}`, id)
		addf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, id)
	}
	for _, m := range []string{`"tools\/call"`, `"tools/call\u0000"`, `"constructor"`, `"__proto__"`, `"tools/call "`, `"Tools/call"`} {
		addf(`{"jsonrpc":"2.0","id":1,"method":%s,"params":{"name":"echo"}}`, m)
	}
	for _, u := range []string{`"file:///docs/a"`, `"demo://resource/static/document/a.md"`, `"https://vault.example/secret"`, `"file:/docs/a"`, `"urn:x"`} {
		addf(`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[{"uri":%s}]}}}`, u)
		addf(`{"jsonrpc":"2.0","id":1,"method":"skills/get","params":{"uri":%s}}`, u)
	}
	addf("\xef\xbb\xbf" + `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	addf(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\u2028")
	addf(` {"jsonrpc":"2.0","id":1,"method":"ping"}` + "\r\n\t ")
	addf(`{"jsonrpc":"2.0","method":"completion/complete","params":{"ref":{"type":"ref/prompt"}}}`)
	addf(`{"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/resource","name":"x"}}}`)
	addf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`)
	addf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}`)
	addf(`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`)
	addf(`{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`)
	for _, n := range []int{1, 2, 99, 100, 101} {
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"t%d"}}`, i+1, i)
		}
		out = append(out, []byte("["+strings.Join(msgs, ",")+"]"))
	}
	return out
}

// uriCorpus generates resource URIs around every rule WHATWG and RFC 3986
// normalization apply: schemes special and not, hosts in every IPv4 and
// IPv6 spelling, IDNA, ports, dot segments, percent-encodings, Windows
// drive letters, query and fragment characters.
func uriCorpus() []string {
	schemes := []string{"file", "http", "https", "ws", "wss", "ftp", "demo", "db", "mem", "urn", "mailto", "data", "javascript", "blob", "x-y.z+w", "a1", "HTTP", "Demo"}
	hosts := []string{"", "localhost", "LOCALHOST", "example.com", "example.com.", "a..b", ".a", "xn--nxasmq6b", "xn--", "xn--a", "xn--ls8h.la", "xn--fub3s", "a.xn--q3a01hs6b",
		"127.0.0.1", "127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1", "0.0.0.0", "1.2.3", "1.2.3.4.", "1.2.3.4..", "1.2.3.09", "999.1.1.1",
		"1.2.3.256", "09", "0x", "a.0x1", "a.1", "a.09", "foo.0x", "1.2.3.4.5", "%30", "a%2Eb", "ex%C3%A9mple", "a_b", "a-b", "-a", "h~",
		"h!$&'()*+,;=", "[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[1:0:0:1:0:0:0:1]", "[1::]", "[v1.x]",
		"[fe80::1%25eth0]", "user@host", "user:pass@host", "@host", "a;b@host", "a%40b@host", "h:p@host"}
	ports := []string{"", ":", ":0", ":80", ":443", ":8080", ":65535", ":65536", ":080", ":21", ":x"}
	paths := []string{"", "/", "/a", "/a/", "//a", "/a//b", "/./a", "/a/.", "/a/..", "/%2e", "/%2E", "/.%2e/", "/a%2Fb", "/a%5Cb",
		"/%00", "/a;b", "/a:b", "/@", "/~", "/%7E", "/%41", "/%C3%A9", "/%c3%a9", "/a|b", "/[", "/]", "/'", "/!$&'()*+,;=",
		"/C:/x", "/C:", "/c:/x/../y", "/%2e%2e", "/.a", "/..a", "/a..", "/%", "/%zz", "/%20", "/%7F", "/a%2e", "/%F0%9F%98%80"}
	queries := []string{"", "?", "?a", "?a=b&c", "?%41", "?'", "?%27", "?a/b?c", "?[]", "?%2e"}
	fragments := []string{"", "#", "#a", "#%41", "#'", "#a?b", "#/a/../b"}
	opaque := []string{"", "x", "x/y", "a:b", "x%2Fy", "/x", "//", "///", "x?y", "x#y", " x", "%41", "a@b", "a%40b", "/", "./x",
		"../x", ".//x", "/.//x", "C:/x", "c:", "%zz", "x/../y", ",", "text/plain,x", "text/plain;base64,QQ==", "urn:x:y"}
	var out []string
	for _, s := range schemes {
		for _, h := range hosts {
			for _, p := range ports {
				for _, path := range []string{"", "/", "/a/b"} {
					out = append(out, s+"://"+h+p+path)
				}
			}
		}
		for _, path := range paths {
			for _, h := range []string{"", "localhost", "example.com", "127.0.0.1", "[::1]"} {
				for _, q := range queries {
					for _, f := range fragments {
						out = append(out, s+"://"+h+path+q+f)
					}
				}
			}
			out = append(out, s+":"+path)
		}
		for _, o := range opaque {
			for _, q := range queries[:4] {
				out = append(out, s+":"+o+q)
			}
		}
	}
	return out
}

// nodeDifferential runs the deterministic differential over bodies and
// URIs, reporting every disagreement.
func TestNodeDifferential(t *testing.T) {
	h := node(t)

	// Bodies, each with every forwarded Content-Type.
	corpus := append(append(differentialCorpus(), fuzzSeeds(t)...), nodeCorpus()...)
	var qs []nodeQuery
	var bodies []*Body
	var raw [][]byte
	for _, body := range corpus {
		b := new(Body)
		if Classify(body, b) != nil {
			continue
		}
		for _, ct := range forwardedContentTypes {
			qs = append(qs, bodyQuery(body, ct))
			bodies = append(bodies, b)
			raw = append(raw, body)
		}
	}
	answers, err := h.ask(qs)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i, a := range answers {
		if a.Refused != "" {
			refused++
		}
		for _, d := range compareBody(bodies[i], a) {
			t.Errorf("Content-Type %q: %s\n%s", qs[i].ContentType, d, raw[i])
		}
	}
	t.Logf("%d bodies the module forwards, each with %d Content-Types: %d readings, %d refused by the TypeScript stack (no differential)",
		len(qs)/len(forwardedContentTypes), len(forwardedContentTypes), len(qs), refused)
	if len(qs)/len(forwardedContentTypes) < 200 {
		t.Errorf("only %d forwarded bodies: the corpus no longer exercises the classifier", len(qs)/len(forwardedContentTypes))
	}

	// URIs: every URI the module accepts must be its own href in Node.
	var accepted []string
	all := uriCorpus()
	for _, u := range all {
		if URIProblem(u) == "" {
			accepted = append(accepted, u)
		}
	}
	uqs := make([]nodeQuery, len(accepted))
	for i, u := range accepted {
		uqs[i] = uriQuery(u)
	}
	uanswers, err := h.ask(uqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range uanswers {
		if d := compareURI(accepted[i], a); d != "" {
			t.Error(d)
		}
	}
	t.Logf("%d generated URIs, %d accepted by the module, each its own href in Node.js", len(all), len(accepted))
	if len(accepted) < 1000 {
		t.Errorf("only %d accepted URIs: the corpus no longer exercises the URI rule", len(accepted))
	}
}

func compareURI(u string, a nodeAnswer) string {
	switch {
	case a.Href == nil:
		return fmt.Sprintf("the module accepts %q, Node's new URL() rejects it (%s)", u, a.Error)
	case *a.Href != u:
		return fmt.Sprintf("the module accepts %q, Node's href is %q", u, *a.Href)
	}
	return ""
}

// TestNodeDifferentialOracle proves that the node side sees what the
// differentials would be: on inputs the module refuses, body-parser reads
// a smuggled key, and Node rewrites URIs.
func TestNodeDifferentialOracle(t *testing.T) {
	h := node(t)
	as2dup := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}`)
	utf7 := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","+AG4-ame":"delete_record"}}`)
	as, err := h.ask([]nodeQuery{
		bodyQuery(utf7, "application/json; charset=utf-7"),
		bodyQuery(as2dup, "application/json"),
		uriQuery("file:/private/secrets.txt"),
		uriQuery("https://vault.example:443/x"),
		uriQuery("https://xn--fub3s/x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(as[0].Msgs) != 1 || string(as[0].Msgs[0].Name) != `"delete_record"` {
		t.Errorf("utf-7: node reads %+v, want the smuggled name delete_record", as[0])
	}
	if len(as[1].Msgs) != 1 || string(as[1].Msgs[0].Name) != `"b"` {
		t.Errorf("duplicate name: node reads %+v, want the last one", as[1])
	}
	if d := compareURI("file:/private/secrets.txt", as[2]); !strings.Contains(d, `"file:///private/secrets.txt"`) {
		t.Errorf("file:/ URI: %q", d)
	}
	if d := compareURI("https://vault.example:443/x", as[3]); !strings.Contains(d, `"https://vault.example/x"`) {
		t.Errorf("default port: %q", d)
	}
	// The module refuses these URIs (the utf-7 body is refused for its
	// Content-Type, in framing.go; the duplicate key by Classify).
	if Classify(as2dup, new(Body)) == nil {
		t.Error("the module accepts a duplicate params.name")
	}
	// An IDNA A-label the Go WHATWG library accepts unchanged and Node
	// rejects (found by this fuzzer; uri.go refuses every A-label in the
	// host of a special-scheme URI since).
	if h, ok := WHATWGHref("https://xn--fub3s/x"); !ok || h != "https://xn--fub3s/x" || as[4].Href != nil {
		t.Errorf("xn--fub3s: the Go library reads %q %v, node %+v: the A-label differential is gone, revisit aLabel", h, ok, as[4])
	}
	for _, u := range []string{"file:/private/secrets.txt", "https://vault.example:443/x", "https://xn--fub3s/x", "https://a.xn--nxasmq6b/", "file://xn--ls8h/x"} {
		if URIProblem(u) == "" {
			t.Errorf("the module accepts %q", u)
		}
	}
}

// FuzzNodeDifferential: a generated body (with one of the forwarded
// Content-Types) that the module forwards must be read by the TypeScript
// stack as the module read it, and a generated URI the module accepts must
// be its own href in Node.js.
func FuzzNodeDifferential(f *testing.F) {
	uris := uriCorpus()
	for i, body := range append(differentialCorpus(), nodeCorpus()...) {
		if i%7 == 0 {
			f.Add(body, uint8(i), uris[(i*131)%len(uris)])
		}
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/a"}}`), uint8(0), "file:///docs/a")
	f.Fuzz(func(t *testing.T, body []byte, ct uint8, uri string) {
		var qs []nodeQuery
		b := new(Body)
		bodyOK := Classify(body, b) == nil
		contentType := forwardedContentTypes[int(ct)%len(forwardedContentTypes)]
		if bodyOK {
			qs = append(qs, bodyQuery(body, contentType))
		}
		uriOK := URIProblem(uri) == ""
		if uriOK {
			qs = append(qs, uriQuery(uri))
		}
		if len(qs) == 0 {
			return
		}
		as, err := node(t).ask(qs)
		if err != nil {
			t.Fatal(err)
		}
		if bodyOK {
			for _, d := range compareBody(b, as[0]) {
				t.Errorf("Content-Type %q: %s\n%q", contentType, d, body)
			}
			as = as[1:]
		}
		if uriOK {
			if d := compareURI(uri, as[0]); d != "" {
				t.Error(d)
			}
		}
	})
}
