// The client snippets of the documentation, run as they are written: every
// fenced block marked `<!-- e2e: <kind> -->` in README.md and docs/clients.md
// is taken from the file at test time and run against server-everything
// behind a Caddy with mcp_auth (lib/tokens.mjs: the reader may call echo,
// not get-env), filled in with nothing but the URL and a token:
//
//   ts-v1, ts-v2  piped into `node --input-type=module` (cwd e2e/, so that
//                 the packages resolve from this project's lockfile), with
//                 MCP_URL and MCP_TOKEN in the environment;
//   go            written to a scratch main.go and run with `go run` from
//                 the repository root (the go-sdk version of go.mod);
//   inspector     run by bash in a scratch directory, with `npx -y <pkg>@<v>`
//                 resolved to this project's install after checking that
//                 <v> is the version package.json pins;
//   mcp-remote    the desktop-app config: its command and args, the URL
//                 replaced, its env's MCP_TOKEN set, spawned as a stdio
//                 server and spoken to with the TypeScript SDK's
//                 StdioClientTransport, as a desktop app would.
//
// Each snippet must connect, see a tools/list filtered to the reader's tools
// and get echo's answer; with a wrong token it must fail (so the token in
// the snippet is what lets it in); through mcp-remote a denied tool comes
// back as -32030. A marker of an unknown kind, or a page without the kinds
// it must have, fails the test, so a snippet cannot silently go unrun.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

import { e2eDir } from "../lib/procs.mjs";
import { startStack, tokens } from "../lib/tokens.mjs";

const repoDir = resolve(e2eDir, "..");
const pinned = JSON.parse(readFileSync(join(e2eDir, "package.json"), "utf8")).devDependencies;

// The URL the snippets show, which the config-shaped ones (mcp-remote) name
// literally; the code-shaped ones read MCP_URL.
const docURL = "https://mcp.example.com/mcp";

// The pages, and the kinds of snippet each must carry.
const pages = {
  "README.md": ["mcp-remote"],
  "docs/clients.md": ["ts-v1", "ts-v2", "go", "inspector", "mcp-remote"],
};

// snippets returns the marked fenced blocks of a page: { page, kind, lang, code, line }.
function snippets(page) {
  const lines = readFileSync(join(repoDir, page), "utf8").split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^<!-- e2e: ([a-z0-9-]+) -->$/);
    if (!m) continue;
    const open = lines[i + 1]?.match(/^```([a-z]*)$/);
    assert.ok(open, `${page}:${i + 1}: the marker must stand right before a fenced block`);
    let j = i + 2;
    while (j < lines.length && lines[j] !== "```") j++;
    assert.ok(j < lines.length, `${page}:${i + 2}: unterminated block`);
    out.push({ page, kind: m[1], lang: open[1], code: lines.slice(i + 2, j).join("\n") + "\n", line: i + 2 });
  }
  return out;
}

// run starts a process and collects its output; it fails after ms.
function run(cmd, args, { cwd, env = {}, input, ms = 120000 } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(new Error(`${cmd} ${args.join(" ")} took longer than ${ms} ms:\n${stdout}\n${stderr}`));
    }, ms);
    child.once("error", (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

// The runners of the code-shaped kinds: each runs one snippet with MCP_URL
// and MCP_TOKEN and returns { code, stdout, stderr }.
const runners = {
  "ts-v1": (s, env) => run(process.execPath, ["--input-type=module"], { cwd: e2eDir, env, input: s.code }),
  "ts-v2": (s, env) => run(process.execPath, ["--input-type=module"], { cwd: e2eDir, env, input: s.code }),
  go: async (s, env, dir) => {
    const file = join(dir, "main.go");
    await writeFile(file, s.code);
    // From the repository root: the snippet builds against go.mod's go-sdk.
    return run("go", ["run", file], { cwd: repoDir, env, ms: 300000 });
  },
  inspector: async (s, env, dir) => {
    // npx -y <package>@<version> runs the locked install of that package
    // when <version> is the one package.json pins; anything else fails.
    const cli = join(e2eDir, "node_modules", "@modelcontextprotocol", "inspector-cli", "build", "cli.js");
    const npx = `npx() {
	[ "$1" = -y ] && shift
	case "$1" in
	"@modelcontextprotocol/inspector-cli@${pinned["@modelcontextprotocol/inspector-cli"]}") shift; "${process.execPath}" "${cli}" "$@" ;;
	*) echo "npx $1: not the version e2e/package.json pins" >&2; return 127 ;;
	esac
}
`;
    return run("bash", ["-e", "-c", npx + s.code], { cwd: dir, env });
  },
};

// checkOutput: the snippet listed the reader's tools (filtered: echo, not
// get-env) and printed echo's answer.
function checkOutput(s, { code, stdout, stderr }) {
  const where = `${s.page}:${s.line} (${s.kind})`;
  assert.equal(code, 0, `${where} exited ${code}:\n${stdout}\n${stderr}`);
  assert.match(stdout, /\becho\b/, `${where}: no echo in the tool list:\n${stdout}`);
  assert.doesNotMatch(stdout, /get-env/, `${where}: the reader's tool list is not filtered:\n${stdout}`);
  assert.match(stdout, /Echo: hi/, `${where}: no answer from echo:\n${stdout}`);
}

// mcpRemote starts the desktop-app config of a snippet as a stdio server
// and connects the TypeScript SDK client to it. It returns the client.
async function mcpRemote(s, url, token, dir) {
  const where = `${s.page}:${s.line}`;
  const servers = Object.values(JSON.parse(s.code).mcpServers);
  assert.equal(servers.length, 1, `${where}: one server in the config`);
  const [server] = servers;
  assert.equal(server.command, "npx", where);
  const args = [...server.args];
  if (args[0] === "-y") args.shift();
  assert.equal(args.shift(), `mcp-remote@${pinned["mcp-remote"]}`, `${where}: the version e2e/package.json pins`);
  assert.equal(args.filter((a) => a === docURL).length, 1, `${where}: the URL ${docURL}, once`);
  assert.deepEqual(Object.keys(server.env), ["MCP_TOKEN"], `${where}: env holds the token only`);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(e2eDir, "node_modules", "mcp-remote", "dist", "proxy.js"), ...args.map((a) => (a === docURL ? url : a))],
    // The token; and mcp-remote's state (~/.mcp-auth) in the scratch directory.
    env: { ...server.env, MCP_TOKEN: token, MCP_REMOTE_CONFIG_DIR: join(dir, "mcp-remote") },
    stderr: "pipe",
  });
  let log = "";
  transport.stderr?.setEncoding("utf8").on("data", (d) => (log += d));
  const client = new Client({ name: "desktop-app", version: "1.0.0" });
  try {
    await client.connect(transport);
  } catch (err) {
    throw new Error(`${where}: mcp-remote did not connect: ${err.message}\n${log}`);
  }
  client.log = () => log;
  if (!log.includes("Replacing ${MCP_TOKEN}")) {
    await client.close();
    throw new Error(`${where}: mcp-remote did not put the token into the header:\n${log}`);
  }
  return client;
}

describe("documented client snippets", () => {
  let stack;
  let root;
  let dirs = 0;
  // scratch is a fresh directory for one run (a snippet's cwd, main.go,
  // mcp-remote's state), under one removed when the tests end.
  const scratch = async () => {
    const dir = join(root, `snippet-${++dirs}`);
    await mkdir(dir);
    return dir;
  };
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "mcp-auth-e2e-clients-"));
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const all = Object.keys(pages).flatMap(snippets);

  test("every page carries its snippets, each of a known kind", () => {
    for (const [page, kinds] of Object.entries(pages)) {
      const found = all.filter((s) => s.page === page).map((s) => s.kind);
      for (const k of kinds) assert.ok(found.includes(k), `${page} has no <!-- e2e: ${k} --> snippet`);
    }
    for (const s of all) {
      assert.ok(s.kind in runners || s.kind === "mcp-remote", `${s.page}:${s.line}: unknown snippet kind ${s.kind}`);
    }
  });

  for (const s of all.filter((x) => x.kind in runners)) {
    test(`${s.page}:${s.line} ${s.kind}: connects, lists, calls`, async () => {
      const dir = await scratch();
      checkOutput(s, await runners[s.kind](s, { MCP_URL: stack.url, MCP_TOKEN: tokens.reader }, dir));
    });

    test(`${s.page}:${s.line} ${s.kind}: a wrong token is refused`, async () => {
      const dir = await scratch();
      const r = await runners[s.kind](s, { MCP_URL: stack.url, MCP_TOKEN: "not-a-configured-token" }, dir);
      assert.notEqual(r.code, 0, `${s.kind} succeeded with a wrong token:\n${r.stdout}`);
      assert.doesNotMatch(r.stdout, /Echo: hi/);
      assert.match(r.stdout + r.stderr, /403|Forbidden|invalid_token/, `${s.kind}: not mcp_auth's refusal:\n${r.stdout}\n${r.stderr}`);
    });
  }

  for (const s of all.filter((x) => x.kind === "mcp-remote")) {
    test(`${s.page}:${s.line} mcp-remote: lists, calls, and a denied tool is refused`, async () => {
      const client = await mcpRemote(s, stack.url, tokens.reader, await scratch());
      try {
        const names = (await client.listTools()).tools.map((t) => t.name);
        assert.ok(names.includes("echo"), names.join(" "));
        assert.ok(!names.includes("get-env"), `the reader's list is not filtered: ${names.join(" ")}`);

        const ok = await client.callTool({ name: "echo", arguments: { message: "hi" } });
        assert.equal(ok.content[0].text, "Echo: hi");

        await assert.rejects(client.callTool({ name: "get-env", arguments: {} }), (err) => {
          assert.equal(err.code, -32030, err.message);
          assert.match(err.message, /permission denied: tools\/call "get-env"/);
          return true;
        });
        // The session goes on after the denial.
        const again = await client.callTool({ name: "echo", arguments: { message: "again" } });
        assert.equal(again.content[0].text, "Echo: again");
      } catch (err) {
        err.message += `\nmcp-remote's log:\n${client.log()}`;
        throw err;
      } finally {
        await client.close();
      }
    });
  }
});
