// OAuth: oidc-provider (OpenID certified) as the authorization server, in
// this process, issuing JWT access tokens by client credentials for the MCP
// resources (RFC 8707 resource indicators), and opaque ones for the
// introspected resource, with its introspection and revocation endpoints;
// and the OAuth stack: server-everything behind a Caddy with three sites,
// one with mcp_auth (jwt) inside `handle /mcp*` and the standalone
// mcp_protected_resource handler serving the metadata, one with mcp_auth
// (jwt, accept_typ JWT) site-wide serving the metadata itself, and one
// with mcp_auth (introspection) for opaque tokens.

import { createHash, generateKeyPairSync } from "node:crypto";

import Provider, { errors } from "oidc-provider";

import { globalOptions, startCaddy } from "./caddy.mjs";
import { startEverything } from "./everything.mjs";
import { freePort, Stack } from "./procs.mjs";

// The client the tests act as, and the one mcp_auth introspects with.
export const client = { id: "mcp-client", secret: "mcp-client-secret-0123456789" };
export const gateway = { id: "mcp-gateway", secret: "mcp-gateway-secret-0123456789" };

// Test switches: a token asked for with one of these scopes (besides its
// real ones) is issued the way some authorization servers issue theirs —
// typ JWT (Keycloak, Entra ID), no typ — or with a malformed exp.
export const quirks = {
  typJWT: "e2e:typ-jwt",
  typNone: "e2e:typ-none",
  expString: "e2e:exp-string",
  expHuge: "e2e:exp-huge",
};
const quirkScopes = Object.values(quirks).join(" ");

// customizeJWT applies the quirks a token's scope asks for.
function customizeJWT(_ctx, token, jwt) {
  const scopes = new Set(String(token.scope ?? "").split(" "));
  if (scopes.has(quirks.typJWT)) jwt.header = { ...jwt.header, typ: "JWT" };
  if (scopes.has(quirks.typNone)) jwt.header = { ...jwt.header, typ: undefined };
  if (scopes.has(quirks.expString)) jwt.payload.exp = "soon";
  if (scopes.has(quirks.expHuge)) jwt.payload.exp = 1e20;
}

// A fresh RSA signing key whose kid is its RFC 7638 thumbprint, so that a
// restarted provider with a new key has a new kid.
function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  const canon = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  jwk.kid = createHash("sha256").update(canon).digest("base64url");
  jwk.alg = "RS256";
  jwk.use = "sig";
  return jwk;
}

// startAS starts oidc-provider at issuer (http://127.0.0.1:<port>) issuing
// JWT access tokens for the given resources, and opaque ones for the
// resources in opaque. It returns { issuer, kid, stop() }.
export async function startAS(port, resources, opaque = []) {
  const issuer = `http://127.0.0.1:${port}`;
  const key = signingKey();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        scope: `mcp:read mcp:admin ${quirkScopes}`,
      },
      {
        client_id: gateway.id,
        client_secret: gateway.secret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    scopes: ["mcp:read", "mcp:admin", ...Object.values(quirks)],
    jwks: { keys: [key] },
    formats: { customizers: { jwt: customizeJWT } },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resources[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (opaque.includes(resource)) {
            return { scope: "mcp:read mcp:admin", audience: resource, accessTokenTTL: 300, accessTokenFormat: "opaque" };
          }
          if (!resources.includes(resource)) throw new errors.InvalidTarget();
          return {
            scope: `mcp:read mcp:admin ${quirkScopes}`,
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
  });
  const server = provider.listen(port, "127.0.0.1");
  await new Promise((res, rej) => {
    server.once("listening", res);
    server.once("error", rej);
  });
  return {
    issuer,
    kid: key.kid,
    stop: () =>
      new Promise((res) => {
        server.closeAllConnections?.();
        server.close(() => res());
      }),
  };
}

// tokenFor asks the authorization server directly for a token for resource.
export async function tokenFor(issuer, resource, scope = "mcp:read") {
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      authorization: "Basic " + Buffer.from(`${client.id}:${client.secret}`).toString("base64"),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope, resource }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`token request for ${resource}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

// revoke revokes the client's token at the authorization server (RFC 7009).
export async function revoke(issuer, token) {
  const res = await fetch(`${issuer}/token/revocation`, {
    method: "POST",
    headers: {
      authorization: "Basic " + Buffer.from(`${client.id}:${client.secret}`).toString("base64"),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ token, token_type_hint: "access_token" }),
  });
  if (!res.ok) throw new Error(`revocation: ${res.status} ${await res.text()}`);
}

// jwtHeader decodes the protected header of a compact JWT.
export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
}

const roles = `
		role reader {
			allow tools/list
			allow tools/call echo
		}
		role admin {
			allow *
			deny tools/call get-env
		}`;

function jwtBlock(asPort, resource, extra = "") {
  return `jwt {
			issuer http://127.0.0.1:${asPort}
			jwks_url http://127.0.0.1:${asPort}/jwks
			audience ${resource}
			scope_role mcp:read reader
			scope_role mcp:admin admin
			refetch_interval 1s
			${extra}
		}
		challenge_scope mcp:read`;
}

// The environment variable holding the gateway's introspection secret.
const introspectionSecretEnv = "MCP_E2E_INTROSPECTION_SECRET";

// caddyfile: site A scopes mcp_auth inside handle /mcp* and serves the
// metadata with mcp_protected_resource, and throttles at 3 wrong
// credentials a minute; site B has mcp_auth site-wide and accepts typ
// JWT; site C checks opaque tokens by introspection, re-checking them
// every second, and shows the caller's principal in a response header.
export function caddyfile(portA, portB, portC, asPort, upstreamPort) {
  const a = `http://127.0.0.1:${portA}/mcp`;
  const b = `http://127.0.0.1:${portB}/mcp`;
  const c = `http://127.0.0.1:${portC}/mcp`;
  return `${globalOptions}
http://127.0.0.1:${portA} {
	bind 127.0.0.1
	mcp_protected_resource {
		resource ${a}
		authorization_servers http://127.0.0.1:${asPort}
		scopes_supported mcp:read mcp:admin
		resource_name "server-everything (handle placement)"
	}
	handle /mcp* {
		mcp_auth {
			${jwtBlock(asPort, a)}
			throttle 3/1m
			${roles}
		}
		reverse_proxy 127.0.0.1:${upstreamPort}
	}
	respond 404
}

http://127.0.0.1:${portB} {
	bind 127.0.0.1
	mcp_auth {
		${jwtBlock(asPort, b, "accept_typ JWT")}
		resource_metadata {
			resource_name "server-everything (site-wide)"
		}
		${roles}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}

http://127.0.0.1:${portC} {
	bind 127.0.0.1
	header >X-MCP-Principal {http.mcp_auth.principal}
	mcp_auth {
		introspection {
			url           http://127.0.0.1:${asPort}/token/introspection
			client_id     ${gateway.id}
			client_secret {env.${introspectionSecretEnv}}
			max_cache_ttl 1s
			scope_role    mcp:read reader
			scope_role    mcp:admin admin
		}
		resource_metadata {
			resource              ${c}
			authorization_servers http://127.0.0.1:${asPort}
		}
		${roles}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`;
}

// startOAuthStack starts server-everything and Caddy, but not the
// authorization server: its port is reserved and given to the test, which
// starts it later (Caddy fetches the key set in the background). It returns
// { urlA, urlB, urlC, asPort, issuer, otherResource, caddy, stop() }.
export async function startOAuthStack() {
  const stack = await Stack.create("mcp-auth-oauth-e2e-");
  return stack.build(async () => {
    const upstream = await startEverything(stack);
    const [portA, portB, portC, asPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const urlA = `http://127.0.0.1:${portA}/mcp`;
    const urlB = `http://127.0.0.1:${portB}/mcp`;
    const urlC = `http://127.0.0.1:${portC}/mcp`;
    process.env[introspectionSecretEnv] = gateway.secret;
    const caddy = await startCaddy(stack, caddyfile(portA, portB, portC, asPort, upstream.port), [urlA, urlB, urlC]);
    return {
      urlA,
      urlB,
      urlC,
      asPort,
      issuer: `http://127.0.0.1:${asPort}`,
      // A resource the AS knows, but not this MCP server.
      otherResource: `http://127.0.0.1:${asPort}/other-api`,
      caddy,
      stop: () => stack.stop(),
    };
  });
}
