// The processes of the OAuth end-to-end test:
//   - oidc-provider (OpenID certified) as the authorization server, in this
//     process, issuing JWT access tokens by client credentials for the MCP
//     resources (RFC 8707 resource indicators);
//   - server-everything, the MCP reference server (Streamable HTTP);
//   - a real Caddy with mcp_auth built from this repository, in front of it,
//     with two sites: one with mcp_auth inside `handle /mcp*` and the
//     standalone mcp_protected_resource handler serving the metadata, one
//     with mcp_auth site-wide serving the metadata itself.
//
// Kept out of test/ so that the test runner never takes it for a test file.

import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import Provider, { errors } from "oidc-provider";

export const oauthDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// The Caddy under test: $CADDY_BIN, or bin/caddy of this repository.
export const caddyBin = process.env.CADDY_BIN
  ? resolve(process.env.CADDY_BIN)
  : resolve(oauthDir, "..", "..", "bin", "caddy");

const everythingMain = join(oauthDir, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");

export const client = { id: "mcp-client", secret: "mcp-client-secret-0123456789" };

export async function freePort() {
  const srv = createServer();
  await new Promise((res, rej) => {
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", res);
  });
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

// A child process whose output is kept for error messages (and echoed with
// E2E_VERBOSE=1).
class Proc {
  constructor(name, cmd, args, opts) {
    this.name = name;
    this.output = "";
    this.child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((res) => {
      this.child.once("exit", (code, signal) => {
        this.exitStatus = signal ?? code;
        res();
      });
      this.child.once("error", (err) => {
        this.output += `spawn error: ${err.message}\n`;
        this.exitStatus = "error";
        res();
      });
    });
    for (const s of [this.child.stdout, this.child.stderr]) {
      s.setEncoding("utf8");
      s.on("data", (d) => {
        this.output += d;
        if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${d}`);
      });
    }
  }

  get running() {
    return this.exitStatus === undefined;
  }

  tail(n = 40) {
    return this.output.trimEnd().split("\n").slice(-n).join("\n");
  }

  async stop() {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

async function waitFor(what, check, procs, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    for (const p of procs) {
      if (!p.running) throw new Error(`${p.name} exited (${p.exitStatus}) before ${what}:\n${p.tail()}`);
    }
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}:\n${procs.map((p) => `--- ${p.name}\n${p.tail()}`).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function post(url, body, headers = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
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
// JWT access tokens for the given resources. It returns { kid, stop() }.
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
function caddyfile(portA, portB, asPort, upstreamPort) {
  const a = `http://127.0.0.1:${portA}/mcp`;
  const b = `http://127.0.0.1:${portB}/mcp`;
  return `{
	admin off
	persist_config off
}

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

const ping = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "ping" });

// startStack starts server-everything and Caddy, but not the authorization
// server: its port is reserved and given to the test, which starts it
// later (the key set is fetched in the background).
export async function startStack() {
  if (!existsSync(caddyBin)) {
    throw new Error(`no Caddy at ${caddyBin}: run \`go build -o bin/caddy ./cmd/caddy\` at the repository root, or set CADDY_BIN`);
  }
  if (!existsSync(everythingMain)) throw new Error(`no server-everything at ${everythingMain}: run \`npm ci\` in e2e/oauth/`);
  const dir = await mkdtemp(join(tmpdir(), "mcp-auth-oauth-e2e-"));
  const procs = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const upstreamPort = await freePort();
    const everything = new Proc("server-everything", process.execPath, [everythingMain, "streamableHttp"], {
      cwd: dir,
      env: { ...process.env, PORT: String(upstreamPort) },
    });
    procs.push(everything);
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
    await waitFor("server-everything to listen", async () => (await post(upstreamUrl, ping)).status === 400, procs);

    const [portA, portB, asPort] = [await freePort(), await freePort(), await freePort()];
    const config = join(dir, "Caddyfile");
    await writeFile(config, caddyfile(portA, portB, asPort, upstreamPort));
    const caddy = new Proc("caddy", caddyBin, ["run", "--config", config, "--adapter", "caddyfile"], {
      cwd: dir,
      env: { ...process.env, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") },
    });
    procs.push(caddy);
    const urlA = `http://127.0.0.1:${portA}/mcp`;
    const urlB = `http://127.0.0.1:${portB}/mcp`;
    await waitFor("Caddy to listen", async () => (await post(urlA, ping)).status === 401 && (await post(urlB, ping)).status === 401, procs);
    return {
      urlA,
      urlB,
      asPort,
      issuer: `http://127.0.0.1:${asPort}`,
      // A resource the AS knows, but not this MCP server.
      otherResource: `http://127.0.0.1:${asPort}/other-api`,
      caddy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
