// Processes, ports and waiting: what every end-to-end stack is made of.
//
// A Stack owns a scratch directory and the processes started for one test
// file; stop() ends them all and removes the directory. Nothing here knows
// about MCP, Caddy or OAuth.
//
// lib/ is kept out of test/ so that the test runner never takes a helper for
// a test file.

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// The e2e/ directory (the npm project: node_modules/ is here).
export const e2eDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// freePort returns a loopback port that was free a moment ago.
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
export class Proc {
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

// waitFor polls until check() returns true, failing with the processes' logs
// when one of them exits or time runs out. A check that throws (not
// listening yet) counts as false.
export async function waitFor(what, check, procs, ms = 20000) {
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

// Stack: a scratch directory and the processes of one test file.
export class Stack {
  static async create(prefix = "mcp-auth-e2e-") {
    return new Stack(await mkdtemp(join(tmpdir(), prefix)));
  }

  constructor(dir) {
    this.dir = dir;
    this.procs = [];
  }

  // spawn starts a process in the scratch directory (unless opts.cwd says
  // otherwise) and registers it for stop().
  spawn(name, cmd, args, opts = {}) {
    const p = new Proc(name, cmd, args, { cwd: this.dir, ...opts });
    this.procs.push(p);
    return p;
  }

  // waitFor waits for check() while all of this stack's processes run.
  waitFor(what, check, ms) {
    return waitFor(what, check, this.procs, ms);
  }

  async stop() {
    await Promise.all(this.procs.map((p) => p.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }

  // build runs fn(stack) and returns its result; if fn throws, the stack is
  // stopped before the error propagates.
  async build(fn) {
    try {
      return await fn(this);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }
}
