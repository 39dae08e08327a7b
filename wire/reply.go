package wire

import (
	"bytes"
	"errors"
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

// Subst replaces every occurrence of a token in a reply by a JSON string's
// contents (the escaped text, without quotes).
type Subst struct {
	Token string
	With  []byte
}

// Policy is what a caller may see of the replies.
type Policy interface {
	// MayUse reports whether the caller may use an item: use is a
	// family's Use method, item its name or URI.
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
}

// Rewriter rewrites the JSON-RPC messages of one caller's replies. With
// a Policy, lists are filtered and marked cacheScope "private", and
// notifications judged; with a Binder, cursors and task ids rewritten.
type Rewriter struct {
	Policy Policy
	Binder Binder
	// Substs are applied to every message.
	Substs []Subst
}

// Active reports whether the rewriter changes anything.
func (rw *Rewriter) Active() bool { return rw.Policy != nil || rw.Binder != nil || len(rw.Substs) > 0 }

// markers of the messages the rewriter reads; any other message passes
// untouched, unparsed.
var (
	markResult = []byte(`"result"`)
	markTaskID = []byte(`"taskId"`)
	markNotify = []byte(`"notifications/`)
	markMeta   = []byte(MetaRelatedTask)
	markState  = []byte(`"requestState"`)
	markCursor = []byte(`"nextCursor"`)
)

func (rw *Rewriter) listsOn() bool { return rw.Policy != nil }
func (rw *Rewriter) tasksOn() bool { return rw.Binder != nil }

// needsParse is the cheap test before a message is parsed.
func (rw *Rewriter) needsParse(msg []byte) bool {
	if rw.listsOn() && bytes.Contains(msg, markResult) {
		for i := range Families {
			if containsKey(msg, Families[i].Key) {
				return true
			}
		}
	}
	if rw.tasksOn() && (bytes.Contains(msg, markTaskID) || bytes.Contains(msg, markMeta) ||
		bytes.Contains(msg, markState) || bytes.Contains(msg, markCursor)) {
		return true
	}
	if rw.Policy != nil && bytes.Contains(msg, markNotify) {
		return true
	}
	return false
}

func containsKey(msg []byte, key string) bool {
	for i := 0; i+len(key)+2 <= len(msg); {
		j := bytes.Index(msg[i:], []byte(key))
		if j < 0 {
			return false
		}
		j += i
		if j > 0 && msg[j-1] == '"' && j+len(key) < len(msg) && msg[j+len(key)] == '"' {
			return true
		}
		i = j + 1
	}
	return false
}

// Message rewrites one JSON-RPC message, or a batch of them, appending
// its edits to edits (settled: sorted, not overlapping). drop is set when
// the whole message must be withheld (a notification the caller may not
// see).
func (rw *Rewriter) Message(msg []byte, edits Edits) (out Edits, drop bool, err error) {
	base := len(edits)
	for _, s := range rw.Substs {
		tok := []byte(s.Token)
		for i := 0; ; {
			j := bytes.Index(msg[i:], tok)
			if j < 0 {
				break
			}
			edits = append(edits, Edit{Span{i + j, i + j + len(tok)}, s.With})
			i += j + len(tok)
		}
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

// object rewrites one JSON-RPC message object at msg[i].
func (rw *Rewriter) object(msg []byte, i int, edits Edits) (Edits, bool, error) {
	var result, method, params Span
	if e := strictObject(msg, i, func(key []byte, v Span) {
		switch string(key) {
		case "result":
			result = v
		case "method":
			method = v
		case "params":
			params = v
		}
	}); e != "" {
		return edits, false, ErrUnfilterable
	}
	if method.Len() > 0 {
		name, ok := DecodeString(msg[method.Start:method.End])
		if !ok {
			return edits, false, ErrUnfilterable
		}
		return rw.serverMessage(msg, name, params, edits)
	}
	if result.Len() > 0 && msg[result.Start] == '{' {
		e, err := rw.result(msg, result, edits)
		return e, false, err
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

// result rewrites a result object: lists, task ids, the related task.
func (rw *Rewriter) result(msg []byte, res Span, edits Edits) (Edits, error) {
	var lists [len(Families)]Span
	var cursor, cacheScope, task, taskID, tasks, meta, state Span
	if e := strictObject(msg, res.Start, func(key []byte, v Span) {
		switch string(key) {
		case "nextCursor":
			cursor = v
		case "cacheScope":
			cacheScope = v
		case "task":
			task = v
		case "taskId":
			taskID = v
		case "tasks":
			tasks = v
		case "_meta":
			meta = v
		case "requestState":
			state = v
		default:
			for i := range Families {
				if string(key) == Families[i].Key {
					lists[i] = v
				}
			}
		}
	}); e != "" {
		return edits, ErrUnfilterable
	}
	var err error
	list := ""
	if rw.listsOn() {
		for i := range Families {
			sp := lists[i]
			if sp.Len() == 0 {
				continue
			}
			if msg[sp.Start] != '[' {
				return edits, ErrUnfilterable
			}
			if list == "" {
				list = Families[i].List
			}
			if edits, err = rw.filterArray(msg, sp, &Families[i], edits); err != nil {
				return edits, err
			}
		}
		if list != "" {
			edits = markPrivate(msg, res, cacheScope, edits)
			if rw.Binder != nil && cursor.Len() > 0 {
				c, ok := DecodeString(msg[cursor.Start:cursor.End])
				if !ok {
					return edits, ErrUnfilterable
				}
				if sealed, ok := rw.Binder.Cursor(list, c); ok {
					edits = append(edits, ReplaceString(cursor, sealed))
				}
			}
		}
	}
	if !rw.tasksOn() {
		return edits, nil
	}
	if tasks.Len() > 0 && list == "" && cursor.Len() > 0 {
		// A tasks/list page: its cursor is sealed too.
		c, ok := DecodeString(msg[cursor.Start:cursor.End])
		if !ok {
			return edits, ErrUnfilterable
		}
		if sealed, ok := rw.Binder.Cursor("tasks/list", c); ok {
			edits = append(edits, ReplaceString(cursor, sealed))
		}
	}
	if state.Len() > 0 {
		// The opaque state of a multi-round-trip request.
		st, ok := DecodeString(msg[state.Start:state.End])
		if !ok {
			return edits, ErrUnfilterable
		}
		if w, ok := rw.Binder.State(st); ok {
			edits = append(edits, ReplaceString(state, w))
		}
	}
	// A CreateTaskResult (result.task), a Task result (tasks/get,
	// tasks/cancel: result.taskId), a tasks/list (result.tasks).
	if task.Len() > 0 && msg[task.Start] == '{' {
		if edits, err = rw.wrapTaskID(msg, task, edits); err != nil {
			return edits, err
		}
	}
	if taskID.Len() > 0 {
		if edits, err = rw.wrapTaskID(msg, res, edits); err != nil {
			return edits, err
		}
	}
	if tasks.Len() > 0 {
		if msg[tasks.Start] != '[' {
			return edits, ErrUnfilterable
		}
		d := deleter{edits: &edits}
		walkArray(msg, tasks.Start, func(item Span) bool {
			keep := false
			if msg[item.Start] == '{' {
				if sp, ok := onlyString(msg, item, "taskId"); ok {
					id, _ := DecodeString(msg[sp.Start:sp.End])
					if rw.Binder.KeepTask(id) {
						keep = true
						if w, ok := rw.Binder.Task(id); ok {
							edits = append(edits, ReplaceString(sp, w))
						}
					}
				}
			}
			d.item(item, keep)
			return true
		})
		d.finish()
	}
	if meta.Len() > 0 {
		edits, err = rw.relatedTaskIn(msg, meta, edits)
	}
	return edits, err
}

// markPrivate sets the result's cacheScope to "private": a filtered list
// depends on the caller's authorization and must not be shared across
// authorization contexts (revision 2026-07-28's caching rules).
func markPrivate(msg []byte, res, cacheScope Span, edits Edits) Edits {
	if cacheScope.Len() > 0 {
		return append(edits, Edit{cacheScope, []byte(`"private"`)})
	}
	at := skipWS(msg, res.Start+1)
	if msg[at] == '}' {
		return append(edits, Edit{Span{at, at}, []byte(`"cacheScope":"private"`)})
	}
	return append(edits, Edit{Span{at, at}, []byte(`"cacheScope":"private",`)})
}

// filterArray deletes the items of a list that the caller may not use;
// items that are not objects with a string in the family's field (read
// unambiguously) are deleted too.
func (rw *Rewriter) filterArray(msg []byte, arr Span, f *Family, edits Edits) (Edits, error) {
	d := deleter{edits: &edits}
	walkArray(msg, arr.Start, func(item Span) bool {
		keep := false
		if msg[item.Start] == '{' {
			if sp, ok := onlyString(msg, item, f.Field); ok {
				if name, ok := DecodeString(msg[sp.Start:sp.End]); ok && (!f.URI || URIProblem(name) == "") {
					keep = rw.Policy.MayUse(f.Use, name)
				}
			}
		}
		d.item(item, keep)
		return true
	})
	d.finish()
	return edits, nil
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

// wrapTaskID replaces the taskId string of the object at obj.
func (rw *Rewriter) wrapTaskID(msg []byte, obj Span, edits Edits) (Edits, error) {
	var at Span
	if e := strictObject(msg, obj.Start, func(key []byte, v Span) {
		if string(key) == "taskId" {
			at = v
		}
	}); e != "" {
		return edits, ErrUnfilterable
	}
	if at.Len() == 0 {
		return edits, nil
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
	var meta Span
	if e := strictObject(msg, params.Start, func(key []byte, v Span) {
		if string(key) == "_meta" {
			meta = v
		}
	}); e != "" {
		return edits, ErrUnfilterable
	}
	if meta.Len() == 0 {
		return edits, nil
	}
	return rw.relatedTaskIn(msg, meta, edits)
}

func (rw *Rewriter) relatedTaskIn(msg []byte, meta Span, edits Edits) (Edits, error) {
	if msg[meta.Start] != '{' {
		return edits, nil
	}
	var rel Span
	if e := strictObject(msg, meta.Start, func(key []byte, v Span) {
		if string(key) == MetaRelatedTask {
			rel = v
		}
	}); e != "" {
		return edits, ErrUnfilterable
	}
	if rel.Len() == 0 || msg[rel.Start] != '{' {
		return edits, nil
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
