package mcpauth

import (
	"strings"
	"testing"
)

// TestURITargetsThatCanNeverMatch: requests name resources in canonical
// form only, so a rule target that is not canonical can never match: a
// config error, not a deny that silently does nothing.
func TestURITargetsThatCanNeverMatch(t *testing.T) {
	for target, bad := range map[string]bool{
		"file:///docs/*": false, "https://example.com/*": false, "*secret*": false, "db:orders": false,
		"https://example.com*": false, "file:///docs/readme.md": false,
		"https://Example.com/*": true, "FILE:///docs/*": true, "file:///docs/../private/x": true,
		"https://example.com": true, "file:/private/secrets.txt": true,
	} {
		err := (Role{Deny: []Rule{{Method: "resources/read", Targets: []string{target}}}, Allow: []Rule{{Method: "*"}}}).validate("r", ruleMethods{})
		if got := err != nil && strings.Contains(err.Error(), "can never match"); got != bad {
			t.Errorf("target %q: err %v, want a refusal %v", target, err, bad)
		}
	}
	// Not for a glob over methods that take other targets too.
	if err := (Role{Deny: []Rule{{Method: "*", Targets: []string{"FILE:///*"}}}, Allow: []Rule{{Method: "*"}}}).validate("r", ruleMethods{}); err != nil {
		t.Errorf("deny * FILE:///*: %v", err)
	}
}
