// OAuth: oidc-provider (OpenID certified) as the authorization server, in
// this process, issuing JWT access tokens by client credentials for the MCP
// resources (RFC 8707 resource indicators); and the OAuth stack:
// server-everything behind a Caddy with two sites, one with mcp_auth (jwt)
// inside `handle /mcp*` and the standalone mcp_protected_resource handler
// serving the metadata, one with mcp_auth site-wide serving the metadata
// itself.

import { createHash, generateKeyPairSync } from "node:crypto";

import Provider, { errors } from "oidc-provider";

import { globalOptions, startCaddy } from "./caddy.mjs";
import { startEverything } from "./everything.mjs";
import { freePort, Stack } from "./procs.mjs";

// The one client the authorization server knows.
export const client = { id: "mcp-client", secret: "mcp-client-secret-0123456789" };

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
// JWT access tokens for the given resources. It returns
// { issuer, kid, stop() }.
export async function startAS(port, resources) {
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
        scope: "mcp:read mcp:admin",
      },
    ],
    scopes: ["mcp:read", "mcp:admin"],
    jwks: { keys: [key] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resources[0],
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (!resources.includes(resource)) throw new errors.InvalidTarget();
          return {
            scope: "mcp:read mcp:admin",
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

const roles = `
		role reader {
			allow tools/list
			allow tools/call echo
		}
		role admin {
			allow *
			deny tools/call get-env
		}`;

function jwtBlock(asPort, resource) {
  return `jwt {
			issuer http://127.0.0.1:${asPort}
			jwks_url http://127.0.0.1:${asPort}/jwks
			audience ${resource}
			scope_role mcp:read reader
			scope_role mcp:admin admin
			refetch_interval 1s
		}
		challenge_scope mcp:read`;
}

// caddyfile: site A scopes mcp_auth inside handle /mcp* and serves the
// metadata with mcp_protected_resource; site B has mcp_auth site-wide.
export function caddyfile(portA, portB, asPort, upstreamPort) {
  const a = `http://127.0.0.1:${portA}/mcp`;
  const b = `http://127.0.0.1:${portB}/mcp`;
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
			${roles}
		}
		reverse_proxy 127.0.0.1:${upstreamPort}
	}
	respond 404
}

http://127.0.0.1:${portB} {
	bind 127.0.0.1
	mcp_auth {
		${jwtBlock(asPort, b)}
		resource_metadata {
			resource_name "server-everything (site-wide)"
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
// { urlA, urlB, asPort, issuer, otherResource, caddy, stop() }.
export async function startOAuthStack() {
  const stack = await Stack.create("mcp-auth-oauth-e2e-");
  return stack.build(async () => {
    const upstream = await startEverything(stack);
    const [portA, portB, asPort] = [await freePort(), await freePort(), await freePort()];
    const urlA = `http://127.0.0.1:${portA}/mcp`;
    const urlB = `http://127.0.0.1:${portB}/mcp`;
    const caddy = await startCaddy(stack, caddyfile(portA, portB, asPort, upstream.port), [urlA, urlB]);
    return {
      urlA,
      urlB,
      asPort,
      issuer: `http://127.0.0.1:${asPort}`,
      // A resource the AS knows, but not this MCP server.
      otherResource: `http://127.0.0.1:${asPort}/other-api`,
      caddy,
      stop: () => stack.stop(),
    };
  });
}
