// The processes the end-to-end tests drive: server-everything (the MCP
// reference server, Streamable HTTP) and, in front of it, a real Caddy with
// mcp_auth built from this repository. Each test file starts its own pair on
// free ports and stops it in an after() hook.
//
// Kept out of test/ so that the test runner never takes it for a test file.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

export const e2eDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// The Caddy under test: $CADDY_BIN, or bin/caddy of this repository
// (`go build -o bin/caddy ./cmd/caddy` at the repository root).
export const caddyBin = process.env.CADDY_BIN
  ? resolve(process.env.CADDY_BIN)
  : resolve(e2eDir, "..", "bin", "caddy");

const everythingMain = join(
  e2eDir,
  "node_modules",
  "@modelcontextprotocol",
  "server-everything",
  "dist",
  "index.js",
);

export const tokens = {
  admin: "e2e-admin-token",
  reader: "e2e-reader-token",
};

// The roles under test. Names are server-everything's (2026.8.31):
//   tools      echo {message} -> "Echo: <message>"; get-sum {a,b} -> "The sum
//              of a and b is a+b."; get-env (dumps the server's environment:
//              the tool both roles are denied); trigger-long-running-operation
//              {duration s, steps} sends notifications/progress per step when
//              the request has a progress token, then returns.
//   resources  demo://resource/static/document/<file> (files of its docs/,
//              e.g. features.md); demo://resource/dynamic/text/{id} (template).
//   prompts    simple-prompt (no arguments); args-prompt {city, state?}.
// logging/setLevel is allowed to the reader because the Inspector CLI sets
// the log level right after connecting and gives up when refused.
// extra is inserted into the mcp_auth block (e.g. "hide_denied typescript").
export function caddyfile(port, upstreamPort, extra = "") {
  return `{
	admin off
	persist_config off
}

http://127.0.0.1:${port} {
	bind 127.0.0.1
	mcp_auth {
		token admin-user ${tokens.admin} admin
		token reader-user ${tokens.reader} reader
		role admin {
			allow *
			deny tools/call get-env
		}
		role reader {
			allow tools/list
			allow tools/call echo get-sum trigger-long-running-operation
			allow resources/list
			allow resources/read demo://resource/static/*
			allow prompts/list
			allow prompts/get simple-prompt
			allow logging/setLevel
		}
		${extra}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`;
}

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

  tail(n = 30) {
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

// waitFor polls until check() returns true, failing with the processes' logs
// when one of them exits or time runs out.
async function waitFor(what, check, procs, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    for (const p of procs) {
      if (!p.running) {
        throw new Error(`${p.name} exited (${p.exitStatus}) before ${what}:\n${p.tail()}`);
      }
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

const ping = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "ping" });

// post sends one JSON-RPC message with the headers MCP needs and returns the
// fetch Response.
export function post(url, body, headers = {}) {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

// startStack starts server-everything and Caddy in front of it. It returns
// { url, upstreamUrl, stop() }: url is Caddy's MCP endpoint.
export async function startStack({ extra = "" } = {}) {
  if (!existsSync(caddyBin)) {
    throw new Error(`no Caddy at ${caddyBin}: run \`go build -o bin/caddy ./cmd/caddy\` at the repository root, or set CADDY_BIN`);
  }
  if (!existsSync(everythingMain)) {
    throw new Error(`no server-everything at ${everythingMain}: run \`npm ci\` in e2e/`);
  }
  const dir = await mkdtemp(join(tmpdir(), "mcp-auth-e2e-"));
  const procs = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const upstreamPort = await freePort();
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
    // server-everything listens on PORT (all interfaces) and serves /mcp.
    const everything = new Proc("server-everything", process.execPath, [everythingMain, "streamableHttp"], {
      cwd: dir,
      env: { ...process.env, PORT: String(upstreamPort) },
    });
    procs.push(everything);
    // Without a session it answers 400: it is up.
    await waitFor("server-everything to listen", async () => (await post(upstreamUrl, ping)).status === 400, procs);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    const config = join(dir, "Caddyfile");
    await writeFile(config, caddyfile(port, upstreamPort, extra));
    const caddy = new Proc("caddy", caddyBin, ["run", "--config", config, "--adapter", "caddyfile"], {
      cwd: dir,
      // Keep Caddy's storage and config out of the user's home.
      env: { ...process.env, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") },
    });
    procs.push(caddy);
    // Without a token mcp_auth answers 401: Caddy is up with the module.
    await waitFor("Caddy to listen", async () => (await post(url, ping)).status === 401, procs);

    return { url, upstreamUrl, stop, procs };
  } catch (err) {
    await stop();
    throw err;
  }
}

// connect opens an MCP client session through url with the given token
// (none when undefined). It returns { client, transport }.
export async function connect(url, token, { name = "e2e" } = {}) {
  const headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

// text returns the text of the first content item of a tool result.
export function text(result) {
  const item = result.content?.[0];
  if (item?.type !== "text") throw new Error(`no text content in ${JSON.stringify(result)}`);
  return item.text;
}
