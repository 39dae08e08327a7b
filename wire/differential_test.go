package wire

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	segjson "github.com/segmentio/encoding/json"
)

// The differential test: every body the classifier accepts must be read by
// the official Go MCP SDK exactly as it was judged — the same kind of
// message, method, target (params.name, params.uri, params.ref) and id.
//
// The SDK side is the SDK's own code where it is exported: a message is
// decoded by jsonrpc.DecodeMessage, and params into the mcp package's
// param types. The two unexported steps are mirrored exactly: splitting a
// batch (mcp.readBatch) and decoding params (mcp's unmarshalParams) both
// use the SDK's internal/json, which is segmentio/encoding/json with
// DontMatchCaseInsensitiveStructFields. As a second, stricter oracle the
// same is done with encoding/json, which matches keys case-insensitively
// (a backend built on it).
//
// An SDK that refuses what the classifier accepted is no differential (the
// backend answers an error, nothing runs); a different reading is.

// sdkUnmarshal is the SDK's internal/json.Unmarshal, minus its nesting
// depth check (which can only make the SDK refuse more).
func sdkUnmarshal(data []byte, v any) error {
	dec := segjson.NewDecoder(bytes.NewReader(data))
	dec.DontMatchCaseInsensitiveStructFields()
	return dec.Decode(v)
}

// reading is how one decoder read one message.
type reading struct {
	kind   Kind
	method string
	id     any // string, int64 (SDK) or the decoded JSON value (encoding/json)
	target string
	ref    string
}

// readSDK reads a body as the Go SDK's streamable server does.
func readSDK(body []byte) ([]reading, error) {
	var raws []segjson.RawMessage
	var msgs [][]byte
	if err := sdkUnmarshal(body, &raws); err == nil {
		if len(raws) == 0 {
			return nil, fmt.Errorf("empty batch")
		}
		for _, r := range raws {
			msgs = append(msgs, r)
		}
	} else {
		msgs = [][]byte{body}
	}
	var out []reading
	for _, raw := range msgs {
		m, err := jsonrpc.DecodeMessage(raw)
		if err != nil {
			return nil, err
		}
		var rd reading
		switch m := m.(type) {
		case *jsonrpc.Request:
			rd.kind, rd.method, rd.id = KindNotification, m.Method, m.ID.Raw()
			if m.IsCall() {
				rd.kind = KindRequest
			}
			if err := sdkTarget(&rd, m.Params, sdkUnmarshal); err != nil {
				return nil, err
			}
		case *jsonrpc.Response:
			rd.kind, rd.id = KindResponse, m.ID.Raw()
		}
		out = append(out, rd)
	}
	return out, nil
}

// sdkTarget decodes params into the SDK's param type for the method.
func sdkTarget(rd *reading, params []byte, unmarshal func([]byte, any) error) error {
	if params == nil {
		return nil
	}
	switch rd.method {
	case "tools/call":
		var p mcp.CallToolParamsRaw
		if err := unmarshal(params, &p); err != nil {
			return err
		}
		rd.target = p.Name
	case "prompts/get":
		var p mcp.GetPromptParams
		if err := unmarshal(params, &p); err != nil {
			return err
		}
		rd.target = p.Name
	case "resources/read":
		var p mcp.ReadResourceParams
		if err := unmarshal(params, &p); err != nil {
			return err
		}
		rd.target = p.URI
	case "resources/subscribe":
		var p mcp.SubscribeParams
		if err := unmarshal(params, &p); err != nil {
			return err
		}
		rd.target = p.URI
	case "resources/unsubscribe":
		var p mcp.UnsubscribeParams
		if err := unmarshal(params, &p); err != nil {
			return err
		}
		rd.target = p.URI
	case "completion/complete":
		var p mcp.CompleteParams
		if err := unmarshal(params, &p); err != nil {
			return err
		}
		if p.Ref == nil {
			return fmt.Errorf("no ref")
		}
		rd.ref = p.Ref.Type
		rd.target = p.Ref.Name
		if p.Ref.Type == "ref/resource" {
			rd.target = p.Ref.URI
		}
	}
	return nil
}

// readStd reads a body with encoding/json (case-insensitive keys, last
// duplicate wins).
func readStd(body []byte) ([]reading, error) {
	var msgs []stdjson.RawMessage
	if err := stdjson.Unmarshal(body, &msgs); err != nil {
		msgs = []stdjson.RawMessage{body}
	}
	var out []reading
	for _, raw := range msgs {
		var w struct {
			ID     stdjson.RawMessage `json:"id"`
			Method *string            `json:"method"`
			Params stdjson.RawMessage `json:"params"`
		}
		if err := stdjson.Unmarshal(raw, &w); err != nil {
			return nil, err
		}
		var rd reading
		if w.ID != nil && string(w.ID) != "null" {
			if err := stdjson.Unmarshal(w.ID, &rd.id); err != nil {
				return nil, err
			}
		}
		switch {
		case w.Method == nil:
			rd.kind = KindResponse
		case rd.id == nil:
			rd.kind, rd.method = KindNotification, *w.Method
		default:
			rd.kind, rd.method = KindRequest, *w.Method
		}
		if w.Method != nil {
			if err := sdkTarget(&rd, w.Params, stdjson.Unmarshal); err != nil {
				return nil, err
			}
		}
		out = append(out, rd)
	}
	return out, nil
}

// sameID compares the raw id the classifier kept (and echoes) with a
// decoder's reading. exactInt reports whether the raw id is a JSON integer
// the SDK can hold without change; ids that are not (1.5, 1e3, 2^63) are
// read differently by the SDK (MakeID truncates float64 to int64).
func sameID(raw []byte, got any) (same, exactInt bool) {
	if raw == nil || raw[0] == 'n' {
		return got == nil, true
	}
	if raw[0] == '"' {
		s, ok := DecodeString(raw)
		g, isStr := got.(string)
		return ok && isStr && s == g, true
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	exactInt = err == nil && n > -(1<<53) && n < 1<<53
	switch g := got.(type) {
	case int64:
		return err == nil && n == g, exactInt
	case float64: // encoding/json
		f, err := strconv.ParseFloat(string(raw), 64)
		return err == nil && f == g, exactInt
	}
	return false, exactInt
}

// differentialCorpus is a generated set of tricky bodies: every method
// that has a target, spelled many ways, with odd ids, escapes, white
// space, extra and case-variant keys, in batches.
func differentialCorpus() [][]byte {
	ids := []string{`1`, `0`, `-0`, `-7`, `"1"`, `""`, `"a\"b"`, `"\u0000"`, `"\ud800"`, `9007199254740993`, `-9223372036854775808`,
		`12345678901234567890`, `1.0`, `1.5`, `1e3`, `1E+2`, `-1e-7`, `null`, `true`, `{}`, `[]`}
	names := []string{`"echo"`, `"e\u0063ho"`, `"\u00e9cho"`, `"e\ud800"`, `"echo\u0000"`, `"a\"b"`, `"a\\b"`, `"tools\/call"`,
		`"Echo"`, `""`, `"x\n"`, `"\ud83d\ude00"`, `"` + strings.Repeat("n", 300) + `"`}
	uris := []string{`"file:///docs/a"`, `"file:\/\/\/docs\/a"`, `"file:///docs/%C3%A9"`, `"https://h.example:8443/p?q=1#f"`, `"file:///docs/../a"`,
		`"urn:x:y"`, `"file:///docs/a%2Fb"`, `"file:///a b"`, `"file:///docs/\u0061"`}
	methodKeys := []string{`"method"`, `"m\u0065thod"`, `"Method"`, `"METHOD"`, `"method "`}
	nameKeys := []string{`"name"`, `"n\u0061me"`, `"Name"`, `"nAme"`, `"name\u0000"`, `"naMe"`}
	var out [][]byte
	addf := func(format string, a ...any) { out = append(out, []byte(fmt.Sprintf(format, a...))) }
	for _, id := range ids {
		for _, mk := range methodKeys {
			for _, nk := range nameKeys {
				addf(`{"jsonrpc":"2.0","id":%s,%s:"tools/call","params":{%s:"echo"}}`, id, mk, nk)
			}
		}
		for _, n := range names {
			addf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%s,"arguments":{"name":"other"}}}`, id, n)
			addf(`{"id":%s,"params":{"name":%s},"method":"prompts/get","jsonrpc":"2.0"}`, id, n)
			addf(`{"jsonrpc":"2.0","id":%s,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":%s},"argument":{"name":"a","value":"b"}}}`, id, n)
			addf(`{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":%s,"name":"echo"}}`, id, n)
		}
		for _, u := range uris {
			for _, m := range []string{"resources/read", "resources/subscribe", "resources/unsubscribe"} {
				addf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":{"uri":%s}}`, id, m, u)
			}
			addf(`{"jsonrpc":"2.0","id":%s,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":%s}}}`, id, u)
			addf(`{"jsonrpc":"2.0","id":%s,"method":"completion/complete","params":{"ref":{"uri":%s,"type":"ref/resource","name":"x"}}}`, id, u)
		}
		addf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, id)
		addf(`{"jsonrpc":"2.0","id":%s,"error":{"code":1,"message":"m"}}`, id)
		addf(`{"jsonrpc":"2.0","id":%s,"method":"ping"}`, id)
		addf(` [ {"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"a"}} , {"jsonrpc":"2.0","method":"notifications/initialized"} ] `, id)
		addf(`[{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":%s,"result":{}}]`, id, id)
	}
	for _, ws := range []string{" ", "\t", "\r\n", "\n\n  "} {
		addf(`{%s"jsonrpc"%s:%s"2.0"%s,%s"id"%s:%s1%s,%s"method"%s:%s"tools/call"%s,%s"params"%s:%s{%s"name"%s:%s"echo"%s}%s}`,
			ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws, ws)
	}
	// Keys that fold to protocol keys under Unicode simple folding.
	for _, k := range []string{`"jſonrpc"`, `"reſult"`, `"\u017fomething"`, `"\u212Aey"`, `"nam\u0065"`, `"ur\u0131"`, `"typ\u0045"`} {
		addf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",%s:"x"}}`, k)
		addf(`{"jsonrpc":"2.0","id":1,%s:"x","method":"resources/read","params":{"uri":"file:///a"}}`, k)
		addf(`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p",%s:"ref/resource"}}}`, k)
	}
	return out
}

// fuzzSeeds reads the []byte seeds of testdata/fuzz/FuzzClassify.
func fuzzSeeds(t *testing.T) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzClassify", "*"))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a []byte corpus file", f)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(s))
	}
	if len(out) == 0 {
		t.Fatal("no seeds in testdata/fuzz/FuzzClassify")
	}
	return out
}

func TestDifferentialSDK(t *testing.T) {
	corpus := append(differentialCorpus(), fuzzSeeds(t)...)
	var accepted, sdkRefused, stdRefused int
	for _, body := range corpus {
		var b Body
		if rerr := Classify(body, &b); rerr != nil {
			continue
		}
		batch, msgs := b.Batch, b.Msgs
		accepted++
		for _, o := range []struct {
			name string
			read func([]byte) ([]reading, error)
		}{{"go-sdk", readSDK}, {"encoding/json", readStd}} {
			got, err := o.read(body)
			if err != nil {
				if o.name == "go-sdk" {
					sdkRefused++
				} else {
					stdRefused++
				}
				continue
			}
			if len(got) != len(msgs) {
				t.Errorf("%s: %d messages (batch %v), %s reads %d\n%s", o.name, len(msgs), batch, o.name, len(got), body)
				continue
			}
			for i, m := range msgs {
				g := got[i]
				if g.kind != m.Kind || g.method != m.Action.Method {
					t.Errorf("message %d: classifier %v %q, %s reads %v %q\n%s", i, m.Kind, m.Action.Method, o.name, g.kind, g.method, body)
				}
				if m.Kind != KindResponse {
					if m.Action.HasTarget && (g.target != m.Action.Target || g.ref != m.Action.Ref) {
						t.Errorf("message %d: classifier judged %s %q (ref %q), %s reads %q (ref %q)\n%s",
							i, m.Action.Method, m.Action.Target, m.Action.Ref, o.name, g.target, g.ref, body)
					}
				}
				if same, _ := sameID(m.ID, g.id); !same {
					// The classifier accepts only string ids and integers
					// within ±2^53, which every decoder reads alike.
					t.Errorf("message %d: id %s, %s reads %#v\n%s", i, m.ID, o.name, g.id, body)
				}
			}
		}
	}
	t.Logf("%d bodies, %d accepted by the classifier; of those the SDK refused %d and encoding/json %d (no differential: nothing runs)",
		len(corpus), accepted, sdkRefused, stdRefused)
	if accepted < 200 {
		t.Errorf("only %d accepted bodies: the corpus no longer exercises the classifier", accepted)
	}
}

// TestDifferentialOracles proves that the two oracles can see a
// differential: on bodies the classifier refuses, the SDK (exact keys) and
// encoding/json (case-insensitive keys, last duplicate wins) read
// different targets, and MakeID truncates a fractional id.
func TestDifferentialOracles(t *testing.T) {
	for _, tc := range []struct {
		body     string
		sdk, std string
		sdkID    any
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"x"}}`, "", "x", int64(1)},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","NAME":"b"}}`, "a", "b", int64(1)},
		{`{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"a","name":"b"}}`, "b", "b", int64(1)},
	} {
		if err := Classify([]byte(tc.body), new(Body)); err == nil {
			t.Errorf("classifier accepts %s", tc.body)
		}
		sdk, err := readSDK([]byte(tc.body))
		if err != nil || sdk[0].target != tc.sdk || sdk[0].id != tc.sdkID {
			t.Errorf("SDK oracle on %s: %+v %v, want target %q id %v", tc.body, sdk, err, tc.sdk, tc.sdkID)
		}
		std, err := readStd([]byte(tc.body))
		if err != nil || std[0].target != tc.std {
			t.Errorf("encoding/json oracle on %s: %+v %v, want target %q", tc.body, std, err, tc.std)
		}
	}
}
