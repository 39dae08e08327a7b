package mcpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// A policy test file is JSON (what Caddy's own config is, read with the
// standard library):
//
//	{
//		"config": "Caddyfile",            // optional; relative to this file; --config wins
//		"cases": [
//			{
//				"name":   "the reader may not delete records",
//				"token":  "bob",            // or "roles": ["reader"], or "claims": {…}
//				"method": "tools/call",
//				"target": "delete_record",
//				"want":   "deny",           // allow, deny or refused
//				"decided_by": "no rule matched"   // optional: the deciding rule, as explain prints it
//			}
//		]
//	}
//
// Further case fields: "handler" (1-based, when the config has several
// mcp_auth handlers), "ref" (ref/prompt or ref/resource, for
// completion/complete). "arguments" is reserved for rules over tool
// arguments, which this version does not have: a case that sets it is an
// error rather than a test that proves nothing. Unknown fields are errors.

// policyTestFile is the JSON of a policy test file.
type policyTestFile struct {
	Config  string
	Adapter string
	Cases   []policyCase
}

// policyCase is one expectation.
type policyCase struct {
	Name      string          `json:"name,omitempty"`
	Token     string          `json:"token,omitempty"`
	Roles     []string        `json:"roles,omitempty"`
	Claims    map[string]any  `json:"claims,omitempty"`
	Handler   int             `json:"handler,omitempty"`
	Method    string          `json:"method"`
	Target    *string         `json:"target,omitempty"`
	Ref       string          `json:"ref,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Want      string          `json:"want"`
	DecidedBy string          `json:"decided_by,omitempty"`

	line int
}

// parsePolicyTests reads a test file, with the line of each case. Errors
// name the file and the line.
func parsePolicyTests(path string, raw []byte) (*policyTestFile, error) {
	f := &policyTestFile{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	fail := func(err error) (*policyTestFile, error) {
		return nil, fmt.Errorf("%s:%d: %v", path, lineAt(raw, int(dec.InputOffset())), err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fail(errors.New("want a JSON object"))
	}
	sawCases := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := t.(string)
		switch key {
		case "config":
			err = dec.Decode(&f.Config)
		case "adapter":
			err = dec.Decode(&f.Adapter)
		case "cases":
			sawCases = true
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return fail(errors.New("cases: want an array"))
			}
			for dec.More() {
				line := lineAt(raw, int(dec.InputOffset()))
				var c policyCase
				if err := dec.Decode(&c); err != nil {
					return nil, fmt.Errorf("%s:%d: case %d: %v", path, line, len(f.Cases)+1, err)
				}
				c.line = line
				f.Cases = append(f.Cases, c)
			}
			_, err = dec.Token() // ']'
		default:
			return fail(fmt.Errorf("unknown field %q (want config, adapter, cases)", key))
		}
		if err != nil {
			return fail(err)
		}
	}
	if !sawCases || len(f.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	return f, nil
}

// lineAt is the line of the first token at or after off: a decoder's
// offset stands after the previous token, before white space and commas.
func lineAt(raw []byte, off int) int {
	off = min(off, len(raw))
	for off < len(raw) && bytes.IndexByte([]byte(" \t\r\n,:"), raw[off]) >= 0 {
		off++
	}
	return 1 + bytes.Count(raw[:off], []byte("\n"))
}

// check reads a case on its own.
func (c *policyCase) check() error {
	switch {
	case c.Method == "":
		return errors.New("method is required")
	case c.Want != "allow" && c.Want != "deny" && c.Want != "refused":
		return fmt.Errorf("want: %q is not allow, deny or refused", c.Want)
	case len(c.Arguments) > 0:
		return errors.New("arguments: reserved for rules over tool arguments, which this version does not have")
	case c.DecidedBy != "" && c.Want == "refused":
		return errors.New("decided_by: a refused request is decided by no rule")
	}
	if (caller{Token: c.Token, Roles: c.Roles, Claims: c.Claims}).kinds() != 1 {
		return errors.New("name the caller once: token, roles or claims")
	}
	return nil
}

func (c *policyCase) title(i int) string {
	if c.Name != "" {
		return c.Name
	}
	return fmt.Sprintf("case %d", i+1)
}

// runPolicyTests runs the cases of a test file against a config and
// reports each failure with what was wanted and what was got. It returns
// the number of failed cases; an error is a file or config that could
// not be read.
func runPolicyTests(out io.Writer, testPath, configPath, adapter string, verbose bool) (failed int, err error) {
	raw, err := os.ReadFile(testPath)
	if err != nil {
		return 0, err
	}
	tf, err := parsePolicyTests(testPath, raw)
	if err != nil {
		return 0, err
	}
	if configPath == "" {
		if tf.Config == "" {
			return 0, fmt.Errorf("%s: no config: set \"config\" in the file or pass --config", testPath)
		}
		configPath = tf.Config
		if !filepath.IsAbs(configPath) {
			configPath = filepath.Join(filepath.Dir(testPath), configPath)
		}
		if adapter == "" {
			adapter = tf.Adapter
		}
	}
	cfg, err := os.ReadFile(configPath)
	if err != nil {
		return 0, err
	}
	ps, err := loadPolicies(cfg, adapterFor(adapter, configPath), configPath)
	if err != nil {
		return 0, err
	}
	for i := range tf.Cases {
		c := &tf.Cases[i]
		where := fmt.Sprintf("%s:%d", testPath, c.line)
		v, err := runCase(ps, c)
		if err != nil {
			failed++
			fmt.Fprintf(out, "%s: ERROR: %s\n    %v\n", where, c.title(i), err)
			continue
		}
		got := v.Decision
		if v.Decision == "refused" {
			got += fmt.Sprintf(" (%d): %s", v.Status, v.Problem)
		} else {
			got += ", decided by " + v.DecidedBy
		}
		ok := v.Decision == c.Want && (c.DecidedBy == "" || c.DecidedBy == v.DecidedBy)
		if ok {
			if verbose {
				fmt.Fprintf(out, "%s: PASS: %s\n", where, c.title(i))
			}
			continue
		}
		failed++
		want := c.Want
		if c.DecidedBy != "" {
			want += ", decided by " + c.DecidedBy
		}
		fmt.Fprintf(out, "%s: FAIL: %s\n    %s for %s\n    want: %s\n    got:  %s\n", where, c.title(i), v.action(), v.Caller, want, got)
	}
	n := len(tf.Cases)
	fmt.Fprintf(out, "PASS: %d/%d\n", n-failed, n)
	if failed > 0 {
		fmt.Fprintf(out, "FAIL: %d/%d\n", failed, n)
	}
	return failed, nil
}

func runCase(ps []*policy, c *policyCase) (verdict, error) {
	if err := c.check(); err != nil {
		return verdict{}, err
	}
	r, err := pick(ps, c.Handler, caller{Token: c.Token, Roles: c.Roles, Claims: c.Claims})
	if err != nil {
		return verdict{}, err
	}
	a := Action{Method: c.Method, Ref: c.Ref}
	if c.Target != nil {
		a.Target, a.HasTarget = *c.Target, true
	}
	return r.judge(a)
}
