package mcpauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// provisionOAuth sets up the OAuth 2.1 resource server: the role mapping,
// the access token verifiers (jwt, then introspection), the Protected
// Resource Metadata and the challenge parameters. It is called at the end
// of Provision and touches the network never: a key set URL is fetched in
// the background.
func (m *MCPAuth) provisionOAuth(ctx caddy.Context, roles map[string]*compiledRole) error {
	if m.JWT == nil && m.Introspection == nil && m.ResourceMetadata == nil && len(m.ChallengeScope) == 0 {
		return nil
	}
	repl := caddy.NewReplacer()
	md := ResourceMetadata{}
	if m.ResourceMetadata != nil {
		md = *m.ResourceMetadata
	}
	if err := md.resolve(repl); err != nil {
		return fmt.Errorf("resource_metadata: %v", err)
	}

	// One mapping serves every kind of access token: the jwt block's, or
	// the introspection block's when there is no jwt.
	var err error
	switch {
	case m.JWT != nil:
		m.mapper, err = newRoleMapper("jwt", roles, m.JWT.RolesClaim, m.JWT.ScopeRoles)
	case m.Introspection != nil:
		m.mapper, err = newRoleMapper("introspection", roles, m.Introspection.RolesClaim, m.Introspection.ScopeRoles)
	}
	if err != nil {
		return err
	}
	if m.mapper != nil {
		m.invalid = http.StatusUnauthorized
	}
	cache := newPrincipalCache(m.cacheSize())

	var jv *jwtVerifier
	if m.JWT != nil {
		if jv, err = newJWTVerifier(m.JWT, repl, m.mapper, cache, m.logger, m.metrics); err != nil {
			return err
		}
		// The pool entry acquired is released in Cleanup.
		m.verifiers = append(m.verifiers, jv)
		if md.Resource == "" {
			if len(jv.audiences) > 1 {
				return errors.New("resource_metadata: resource is required when jwt names several audiences (clients must be told which one to ask tokens for)")
			}
			md.Resource = jv.audiences[0]
		}
		found := false
		for _, a := range jv.audiences {
			found = found || a == md.Resource
		}
		if !found {
			return fmt.Errorf("resource_metadata: resource %q is not among the jwt audiences %q: clients would obtain tokens this handler refuses", md.Resource, jv.audiences)
		}
		if len(md.AuthorizationServers) == 0 {
			md.AuthorizationServers = []string{jv.issuer}
		}
	}
	if m.Introspection != nil {
		if jv == nil && (md.Resource == "" || len(md.AuthorizationServers) == 0) {
			return errors.New("introspection: without jwt, resource_metadata with resource and authorization_servers is required (the resource is the audience introspected tokens must name, and clients learn from it where to get tokens)")
		}
		in, err := newIntrospector(m.Introspection, repl, m.mapper, cache, m.logger)
		if err != nil {
			return err
		}
		if jv != nil {
			jv.shapeOnly = true
			in.finish(jv.audiences, jv.issuer, md)
		} else {
			in.finish(nil, "", md)
		}
		m.verifiers = append(m.verifiers, in)
	}
	if m.mapper != nil && len(md.ScopesSupported) == 0 {
		md.ScopesSupported = m.mapper.scopes()
	}
	doc, err := buildPRM(md)
	if err != nil {
		return fmt.Errorf("resource_metadata: %v", err)
	}
	m.prm = doc
	m.challengeParams = `, resource_metadata="` + doc.url + `"`
	if len(m.ChallengeScope) > 0 {
		m.challengeScopeParam = `, scope="` + strings.Join(m.ChallengeScope, " ") + `"`
	}
	return nil
}

// cacheSize is the size of the principal cache: the larger of the jwt and
// introspection cache_size settings.
func (m *MCPAuth) cacheSize() int {
	size := 0
	if m.JWT != nil {
		size = m.JWT.CacheSize
	}
	if m.Introspection != nil && m.Introspection.CacheSize > size {
		size = m.Introspection.CacheSize
	}
	if size == 0 {
		size = defaultCacheSize
	}
	return size
}
