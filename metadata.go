package mcpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(MCPProtectedResource{})
	httpcaddyfile.RegisterHandlerDirective("mcp_protected_resource", parseProtectedResourceCaddyfile)
	// Before every auth directive: the metadata is public, and clients
	// fetch it before they have a token.
	httpcaddyfile.RegisterDirectiveOrder("mcp_protected_resource", httpcaddyfile.Before, "basic_auth")
}

// wellKnownPRM is the well-known URI suffix of RFC 9728.
const wellKnownPRM = "/.well-known/oauth-protected-resource"

// ResourceMetadata is the OAuth 2.0 Protected Resource Metadata (RFC 9728)
// of the MCP endpoint: what a client fetches, after a 401, to find the
// authorization server to get a token from.
//
// It is served at the URL built from the resource: for
// https://mcp.example.com/mcp that is
// https://mcp.example.com/.well-known/oauth-protected-resource/mcp (and the
// root form /.well-known/oauth-protected-resource is answered too). That
// URL is taken from the configured resource, never from the request's
// Host or X-Forwarded-* headers, so it is the same behind TLS termination
// and behind other proxies; such a proxy must route that URL to Caddy.
type ResourceMetadata struct {
	// The resource identifier: the canonical URL of the MCP endpoint, the
	// URL clients connect to. Clients compare it byte for byte with the
	// URL they used and send it as the resource parameter (RFC 8707) when
	// they ask for a token, so it must be one of the jwt audiences.
	// Default: the jwt audience, when there is exactly one.
	Resource string `json:"resource,omitempty"`

	// The issuer URLs of the authorization servers that issue tokens for
	// this resource. Default: the jwt issuer.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`

	// The scopes a client may ask for. Default: the scopes of the jwt
	// scope_role mappings, in order.
	ScopesSupported []string `json:"scopes_supported,omitempty"`

	// A human-readable name of the resource. Default: none.
	ResourceName string `json:"resource_name,omitempty"`

	// A URL of documentation for developers. Default: none.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
}

// resolve expands {env.*} and {file.*} placeholders in the URLs.
func (md *ResourceMetadata) resolve(repl *caddy.Replacer) error {
	var err error
	if md.Resource, err = resolveConfigString(repl, "resource", md.Resource); err != nil {
		return err
	}
	as := make([]string, len(md.AuthorizationServers))
	for i, s := range md.AuthorizationServers {
		if as[i], err = resolveConfigString(repl, fmt.Sprintf("authorization_servers[%d]", i), s); err != nil {
			return err
		}
	}
	md.AuthorizationServers = as
	return nil
}

// prmDoc is a provisioned metadata document, ready to serve.
type prmDoc struct {
	url  string // where the document is served, for resource_metadata="…"
	path string // the path of url
	body []byte
}

// buildPRM checks the metadata and renders the document.
func buildPRM(md ResourceMetadata) (*prmDoc, error) {
	if md.Resource == "" {
		return nil, errors.New("resource is required")
	}
	u, err := checkURL(md.Resource)
	if err != nil {
		return nil, fmt.Errorf("resource: %v", err)
	}
	if len(md.AuthorizationServers) == 0 {
		return nil, errors.New("at least one authorization server is required")
	}
	for i, as := range md.AuthorizationServers {
		if _, err := checkURL(as); err != nil {
			return nil, fmt.Errorf("authorization_servers[%d]: %v", i, err)
		}
	}
	for i, s := range md.ScopesSupported {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("scopes_supported[%d]: %q is not a valid scope", i, s)
		}
	}
	if md.ResourceDocumentation != "" {
		if _, err := checkURL(md.ResourceDocumentation); err != nil {
			return nil, fmt.Errorf("resource_documentation: %v", err)
		}
	}

	// RFC 9728 §3.1: the well-known segment goes between the host and the
	// path; a path of "/" alone is dropped.
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	doc := &prmDoc{path: wellKnownPRM + path}
	doc.url = u.Scheme + "://" + u.Host + doc.path
	if strings.ContainsAny(doc.url, `"\`) {
		return nil, errors.New("resource: quotes and backslashes are not allowed")
	}

	out := struct {
		Resource              string   `json:"resource"`
		AuthorizationServers  []string `json:"authorization_servers"`
		ScopesSupported       []string `json:"scopes_supported,omitempty"`
		BearerMethods         []string `json:"bearer_methods_supported"`
		ResourceName          string   `json:"resource_name,omitempty"`
		ResourceDocumentation string   `json:"resource_documentation,omitempty"`
	}{md.Resource, md.AuthorizationServers, md.ScopesSupported, []string{"header"}, md.ResourceName, md.ResourceDocumentation}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	doc.body = buf.Bytes()
	return doc, nil
}

// checkURL accepts an absolute http(s) URL without user info, query or
// fragment (RFC 8707 §2, RFC 9728 §1.2).
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%q is not an http(s) URL", s)
	case u.Host == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not hold user info", s)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("%q must not have a query", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("%q must not have a fragment", s)
	}
	return u, nil
}

// matches reports whether a request path asks for this document: the path
// form or the root form.
func (d *prmDoc) matches(path string) bool {
	return path == d.path || path == wellKnownPRM
}

// serve answers a request for the document: GET and HEAD get it, OPTIONS
// (a CORS preflight) gets 204, anything else 405. Browser-based clients
// read it cross-origin, and it holds nothing secret: any origin may.
func (d *prmDoc) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(d.body)))
		h.Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(d.body)
		}
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" && validHeaderList(rh) {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		h.Set("Access-Control-Max-Age", "86400")
		h.Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"error":"method_not_allowed","error_description":"the resource metadata is read with GET"}` + "\n"))
	}
}

func validHeaderList(s string) bool {
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !validHeaderName(f) {
			return false
		}
	}
	return true
}

// MCPProtectedResource serves the Protected Resource Metadata of an MCP
// endpoint on its own, for sites where mcp_auth does not see the
// well-known path: `mcp_auth /mcp*` with a matcher, or mcp_auth inside
// `handle /mcp* { … }`. Other requests pass through untouched.
type MCPProtectedResource struct {
	ResourceMetadata

	doc *prmDoc
}

// CaddyModule returns the Caddy module information.
func (MCPProtectedResource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_protected_resource",
		New: func() caddy.Module { return new(MCPProtectedResource) },
	}
}

// Provision checks the metadata and renders the document.
func (p *MCPProtectedResource) Provision(_ caddy.Context) error {
	md := p.ResourceMetadata
	if err := md.resolve(caddy.NewReplacer()); err != nil {
		return fmt.Errorf("mcp_protected_resource: %v", err)
	}
	doc, err := buildPRM(md)
	if err != nil {
		return fmt.Errorf("mcp_protected_resource: %v", err)
	}
	p.doc = doc
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (p *MCPProtectedResource) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if p.doc.matches(r.URL.Path) {
		p.doc.serve(w, r)
		return nil
	}
	return next.ServeHTTP(w, r)
}

func parseProtectedResourceCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(MCPProtectedResource)
	err := p.UnmarshalCaddyfile(h.Dispenser)
	return p, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	mcp_protected_resource [<matcher>] {
//		resource               <url>      # required: the MCP endpoint's URL
//		authorization_servers  <url...>   # required
//		scopes_supported       <scope...>
//		resource_name          <name>
//		resource_documentation <url>
//	}
//
// The same block, named resource_metadata, sits inside mcp_auth, where
// resource and authorization_servers default to the jwt audience and
// issuer.
func (p *MCPProtectedResource) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	if err := p.ResourceMetadata.unmarshalBody(d, d.Nesting()); err != nil {
		return err
	}
	if p.Resource == "" {
		return d.Err("mcp_protected_resource: resource is required")
	}
	if len(p.AuthorizationServers) == 0 {
		return d.Err("mcp_protected_resource: authorization_servers is required")
	}
	return nil
}

// checkConfigURL checks a URL as written in a Caddyfile; one holding a
// placeholder is checked when the config is loaded.
func checkConfigURL(s string) error {
	if strings.Contains(s, "{") {
		return nil
	}
	_, err := checkURL(s)
	return err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*MCPProtectedResource)(nil)
	_ caddyhttp.MiddlewareHandler = (*MCPProtectedResource)(nil)
	_ caddyfile.Unmarshaler       = (*MCPProtectedResource)(nil)
)
