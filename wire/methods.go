package wire

import "strings"

// Revisions of MCP the module knows, oldest first.
var Revisions = [...]string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}

// OldestRevision is the revision of a request that names none.
const OldestRevision = "2025-03-26"

// RevisionIndex returns the position of a revision in Revisions, or -1.
func RevisionIndex(rev string) int {
	for i, r := range Revisions {
		if r == rev {
			return i
		}
	}
	return -1
}

// TargetKind is what a method's rules can name.
type TargetKind uint8

const (
	// NoTarget: rules name the method only.
	NoTarget TargetKind = iota
	// TargetName: params.name (a tool or prompt name).
	TargetName
	// TargetURI: params.uri, a resource URI in canonical form.
	TargetURI
	// TargetRef: params.ref of completion/complete, a prompt name or a
	// resource template (matched literally).
	TargetRef
)

// Class is how a method is decided.
type Class uint8

const (
	// ClassRule: allowed only by a rule.
	ClassRule Class = iota
	// ClassLifecycle: every authenticated caller may send it; no rule
	// can take it away.
	ClassLifecycle
	// ClassTask: allowed on the caller's own tasks unless a rule denies it.
	ClassTask
	// ClassList: allowed by a rule, or implied by a rule that lets the
	// caller use some item of its family (the reply is filtered).
	ClassList
)

// Method describes one client-to-server method.
type Method struct {
	Name string
	// Since is the revision (or extension) that brought it.
	Since string
	// Removed is the revision that removed it, "" while current.
	Removed string
	Target  TargetKind
	// JudgedAs is the method whose rules decide it, when not itself
	// (skills/get is judged as resources/read of its URI).
	JudgedAs string
	Class    Class
	// Use is, for a list, the method an item of the list needs.
	Use string
}

// Extension names that come with methods.
const (
	ExtTasks  = "io.modelcontextprotocol/tasks"
	ExtSkills = "skills (TypeScript SDK v2)"
)

// methods is the registry of client-to-server methods.
var methods = []Method{
	{Name: "initialize", Since: "2024-11-05", Removed: "2026-07-28", Class: ClassLifecycle},
	{Name: "ping", Since: "2024-11-05", Class: ClassLifecycle},
	{Name: "server/discover", Since: "2026-07-28", Class: ClassLifecycle},
	{Name: "subscriptions/listen", Since: "2026-07-28", Class: ClassLifecycle},
	{Name: "tools/list", Since: "2024-11-05", Class: ClassList, Use: "tools/call"},
	{Name: "tools/call", Since: "2024-11-05", Target: TargetName},
	{Name: "prompts/list", Since: "2024-11-05", Class: ClassList, Use: "prompts/get"},
	{Name: "prompts/get", Since: "2024-11-05", Target: TargetName},
	{Name: "resources/list", Since: "2024-11-05", Class: ClassList, Use: "resources/read"},
	{Name: "resources/templates/list", Since: "2024-11-05", Class: ClassList, Use: "resources/read"},
	{Name: "resources/read", Since: "2024-11-05", Target: TargetURI},
	{Name: "resources/subscribe", Since: "2024-11-05", Removed: "2026-07-28", Target: TargetURI},
	{Name: "resources/unsubscribe", Since: "2024-11-05", Removed: "2026-07-28", Target: TargetURI},
	{Name: "completion/complete", Since: "2024-11-05", Target: TargetRef},
	{Name: "logging/setLevel", Since: "2024-11-05"},
	{Name: "tasks/get", Since: "2025-11-25", Class: ClassTask},
	{Name: "tasks/result", Since: "2025-11-25", Removed: "2026-07-28", Class: ClassTask},
	{Name: "tasks/list", Since: "2025-11-25", Removed: "2026-07-28", Class: ClassTask},
	{Name: "tasks/cancel", Since: "2025-11-25", Class: ClassTask},
	{Name: "tasks/update", Since: ExtTasks, Class: ClassTask},
	{Name: "skills/list", Since: ExtSkills, Class: ClassList, Use: "resources/read"},
	{Name: "skills/get", Since: ExtSkills, Target: TargetURI, JudgedAs: "resources/read"},
	{Name: "resources/directory/read", Since: ExtSkills, Target: TargetURI, JudgedAs: "resources/read"},
	// Client notifications. Every notifications/* method is lifecycle.
	{Name: "notifications/initialized", Since: "2024-11-05", Removed: "2026-07-28", Class: ClassLifecycle},
	{Name: "notifications/cancelled", Since: "2024-11-05", Class: ClassLifecycle},
	{Name: "notifications/progress", Since: "2024-11-05", Class: ClassLifecycle},
	{Name: "notifications/roots/list_changed", Since: "2024-11-05", Class: ClassLifecycle},
	{Name: "notifications/tasks/status", Since: "2025-11-25", Class: ClassLifecycle},
}

var methodIndex = func() map[string]*Method {
	m := make(map[string]*Method, len(methods))
	for i := range methods {
		m[methods[i].Name] = &methods[i]
	}
	return m
}()

// Methods returns the registry, in a fixed order.
func Methods() []Method { return append([]Method(nil), methods...) }

// Lookup returns a known method.
func Lookup(name string) (*Method, bool) {
	m, ok := methodIndex[name]
	return m, ok
}

// ClassOf returns how a method is decided; unknown methods need a rule,
// and every notifications/* method is lifecycle.
func ClassOf(name string) Class {
	if m, ok := methodIndex[name]; ok {
		return m.Class
	}
	if strings.HasPrefix(name, "notifications/") {
		return ClassLifecycle
	}
	return ClassRule
}

// ListUse maps a list method to the method an item of it needs.
func ListUse(method string) (string, bool) {
	if m, ok := methodIndex[method]; ok && m.Class == ClassList {
		return m.Use, true
	}
	return "", false
}
