package wire

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// ErrUnfilterable is returned for a reply message that cannot be read
// unambiguously where it must be rewritten; such a message is withheld,
// never passed on as it is.
var ErrUnfilterable = errors.New("reply cannot be filtered")

// Family is one kind of MCP list: the key of its items in a list result,
// the field naming each item, the method whose permission an item needs,
// and the list method.
type Family struct {
	Key, Field, Use, List string
	// URI: the item field is a resource URI, shown only in canonical form.
	URI bool
}

// Families are every list whose reply is filtered. A template is shown
// when its uriTemplate, read literally, matches the caller's
// resources/read rules: the same test that completion/complete applies
// to ref/resource.
var Families = [...]Family{
	{Key: "tools", Field: "name", Use: "tools/call", List: "tools/list"},
	{Key: "prompts", Field: "name", Use: "prompts/get", List: "prompts/list"},
	{Key: "resources", Field: "uri", Use: "resources/read", List: "resources/list", URI: true},
	{Key: "resourceTemplates", Field: "uriTemplate", Use: "resources/read", List: "resources/templates/list"},
	{Key: "skills", Field: "uri", Use: "resources/read", List: "skills/list", URI: true},
}

// HiddenMarker starts every name the module hands a backend in place of
// a hidden one (and HiddenScheme every such resource URI): a sealed token
// of base64url characters only the module can open. Wherever a backend
// echoes one — the reply, a later notification, a replayed event — the
// rewriter puts the caller's name back.
const (
	HiddenMarker = "mcpauth-h."
	HiddenScheme = "x-mcpauth:"
)

// Policy is what a caller may see of the replies.
type Policy interface {
	// MayUse reports whether the caller may use an item: use is a
	// family's Use method, item its name or URI (valid only during the
	// call: it may alias the reply's bytes).
	MayUse(use, item string) bool
	// MaySubscribe judges a notifications/resources/updated, and each
	// URI a notifications/subscriptions/acknowledged names.
	MaySubscribe(uri string) bool
	// MayList judges a list_changed notification by its list method.
	MayList(list string) bool
}

// Binder rewrites the ids a reply hands the caller. ok=false leaves a
// value as it is.
type Binder interface {
	// Cursor maps a filtered list's nextCursor to what the client gets.
	Cursor(list, cursor string) (string, bool)
	// Task maps a backend task id to the one the client gets.
	Task(id string) (string, bool)
	// KeepTask reports whether a task of a tasks/list is the caller's.
	KeepTask(id string) bool
	// State maps the requestState of an input_required result to the one
	// the client gets.
	State(state string) (string, bool)
	// Unhide opens a hidden-name token (HiddenMarker and its base64url
	// run); ok is false for one not sealed for this caller.
	Unhide(token string) (name string, ok bool)
}

// Rewriter rewrites the JSON-RPC messages of one caller's replies. With
// a Policy, lists are filtered and marked cacheScope "private", and
// notifications judged; with a Binder, cursors and task ids rewritten.
type Rewriter struct {
	Policy Policy
	Binder Binder
	// Hidden: look for hidden-name tokens to put the names back.
	Hidden bool
}

func (rw *Rewriter) listsOn() bool { return rw.Policy != nil }
func (rw *Rewriter) tasksOn() bool { return rw.Binder != nil }

// needsParse is the cheap test before a message is parsed: one pass over
// the message's quotes for the strings the rewriter acts on (a result
// with a list key; a task id, related task, request state or cursor; a
// notification); any other message passes untouched, unparsed. An escape
// that could spell one of them (\u, \/) sends the message to the parser,
// which decodes keys, and so does a string that differs from a protocol
// key only in case or by a Unicode fold ("Tools", "reſources", "taskid":
// a client whose decoder matches keys case-insensitively reads them as
// the key), which the parser refuses; so no spelling slips past.
func (rw *Rewriter) needsParse(msg []byte) bool {
	lists, tasks, notes := rw.listsOn(), rw.tasksOn(), rw.Policy != nil
	if !lists && !tasks && !notes {
		return false
	}
	for i := 0; ; i++ {
		j := bytes.IndexByte(msg[i:], '\\')
		if j < 0 || i+j+1 >= len(msg) {
			break
		}
		i += j + 1
		if c := msg[i]; c == 'u' || c == '/' {
			return true
		}
	}
	result, family := false, false
	for i := 0; ; {
		j := bytes.IndexByte(msg[i:], '"')
		if j < 0 {
			return false
		}
		i += j + 1
		rest := msg[i:]
		if len(rest) < 5 {
			return false
		}
		switch rest[0] {
		case 'r':
			result = result || lists && quoted(rest, "result")
			if tasks && quoted(rest, "requestState") {
				return true
			}
		case 't':
			if tasks && quoted(rest, "taskId") {
				return true
			}
		case 'n':
			if tasks && quoted(rest, "nextCursor") || notes && bytes.HasPrefix(rest, markNotify) {
				return true
			}
		case 'i':
			if tasks && quoted(rest, MetaRelatedTask) {
				return true
			}
		}
		if foldStart[rest[0]] && foldedKey(rest) {
			return true
		}
		if lists && !family && familyStart[rest[0]] {
			for f := range Families {
				family = family || quoted(rest, Families[f].Key)
			}
		}
		if result && family {
			return true
		}
	}
}

// familyStart marks the first bytes of the Families' keys.
var familyStart = func() (t [256]bool) {
	for _, f := range Families {
		t[f.Key[0]] = true
	}
	return t
}()

var markNotify = []byte("notifications/")

// foldStart marks the bytes a case or Unicode variant of a protocol key
// can start with: either case of a key's first letter, and any byte of a
// multi-byte UTF-8 sequence.
var foldStart = func() (t [256]bool) {
	for _, p := range protocolKeys {
		c := p[0]
		t[c] = true
		if c >= 'a' && c <= 'z' {
			t[c-'a'+'A'] = true
		}
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

// foldedKey reports whether the string that rest starts with (it ends at
// the next quote) is a protocol key up to case or Unicode folds but not
// the key itself. The bytes before the next quote are the whole string:
// a message with an escape other than \" never gets here, and an
// escaped quote only cuts the string shorter, so at worst a variant's
// prefix is compared, never a longer string that would hide one.
func foldedKey(rest []byte) bool {
	k := bytes.IndexByte(rest, '"')
	if k < 0 || k > maxFoldKey {
		return false
	}
	key := rest[:k]
	if !mayFold(key) {
		return false
	}
	var buf [maxFoldKey]byte
	ascii := true
	for i, c := range key {
		if c >= 0x80 {
			ascii = false
			break
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	if ascii {
		p, ok := lowerKeys[string(buf[:len(key)])]
		return ok && p != string(key)
	}
	for _, p := range protocolKeys {
		if len(key) <= 4*len(p) && string(key) != p && strings.EqualFold(string(key), p) {
			return true
		}
	}
	return false
}

// lowerKeys maps the lower-case form of each protocol key to the key.
var lowerKeys = func() map[string]string {
	m := make(map[string]string, len(protocolKeys))
	for _, p := range protocolKeys {
		m[strings.ToLower(p)] = p
	}
	return m
}()

// quoted tells whether b starts with s and the quote that closes it.
func quoted(b []byte, s string) bool {
	return len(b) > len(s) && b[len(s)] == '"' && string(b[:len(s)]) == s
}

// Message rewrites one JSON-RPC message, or a batch of them, appending
// its edits to edits (settled: sorted, not overlapping). drop is set when
// the whole message must be withheld (a notification the caller may not
// see).
func (rw *Rewriter) Message(msg []byte, edits Edits) (out Edits, drop bool, err error) {
	base := len(edits)
	if rw.Hidden && rw.Binder != nil {
		edits = rw.unhide(msg, edits)
	}
	if rw.needsParse(msg) {
		i := skipWS(msg, 0)
		if i < len(msg) {
			if !ValidJSON(msg) {
				return edits[:base], false, ErrUnfilterable
			}
			switch msg[i] {
			case '{':
				edits, drop, err = rw.object(msg, i, edits)
			case '[':
				edits, err = rw.batch(msg, i, edits)
			}
			if err != nil {
				return edits[:base], false, err
			}
		}
	}
	if drop {
		return edits[:base], true, nil
	}
	return append(edits[:base], Edits(edits[base:]).settle()...), false, nil
}

// batch rewrites each message of a JSON array; a dropped message is cut
// out of the array.
func (rw *Rewriter) batch(msg []byte, i int, edits Edits) (Edits, error) {
	d := deleter{edits: &edits}
	var err error
	walkArray(msg, i, func(v Span) bool {
		keep := true
		if msg[v.Start] == '{' {
			var drop bool
			edits, drop, err = rw.object(msg, v.Start, edits)
			keep = !drop
		}
		d.item(v, keep)
		return err == nil
	})
	if err != nil {
		return edits, err
	}
	d.finish()
	return edits, nil
}

// object rewrites one JSON-RPC message object at msg[i]. A result object
// is rewritten while the message is walked, so that its bytes are walked
// once; its edits are dropped again if the message turns out to be a
// request.
func (rw *Rewriter) object(msg []byte, i int, edits Edits) (Edits, bool, error) {
	var method, params Span
	base := len(edits)
	var err error
	_, problem := visitObject(msg, i, func(key []byte, vs int) int {
		switch string(key) {
		case "result":
			if msg[vs] == '{' && err == nil {
				var end int
				edits, end, err = rw.result(msg, vs, edits)
				return end
			}
		case "method":
			method = Span{vs, skipValue(msg, vs)}
			return method.End
		case "params":
			params = Span{vs, skipValue(msg, vs)}
			return params.End
		}
		return skipValue(msg, vs)
	})
	if problem != "" || err != nil {
		return edits[:base], false, ErrUnfilterable
	}
	if method.Len() > 0 {
		name, ok := DecodeString(msg[method.Start:method.End])
		if !ok {
			return edits[:base], false, ErrUnfilterable
		}
		return rw.serverMessage(msg, name, params, edits[:base])
	}
	return edits, false, nil
}

// serverMessage rewrites a request or notification from the server.
func (rw *Rewriter) serverMessage(msg []byte, method string, params Span, edits Edits) (Edits, bool, error) {
	switch {
	case rw.Policy == nil:
	case method == "notifications/resources/updated":
		uri := paramString(msg, params, "uri")
		if uri == nil {
			return edits, true, nil
		}
		if s, ok := DecodeString(msg[uri.Start:uri.End]); !ok || URIProblem(s) != "" || !rw.Policy.MaySubscribe(s) {
			return edits, true, nil
		}
	case method == "notifications/subscriptions/acknowledged":
		e, err := rw.acknowledged(msg, params, edits)
		return e, false, err
	case isListChanged(method):
		if !rw.Policy.MayList(listOfChanged(method)) {
			return edits, true, nil
		}
	}
	if !rw.tasksOn() || params.Len() == 0 || msg[params.Start] != '{' {
		return edits, false, nil
	}
	// A server's own task: its status notification, and the related-task
	// entry of every message that belongs to it. Task ids in tasks/*
	// requests from the server name the client's tasks: never touched.
	if method == "notifications/tasks/status" || method == "notifications/tasks" {
		var err error
		if edits, err = rw.wrapTaskID(msg, params, edits); err != nil {
			return edits, false, err
		}
	}
	if len(method) > 6 && method[:6] == "tasks/" {
		return edits, false, nil
	}
	e, err := rw.relatedTask(msg, params, edits)
	return e, false, err
}

func isListChanged(m string) bool {
	switch m {
	case "notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed":
		return true
	}
	return false
}

func listOfChanged(m string) string {
	switch m {
	case "notifications/tools/list_changed":
		return "tools/list"
	case "notifications/prompts/list_changed":
		return "prompts/list"
	}
	return "resources/list"
}

// paramString returns the span of a top-level string field of params, nil
// when absent or not a string.
func paramString(msg []byte, params Span, key string) *Span {
	if params.Len() == 0 || msg[params.Start] != '{' {
		return nil
	}
	var out *Span
	walkObject(msg, params.Start, func(k []byte, v Span) bool {
		if string(k) == key && msg[v.Start] == '"' {
			out = &v
			return false
		}
		return true
	})
	return out
}

// acknowledged drops the denied URIs from the subscriptions a server
// acknowledges on a subscriptions/listen stream
// (params.notifications.resourceSubscriptions).
func (rw *Rewriter) acknowledged(msg []byte, params Span, edits Edits) (Edits, error) {
	if params.Len() == 0 || msg[params.Start] != '{' {
		return edits, nil
	}
	var notifications Span
	if e := strictObject(msg, params.Start, func(key []byte, v Span) {
		if string(key) == "notifications" {
			notifications = v
		}
	}); e != "" {
		return edits, ErrUnfilterable
	}
	if notifications.Len() == 0 {
		return edits, nil
	}
	if msg[notifications.Start] != '{' {
		return edits, ErrUnfilterable
	}
	var err error
	if e := strictObject(msg, notifications.Start, func(key []byte, v Span) {
		if err != nil || string(key) != "resourceSubscriptions" {
			return
		}
		if msg[v.Start] != '[' {
			err = ErrUnfilterable
			return
		}
		d := deleter{edits: &edits}
		walkArray(msg, v.Start, func(item Span) bool {
			s, ok := DecodeString(msg[item.Start:item.End])
			d.item(item, ok && URIProblem(s) == "" && rw.Policy.MaySubscribe(s))
			return true
		})
		d.finish()
	}); e != "" {
		return edits, ErrUnfilterable
	}
	return edits, err
}

// result rewrites the result object at msg[i] (lists, task ids, the
// related task, the request state) and returns its end.
func (rw *Rewriter) result(msg []byte, i int, edits Edits) (Edits, int, error) {
	var cursor, cacheScope, task, taskID, meta, state Span
	list := ""
	tasksSeen := false
	var err error
	end, problem := visitObject(msg, i, func(key []byte, vs int) int {
		if err != nil {
			return skipValue(msg, vs)
		}
		k := string(key)
		var slot *Span
		switch k {
		case "nextCursor":
			slot = &cursor
		case "cacheScope":
			slot = &cacheScope
		case "task":
			slot = &task
		case "taskId":
			slot = &taskID
		case "_meta":
			slot = &meta
		case "requestState":
			slot = &state
		}
		if slot != nil {
			*slot = Span{vs, skipValue(msg, vs)}
			return slot.End
		}
		switch k {
		case "tasks":
			tasksSeen = true
			if !rw.tasksOn() {
				break
			}
			if msg[vs] != '[' {
				err = ErrUnfilterable
				break
			}
			var e int
			edits, e = rw.filterTasks(msg, vs, edits)
			return e
		}
		if rw.listsOn() {
			for f := range Families {
				if k != Families[f].Key {
					continue
				}
				if msg[vs] != '[' {
					err = ErrUnfilterable
					return skipValue(msg, vs)
				}
				if list == "" {
					list = Families[f].List
				}
				var e int
				edits, e = rw.filterArray(msg, vs, &Families[f], edits)
				return e
			}
		}
		return skipValue(msg, vs)
	})
	if problem != "" {
		return edits, end, ErrUnfilterable
	}
	if err != nil {
		return edits, end, err
	}
	if list != "" {
		edits = markPrivate(msg, i, cacheScope, edits)
	}
	if list == "" && tasksSeen {
		list = "tasks/list"
	}
	if list != "" && rw.Binder != nil && cursor.Len() > 0 {
		c, ok := DecodeString(msg[cursor.Start:cursor.End])
		if !ok {
			return edits, end, ErrUnfilterable
		}
		if sealed, ok := rw.Binder.Cursor(list, c); ok {
			edits = append(edits, ReplaceString(cursor, sealed))
		}
	}
	if !rw.tasksOn() {
		return edits, end, nil
	}
	if state.Len() > 0 {
		// The opaque state of a multi-round-trip request.
		st, ok := DecodeString(msg[state.Start:state.End])
		if !ok {
			return edits, end, ErrUnfilterable
		}
		if w, ok := rw.Binder.State(st); ok {
			edits = append(edits, ReplaceString(state, w))
		}
	}
	// A CreateTaskResult (result.task), a Task result (tasks/get,
	// tasks/cancel, the flat 2026-07-28 CreateTaskResult: result.taskId).
	if task.Len() > 0 && msg[task.Start] == '{' {
		if edits, err = rw.wrapTaskID(msg, task, edits); err != nil {
			return edits, end, err
		}
	}
	if taskID.Len() > 0 {
		id, ok := DecodeString(msg[taskID.Start:taskID.End])
		if !ok {
			return edits, end, ErrUnfilterable
		}
		if w, ok := rw.Binder.Task(id); ok {
			edits = append(edits, ReplaceString(taskID, w))
		}
	}
	if meta.Len() > 0 {
		edits, err = rw.relatedTaskIn(msg, meta, edits)
	}
	return edits, end, err
}

// filterTasks keeps the caller's own tasks of a tasks/list, their ids
// bound, and returns the end of the array.
func (rw *Rewriter) filterTasks(msg []byte, i int, edits Edits) (Edits, int) {
	d := deleter{edits: &edits}
	end := visitArray(msg, i, func(vs int) (int, bool) {
		ve := skipValue(msg, vs)
		keep := false
		if msg[vs] == '{' {
			if sp, ok := onlyString(msg, Span{vs, ve}, "taskId"); ok {
				id, _ := DecodeString(msg[sp.Start:sp.End])
				if rw.Binder.KeepTask(id) {
					keep = true
					if w, ok := rw.Binder.Task(id); ok {
						edits = append(edits, ReplaceString(sp, w))
					}
				}
			}
		}
		d.item(Span{vs, ve}, keep)
		return ve, true
	})
	d.finish()
	return edits, end
}

// markPrivate sets the result's cacheScope to "private": a filtered list
// depends on the caller's authorization and must not be shared across
// authorization contexts (revision 2026-07-28's caching rules).
func markPrivate(msg []byte, res int, cacheScope Span, edits Edits) Edits {
	if cacheScope.Len() > 0 {
		return append(edits, Edit{cacheScope, []byte(`"private"`)})
	}
	at := skipWS(msg, res+1)
	if msg[at] == '}' {
		return append(edits, Edit{Span{at, at}, []byte(`"cacheScope":"private"`)})
	}
	return append(edits, Edit{Span{at, at}, []byte(`"cacheScope":"private",`)})
}

// filterArray deletes the items of the list at msg[i] that the caller
// may not use, and returns the end of the array. Items that are not
// objects with a string in the family's field, read unambiguously, are
// deleted too. Each item is walked once.
func (rw *Rewriter) filterArray(msg []byte, i int, f *Family, edits Edits) (Edits, int) {
	d := deleter{edits: &edits}
	end := visitArray(msg, i, func(vs int) (int, bool) {
		if msg[vs] != '{' {
			ve := skipValue(msg, vs)
			d.item(Span{vs, ve}, false)
			return ve, true
		}
		// Only the family's field is read: it must stand once, with no
		// case variant of it beside it.
		var at Span
		n, amb := 0, false
		ve := visitKeys(msg, vs, func(key []byte, kvs int) (int, bool) {
			kve := skipValue(msg, kvs)
			if string(key) == f.Field {
				at, n = Span{kvs, kve}, n+1
			} else if len(key) <= maxFoldKey && mayFold(key) && strings.EqualFold(string(key), f.Field) {
				amb = true
			}
			return kve, true
		})
		keep := false
		if n == 1 && !amb && msg[at.Start] == '"' {
			if name, ok := decodeTransient(msg[at.Start:at.End]); ok && (!f.URI || URIProblem(name) == "") {
				keep = rw.Policy.MayUse(f.Use, name)
			}
		}
		d.item(Span{vs, ve}, keep)
		return ve, true
	})
	d.finish()
	return edits, end
}

// onlyString returns the span of an object's string field, when the
// object holds it exactly once and no case variant of it.
func onlyString(msg []byte, obj Span, field string) (Span, bool) {
	var at Span
	n := 0
	amb := false
	walkObject(msg, obj.Start, func(key []byte, v Span) bool {
		if string(key) == field {
			at = v
			n++
		} else if len(key) == len(field) && bytes.EqualFold(key, []byte(field)) {
			amb = true
		}
		return true
	})
	if n != 1 || amb || msg[at.Start] != '"' {
		return Span{}, false
	}
	return at, true
}

// findKey returns the span of a key's value in the object at obj (empty
// when absent); an ambiguous object is unfilterable.
func findKey(msg []byte, obj Span, key string) (Span, error) {
	var at Span
	if e := strictObject(msg, obj.Start, func(k []byte, v Span) {
		if string(k) == key {
			at = v
		}
	}); e != "" {
		return Span{}, ErrUnfilterable
	}
	return at, nil
}

// wrapTaskID replaces the taskId string of the object at obj.
func (rw *Rewriter) wrapTaskID(msg []byte, obj Span, edits Edits) (Edits, error) {
	at, err := findKey(msg, obj, "taskId")
	if err != nil || at.Len() == 0 {
		return edits, err
	}
	id, ok := DecodeString(msg[at.Start:at.End])
	if !ok {
		return edits, ErrUnfilterable
	}
	if w, ok := rw.Binder.Task(id); ok {
		edits = append(edits, ReplaceString(at, w))
	}
	return edits, nil
}

// relatedTask wraps the related-task entry of params._meta.
func (rw *Rewriter) relatedTask(msg []byte, params Span, edits Edits) (Edits, error) {
	meta, err := findKey(msg, params, "_meta")
	if err != nil || meta.Len() == 0 {
		return edits, err
	}
	return rw.relatedTaskIn(msg, meta, edits)
}

// relatedTaskIn wraps the taskId of the related-task entry of a _meta
// object.
func (rw *Rewriter) relatedTaskIn(msg []byte, meta Span, edits Edits) (Edits, error) {
	if msg[meta.Start] != '{' {
		return edits, nil
	}
	rel, err := findKey(msg, meta, MetaRelatedTask)
	if err != nil || rel.Len() == 0 || msg[rel.Start] != '{' {
		return edits, err
	}
	return rw.wrapTaskID(msg, rel, edits)
}

// deleter turns keep/drop decisions on the elements of one array into
// deletions of maximal runs of dropped elements, commas included, so that
// the array stays valid JSON. The deletions go straight to the edits.
type deleter struct {
	edits      *Edits
	n          int  // elements seen
	prevEnd    int  // end of the previous element
	runStart   int  // start of the current run of dropped elements
	runPrevEnd int  // end of the element before the run
	inRun      bool // a run is open
	runFirst   bool // the run began at the first element
}

func (d *deleter) item(v Span, keep bool) {
	if !keep {
		if !d.inRun {
			d.inRun, d.runStart, d.runFirst, d.runPrevEnd = true, v.Start, d.n == 0, d.prevEnd
		}
	} else if d.inRun {
		// The run ends before a kept element: delete up to its start.
		*d.edits = append(*d.edits, Edit{Span: Span{d.runStart, v.Start}})
		d.inRun = false
	}
	d.prevEnd = v.End
	d.n++
}

func (d *deleter) finish() {
	if !d.inRun {
		return
	}
	if d.runFirst {
		*d.edits = append(*d.edits, Edit{Span: Span{d.runStart, d.prevEnd}})
	} else {
		// A trailing run: delete from the end of the last kept element,
		// its comma included.
		*d.edits = append(*d.edits, Edit{Span: Span{d.runPrevEnd, d.prevEnd}})
	}
	d.inRun = false
}

var hiddenMarker = []byte(HiddenMarker)

// unhide finds the hidden-name tokens of a message and puts the caller's
// names back: as the text of a JSON string, escaped as JSON; where the
// token stands quoted inside that text (the Go SDK's %q: `\"token\"`),
// escaped as Go quotes it first. A resource URI's token is replaced
// together with its HiddenScheme.
func (rw *Rewriter) unhide(msg []byte, edits Edits) Edits {
	for i := 0; ; {
		j := bytes.Index(msg[i:], hiddenMarker)
		if j < 0 {
			return edits
		}
		start := i + j
		end := start + len(hiddenMarker)
		for end < len(msg) && isBase64URL(msg[end]) {
			end++
		}
		i = end
		name, ok := rw.Binder.Unhide(string(msg[start:end]))
		if !ok {
			continue
		}
		if s := start - len(HiddenScheme); s >= 0 && string(msg[s:start]) == HiddenScheme {
			start = s
		}
		text := name
		if start >= 2 && end+2 <= len(msg) && string(msg[start-2:start]) == `\"` && string(msg[end:end+2]) == `\"` {
			q := strconv.Quote(name)
			text = q[1 : len(q)-1]
		}
		quoted := Quote(text)
		edits = append(edits, Edit{Span{start, end}, []byte(quoted[1 : len(quoted)-1])})
	}
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
