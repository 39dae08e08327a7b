// Tasks bound to their caller (issue 12), end to end, with the backends as
// the oracle.
//
// Two task-capable servers run in this process, neither of which can tell
// callers apart:
//   - backends/tasks-v1.mjs: the TypeScript SDK v1 1.32.2 experimental tasks
//     (2025-11-25: tasks/get, tasks/result, tasks/list, tasks/cancel),
//     STATELESS with one shared InMemoryTaskStore (with sessions the store
//     would hide another session's tasks by itself and prove nothing);
//   - backends/tasks-v2.mjs: a 2026-07-28 tasks-extension handler on the
//     TypeScript SDK v2 2.4.0 (tasks/get, tasks/update, tasks/cancel; the
//     flat CreateTaskResult).
// Both record every task method call and every task-table access with the
// caller named by X-MCP-User, which mcp_auth sets (identity_header).
//
// First the attack against each server directly: a second caller with the
// creator's task id reads its status and result, answers or cancels it and
// sees it in tasks/list. Then through Caddy with mcp_auth, two static tokens
// of the SAME role: the creator keeps everything; the other caller, with the
// creator's id (wrapped, raw, or a forged wrapping), gets exactly the
// server's own unknown-task answer, and the server's record shows it was
// never asked for the creator's task on that caller's behalf. Last, a
// `caddy reload` with a changed but equivalent config and a second Caddy
// with the same `session_key {env.…}` keep the creator's ids working (and a
// Caddy with another key does not, so that test can fail).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema, McpError } from "@modelcontextprotocol/sdk/types.js";

import { RELATED_TASK, startTasksV1 } from "../backends/tasks-v1.mjs";
import { startTasksV2, TASKS_EXT } from "../backends/tasks-v2.mjs";
import { caddyBin, startCaddy } from "../lib/caddy.mjs";
import { freePort, Stack } from "../lib/procs.mjs";

const REV25 = "2025-11-25";
const REV26 = "2026-07-28";

const tokens = {
  creator: "e2e-tasks-creator-token",
  other: "e2e-tasks-other-token",
};
// The principals mcp_auth derives from the tokens (what X-MCP-User says).
const principal = { creator: "token:creator", other: "token:other" };
// The labels the direct tests put into X-MCP-User themselves.
const direct = { creator: "direct:creator", other: "direct:other" };

// The session keys, read by Caddy from its environment (startCaddy passes
// process.env on). KEY_ENV is shared by instance A and B; OTHER_KEY_ENV is
// the control instance's.
const KEY_ENV = "MCP_E2E_TASKS_SESSION_KEY";
const OTHER_KEY_ENV = "MCP_E2E_TASKS_OTHER_SESSION_KEY";
process.env[KEY_ENV] = randomBytes(32).toString("hex");
process.env[OTHER_KEY_ENV] = randomBytes(32).toString("hex");

const HEX32 = /^[0-9a-f]{32}$/;

// One Caddyfile site per backend; both tokens have the role worker.
function site(port, upstreamPort, keyEnv, extra) {
  return `http://127.0.0.1:${port} {
	bind 127.0.0.1
	mcp_auth {
		token creator ${tokens.creator} worker
		token other ${tokens.other} worker
		role worker {
			allow tools/call work hold ask
		}
		identity_header X-MCP-User
		session_key {env.${keyEnv}}
		${extra}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`;
}

function caddyfile({ admin, v1Port, v2Port, v1, v2, keyEnv = KEY_ENV, extra = "" }) {
  return `{
	admin ${admin ? `127.0.0.1:${admin}` : "off"}
	persist_config off
}
${site(v1Port, v1.port, keyEnv, extra)}
${site(v2Port, v2.port, keyEnv, extra)}`;
}

// startInstance starts one Caddy with its own scratch directory (a Stack
// of its own, stopped in after()). It returns { v1Url, v2Url, file, admin,
// v1Port, v2Port, proc, stop }.
async function startInstance(name, { v1, v2, admin, keyEnv }) {
  const st = await Stack.create(`mcp-auth-e2e-tasks-${name}-`);
  stacks.push(st);
  const [v1Port, v2Port] = [await freePort(), await freePort()];
  const v1Url = `http://127.0.0.1:${v1Port}/mcp`;
  const v2Url = `http://127.0.0.1:${v2Port}/mcp`;
  const proc = await startCaddy(st, caddyfile({ admin, v1Port, v2Port, v1, v2, keyEnv }), [v1Url, v2Url]);
  return { v1Url, v2Url, file: join(st.dir, "Caddyfile"), admin, v1Port, v2Port, proc, stop: () => st.stop() };
}

// ---- the wire ----

let nextId = 1;

// parseReply reads a JSON or event-stream answer into its JSON-RPC
// messages.
async function parseReply(res) {
  const type = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  const raw = await res.text();
  let messages = [];
  if (type === "application/json" && raw) {
    messages = [JSON.parse(raw)].flat();
  } else if (type === "text/event-stream") {
    for (const event of raw.split(/\r?\n\r?\n/)) {
      const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart());
      if (data.length) messages.push(JSON.parse(data.join("\n")));
    }
  }
  return { status: res.status, type, raw, messages };
}

function headersFor(who, extra = {}) {
  const h = { "content-type": "application/json", accept: "application/json, text/event-stream", ...extra };
  if (who.token) h.authorization = `Bearer ${who.token}`;
  if (who.user) h["x-mcp-user"] = who.user;
  return h;
}

// rpc25 sends one 2025-11-25 request (no session: the servers are
// stateless) and returns the parsed reply with .reply, the response to it.
async function rpc25(url, who, method, params) {
  const id = nextId++;
  const res = await fetch(url, {
    method: "POST",
    headers: headersFor(who, { "mcp-protocol-version": REV25 }),
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
  });
  const r = await parseReply(res);
  r.reply = r.messages.find((m) => m.id === id);
  return r;
}

// notify25 sends one 2025-11-25 notification and returns the HTTP status.
async function notify25(url, who, method, params) {
  const res = await fetch(url, {
    method: "POST",
    headers: headersFor(who, { "mcp-protocol-version": REV25 }),
    body: JSON.stringify({ jsonrpc: "2.0", method, params }),
  });
  await res.arrayBuffer();
  return res.status;
}

// rpc26 sends one 2026-07-28 request: the _meta envelope declaring the
// tasks extension, MCP-Protocol-Version, Mcp-Method and Mcp-Name as a
// client sends them (the tool name, or the taskId as the client has it),
// unless opts.mcpName says otherwise (null: no Mcp-Name).
async function rpc26(url, who, method, params, { mcpName, caps = { extensions: { [TASKS_EXT]: {} } } } = {}) {
  const id = nextId++;
  const extra = { "mcp-protocol-version": REV26, "mcp-method": method };
  const name = mcpName === undefined ? (params.name ?? params.taskId) : mcpName;
  if (name !== null && name !== undefined) extra["mcp-name"] = name;
  const body = {
    jsonrpc: "2.0",
    id,
    method,
    params: {
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": REV26,
        "io.modelcontextprotocol/clientCapabilities": caps,
        "io.modelcontextprotocol/clientInfo": { name: "e2e-tasks", version: "1.0.0" },
      },
    },
  };
  const res = await fetch(url, { method: "POST", headers: headersFor(who, extra), body: JSON.stringify(body) });
  const r = await parseReply(res);
  r.reply = r.messages.find((m) => m.id === id);
  return r;
}

// shape is what a caller can observe of an answer, with the JSON-RPC id and
// every 32-hex task id (the random id the server was given instead) blanked
// out and the server's per-response serverInfo kept: status, media type,
// messages.
function shape(r) {
  const text = JSON.stringify(r.messages.map((m) => ({ ...m, id: "<rpc-id>" })));
  return { status: r.status, type: r.type, messages: JSON.parse(text.replace(/[0-9a-f]{32}/g, "<task-id>")) };
}

// ---- the SDK v1 client (2025-11-25) ----

async function v1Client(url, who) {
  const headers = {};
  if (who.token) headers.Authorization = `Bearer ${who.token}`;
  if (who.user) headers["X-MCP-User"] = who.user;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: "e2e-tasks", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

// runTask calls a task tool with the SDK's experimental tasks API
// (callToolStream: create, poll tasks/get, tasks/result) to its end.
async function runTask(client, name, args) {
  const out = { statuses: [] };
  for await (const m of client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl: 60000 } })) {
    if (m.type === "taskCreated") out.taskId = m.task.taskId;
    else if (m.type === "taskStatus") out.statuses.push(m.task);
    else if (m.type === "result") out.result = m.result;
    else if (m.type === "error") out.error = m.error;
  }
  return out;
}

// startTask creates a task with the same API and stops following it once
// it is created (hold never ends by itself).
async function startTask(client, name, args) {
  for await (const m of client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl: 60000 } })) {
    if (m.type === "taskCreated") return m.task.taskId;
    if (m.type === "error") throw m.error;
  }
  throw new Error(`${name}: no task created`);
}

// listAll follows tasks/list to its end (the v1 store pages by 10).
async function listAll(client) {
  const ids = [];
  let cursor;
  for (let page = 0; page < 50; page++) {
    const r = await client.experimental.tasks.listTasks(cursor);
    ids.push(...r.tasks.map((t) => t.taskId));
    cursor = r.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error("tasks/list did not end within 50 pages");
}

const textOf = (result) => result?.content?.find((c) => c.type === "text")?.text;

// ---- the 2026-07-28 side ----

// awaitStatus polls tasks/get for the creator until the task's status is
// one of want (bounded).
async function awaitStatus26(url, who, taskId, want) {
  for (let i = 0; i < 200; i++) {
    const r = await rpc26(url, who, "tasks/get", { taskId });
    const st = r.reply?.result?.status;
    if (want.includes(st)) return r;
    if (st === undefined) throw new Error(`tasks/get ${taskId}: ${r.status} ${r.raw}`);
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`task ${taskId} never reached ${want}`);
}

// ---- the oracle ----

// askedFor lists what the backend was asked about any of ids on behalf of
// caller: task method calls naming them (params.taskId, the related-task
// entry, Mcp-Name) and task-store accesses. tasks/list is not in it: the
// backend lists every task, whoever asks (and the v1 store's cursor is the
// last task id of a page, whosever it is); what the caller sees of the
// list, and whose cursors come back, is checked on their own.
function askedFor(backend, caller, ids) {
  const hit = (v) => v !== undefined && v !== null && ids.includes(v);
  return [
    ...backend.calls.filter((c) => c.caller === caller && (hit(c.taskId) || hit(c.relatedTask) || hit(c.mcpName))),
    ...backend.lookups.filter((l) => l.caller === caller && hit(l.taskId)),
  ];
}

// The backend id of every task id a client was handed, learned from the
// backend's own record (not from the id: a test of the binding must not
// trust the binding's format).
const backendId = new Map();

// learn maps clientId to the task the backend created last for caller.
function learn(backend, caller, clientId) {
  const known = new Set(backendId.values());
  const made = backend.lookups.filter((l) => (l.op === "createTask" || l.op === "create") && l.caller === caller && !known.has(l.taskId));
  assert.ok(made.length > 0, `the backend created no task for ${caller}`);
  backendId.set(clientId, made.at(-1).taskId);
  return made.at(-1).taskId;
}

function rawOf(clientId) {
  const raw = backendId.get(clientId);
  assert.ok(raw, `no backend task known for ${clientId}`);
  return raw;
}

// A bound task id is "mcpt." base64url(HMAC-SHA256) "." the backend id.
const WRAPPED = /^mcpt\.([A-Za-z0-9_-]{43})\.([0-9a-f]{32})$/;
function assertWrapped(clientId) {
  const m = WRAPPED.exec(clientId);
  assert.ok(m, `not a bound task id: ${clientId}`);
  assert.equal(m[2], rawOf(clientId));
}

// forgeries of the creator's id w, given one id issued to the other caller
// (o): what the other caller may try.
function forgeries(w, o) {
  const raw = rawOf(w);
  const out = { "the creator's id as it was handed out": w, "the raw backend id": raw };
  const mac = WRAPPED.exec(w)?.[1];
  const otherMac = WRAPPED.exec(o)?.[1];
  if (mac && otherMac) {
    const flip = (x) => x.slice(0, -1) + (x.endsWith("A") ? "B" : "A");
    Object.assign(out, {
      "the other caller's MAC on the creator's id": `mcpt.${otherMac}.${raw}`,
      "a tampered MAC": `mcpt.${flip(mac)}.${raw}`,
      "a truncated MAC": `mcpt.${mac.slice(0, -2)}.${raw}`,
      "no MAC": `mcpt..${raw}`,
    });
  }
  return out;
}

// ---- the stack ----

const stacks = [];
let v1;
let v2;
let A; // Caddy instance A, with the admin API (reloaded)
// What each caller was handed through Caddy (wrapped ids), per revision.
const issued = { v1: { creator: [], other: [] }, v2: { creator: [], other: [] } };
// The server's own answers to an unknown task id, asked directly.
const unknown = { v1: {}, v2: {} };

before(async () => {
  v1 = await startTasksV1();
  v2 = await startTasksV2();
  A = await startInstance("a", { v1, v2, admin: await freePort() });
  // The servers' own unknown-task answers, for a fresh random id, straight
  // from them (no Caddy).
  for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
    unknown.v1[method] = shape(await rpc25(v1.url, { user: "oracle" }, method, { taskId: randomBytes(16).toString("hex") }));
  }
  for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
    unknown.v2[method] = shape(await rpc26(v2.url, { user: "oracle" }, method, { taskId: randomBytes(16).toString("hex") }));
  }
  // They are errors, not results: the comparison below can tell them from
  // a task.
  for (const [m, s] of Object.entries({ ...unknown.v1, ...unknown.v2 })) {
    assert.equal(s.messages[0]?.error?.code, -32602, `${m}: ${JSON.stringify(s)}`);
  }
});

after(async () => {
  for (const st of stacks) await st.stop();
  await v1?.close();
  await v2?.close();
});

// ---- 1. the attack, directly ----

describe("without mcp_auth the attack succeeds", () => {
  test("2025-11-25 (SDK v1, stateless): another caller gets status and result, cancels, and lists the creator's task", async () => {
    const creator = await v1Client(v1.url, { user: direct.creator });
    const other = await v1Client(v1.url, { user: direct.other });
    try {
      const secret = `direct secret ${randomBytes(8).toString("hex")}`;
      const run = await runTask(creator, "work", { text: secret, ms: 100 });
      assert.equal(run.error, undefined);
      assert.equal(textOf(run.result), `work done: ${secret}`);
      const id = run.taskId;
      assert.match(id, HEX32);

      const st = await other.experimental.tasks.getTask(id);
      assert.equal(st.taskId, id);
      assert.equal(st.status, "completed");
      const res = await other.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      assert.equal(textOf(res), `work done: ${secret}`);
      assert.ok((await listAll(other)).includes(id));

      const held = await startTask(creator, "hold", { text: "held" });
      const cancelled = await other.experimental.tasks.cancelTask(held);
      assert.equal(cancelled.status, "cancelled");
      assert.equal((await creator.experimental.tasks.getTask(held)).status, "cancelled");

      // The server served the other caller the creator's task.
      const served = v1.lookups.filter((l) => l.caller === direct.other && (l.taskId === id || l.taskId === held) && l.found);
      assert.ok(served.some((l) => l.op === "getTaskResult" && l.taskId === id));
      assert.ok(served.some((l) => l.op === "updateTaskStatus" && l.taskId === held && l.status === "cancelled"));
    } finally {
      await creator.close();
      await other.close();
    }
  });

  test("2026-07-28 (SDK v2 handler): another caller gets status and result, answers the creator's input request, cancels", async () => {
    const creator = { user: direct.creator };
    const other = { user: direct.other };
    const secret = `direct secret ${randomBytes(8).toString("hex")}`;
    const created = await rpc26(v2.url, creator, "tools/call", { name: "work", arguments: { text: secret, ms: 50 } });
    const id = created.reply.result.taskId;
    assert.equal(created.reply.result.resultType, "task");
    assert.match(id, HEX32);
    await awaitStatus26(v2.url, creator, id, ["completed"]);

    const got = await rpc26(v2.url, other, "tasks/get", { taskId: id });
    assert.equal(got.reply.result.status, "completed");
    assert.equal(textOf(got.reply.result.result), `work done: ${secret}`);

    const ask = (await rpc26(v2.url, creator, "tools/call", { name: "ask", arguments: { text: "the creator's question" } })).reply.result.taskId;
    const upd = await rpc26(v2.url, other, "tasks/update", { taskId: ask, inputResponses: { confirm: { action: "accept", content: { answer: "the attacker's answer" } } } });
    assert.equal(upd.reply.result.resultType, "complete");
    const answered = await rpc26(v2.url, creator, "tasks/get", { taskId: ask });
    assert.equal(textOf(answered.reply.result.result), "the creator's question: answered the attacker's answer");

    const hold = (await rpc26(v2.url, creator, "tools/call", { name: "hold", arguments: { text: "held" } })).reply.result.taskId;
    const cancel = await rpc26(v2.url, other, "tasks/cancel", { taskId: hold });
    assert.equal(cancel.reply.result.resultType, "complete");
    assert.equal((await rpc26(v2.url, creator, "tasks/get", { taskId: hold })).reply.result.status, "cancelled");
    assert.ok(v2.lookups.some((l) => l.caller === direct.other && l.op === "update" && l.taskId === ask && l.found));
  });
});

// ---- 2. through mcp_auth, 2025-11-25 ----

describe("through mcp_auth, 2025-11-25 (SDK v1 experimental tasks, stateless)", () => {
  let creator;
  let other;
  const secret = `creator secret ${randomBytes(8).toString("hex")}`;
  let work; // the creator's completed task (wrapped id)
  let held; // the creator's working task (wrapped id)
  let mine; // one of the other caller's own tasks

  before(async () => {
    creator = await v1Client(A.v1Url, { token: tokens.creator });
    other = await v1Client(A.v1Url, { token: tokens.other });
  });
  after(async () => {
    await creator?.close();
    await other?.close();
  });

  test("the creator gets status and result with the SDK's tasks API; every task id it is handed is bound", async () => {
    const before = v1.calls.length;
    const run = await runTask(creator, "work", { text: secret, ms: 100 });
    assert.equal(run.error, undefined, String(run.error));
    work = run.taskId;
    issued.v1.creator.push(work);
    const raw = learn(v1, principal.creator, work);
    assert.equal(textOf(run.result), `work done: ${secret}`);
    assert.ok(run.statuses.length > 0 && run.statuses.every((t) => t.taskId === work));
    assert.equal(run.statuses.at(-1).status, "completed");
    // The related-task entry of tasks/result reaches the client wrapped.
    assert.deepEqual(run.result._meta?.[RELATED_TASK], { taskId: work });

    // The backend was asked about the creator's task, by its own id, only
    // on the creator's behalf.
    const calls = v1.calls.slice(before).filter((c) => c.method.startsWith("tasks/"));
    assert.ok(calls.some((c) => c.method === "tasks/get") && calls.some((c) => c.method === "tasks/result"));
    assert.deepEqual(calls.filter((c) => c.caller !== principal.creator || c.taskId !== raw), []);

    held = await startTask(creator, "hold", { text: "held" });
    issued.v1.creator.push(held);
    learn(v1, principal.creator, held);
    mine = await startTask(other, "hold", { text: "the other caller's own" });
    issued.v1.other.push(mine);
    learn(v1, principal.other, mine);
    assert.equal((await other.experimental.tasks.getTask(mine)).status, "working");
    // What the clients were handed is bound, each to its own caller.
    for (const id of [work, held, mine]) assertWrapped(id);
  });

  test("the other caller, with the creator's id wrapped, raw or forged, gets the backend's unknown-task answer and the backend is never asked for it", async () => {
    const rawIds = [rawOf(work), rawOf(held)];
    for (const target of [work, held]) {
      for (const [what, id] of Object.entries(forgeries(target, mine))) {
        for (const method of ["tasks/get", "tasks/result", "tasks/cancel"]) {
          const n = v1.calls.length;
          const r = await rpc25(A.v1Url, { token: tokens.other }, method, { taskId: id });
          assert.deepEqual(shape(r), unknown.v1[method], `${method} with ${what}: ${r.status} ${r.raw}`);
          assert.ok(!r.raw.includes(secret));
          // It was forwarded, as a fresh id the backend does not know.
          const fwd = v1.calls.slice(n);
          assert.equal(fwd.length, 1, `${method} with ${what} reached the backend ${fwd.length} times`);
          assert.equal(fwd[0].caller, principal.other);
          assert.equal(fwd[0].method, method);
          assert.match(fwd[0].taskId, HEX32);
          assert.ok(!v1.tasks().some((t) => t.taskId === fwd[0].taskId), `${method} with ${what}: the backend got a real task id`);
        }
      }
    }
    // The official client sees the same: an McpError -32602.
    await assert.rejects(other.experimental.tasks.getTask(work), (e) => e instanceof McpError && e.code === -32602);
    await assert.rejects(other.experimental.tasks.getTaskResult(work, CallToolResultSchema), (e) => e instanceof McpError && e.code === -32602);
    assert.deepEqual(askedFor(v1, principal.other, rawIds), []);
    // The creator's tasks are as they were.
    assert.equal((await creator.experimental.tasks.getTask(work)).status, "completed");
    assert.equal((await creator.experimental.tasks.getTask(held)).status, "working");
  });

  test("the related-task entry of a client message reaches the backend as the creator's id for the creator only", async () => {
    // notifications/cancelled for no request: the server acts on nothing
    // but records the entry (a request would have its answer queued to the
    // named task by the v1 SDK, and never answered).
    const note = (taskId) => ({ requestId: 424242, reason: "e2e", _meta: { [RELATED_TASK]: { taskId } } });
    const n = v1.calls.length;
    assert.equal(await notify25(A.v1Url, { token: tokens.creator }, "notifications/cancelled", note(held)), 202);
    assert.deepEqual(v1.calls.slice(n).map((c) => [c.caller, c.relatedTask]), [[principal.creator, rawOf(held)]]);
    for (const [what, id] of Object.entries(forgeries(held, mine))) {
      const m = v1.calls.length;
      assert.equal(await notify25(A.v1Url, { token: tokens.other }, "notifications/cancelled", note(id)), 202, what);
      const fwd = v1.calls.slice(m);
      assert.equal(fwd.length, 1, what);
      assert.equal(fwd[0].caller, principal.other);
      assert.match(fwd[0].relatedTask, HEX32, what);
      assert.ok(!v1.tasks().some((t) => t.taskId === fwd[0].relatedTask), `${what}: the backend got a real task id`);
    }
    assert.deepEqual(askedFor(v1, principal.other, [rawOf(work), rawOf(held)]), []);
  });

  test("a duplicate or case-variant taskId, params or related-task key is refused (400) and reaches nothing", async () => {
    const raw = rawOf(held);
    const rel = "io.modelcontextprotocol/related-task";
    const bodies = {
      "taskId twice (own, then the creator's)": `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"${mine}","taskId":"${raw}"}}`,
      "taskId twice (the creator's, then own)": `{"jsonrpc":"2.0","id":1,"method":"tasks/result","params":{"taskId":"${raw}","taskId":"${mine}"}}`,
      "taskId and TaskId": `{"jsonrpc":"2.0","id":1,"method":"tasks/cancel","params":{"taskId":"${mine}","TaskId":"${raw}"}}`,
      "taskId and an escaped taskId": `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"${mine}","task\\u0049d":"${raw}"}}`,
      "params twice": `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"${mine}"},"params":{"taskId":"${raw}"}}`,
      "the related-task entry twice": `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"${rel}":{"taskId":"${mine}"},"${rel}":{"taskId":"${raw}"}}}}`,
      "taskId twice in the related-task entry": `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"${rel}":{"taskId":"${mine}","taskId":"${raw}"}}}}`,
    };
    for (const [what, body] of Object.entries(bodies)) {
      const n = v1.calls.length;
      const res = await fetch(A.v1Url, {
        method: "POST",
        headers: headersFor({ token: tokens.other }, { "mcp-protocol-version": REV25 }),
        body,
      });
      const text = await res.text();
      assert.equal(res.status, 400, `${what}: ${text}`);
      assert.equal(v1.calls.length, n, `${what} reached the backend`);
    }
    assert.deepEqual(askedFor(v1, principal.other, [raw]), []);
  });

  test("tasks/list shows each caller its own tasks only", async () => {
    // The backend itself lists everybody's tasks (these two callers' and
    // the direct test's).
    const all = (await rpc25(v1.url, { user: "oracle" }, "tasks/list", {})).reply.result;
    const backendIds = new Set(v1.tasks().map((t) => t.taskId));
    for (const id of [...issued.v1.creator, ...issued.v1.other]) assert.ok(backendIds.has(rawOf(id)));
    assert.ok(all.tasks.length > 0);

    // More than a page of the v1 store's 10 for the creator, so the lists
    // below go through sealed cursors (the v1 cursor is a raw task id).
    for (let i = 0; i < 11; i++) {
      const id = await startTask(creator, "hold", { text: `page filler ${i}` });
      learn(v1, principal.creator, id);
      issued.v1.creator.push(id);
    }
    assert.ok(v1.tasks().length > 10);

    const seen = { creator: await listAll(creator), other: await listAll(other) };
    assert.deepEqual([...seen.creator].sort(), [...issued.v1.creator].sort());
    assert.deepEqual([...seen.other].sort(), [...issued.v1.other].sort());
    // Every cursor the backend got was one it had handed out (a page's
    // last task id), and to the same caller.
    const pages = v1.lookups.filter((l) => l.op === "listTasks");
    const cursored = pages.filter((l) => l.cursor !== null && (l.caller === principal.creator || l.caller === principal.other));
    assert.ok(cursored.some((l) => l.caller === principal.creator), "the creator's list did not page");
    for (const l of cursored) {
      const before = pages.slice(0, pages.indexOf(l));
      assert.ok(before.some((p) => p.caller === l.caller && p.listed.length === 10 && p.listed.at(-1) === l.cursor),
        `${l.caller} sent the backend a cursor it was not handed: ${l.cursor}`);
    }
    // A cursor the other caller makes up (here a creator's task id, where
    // the creator's second page would start) reaches the backend as one
    // it never handed out: its own invalid-cursor error.
    const n = v1.calls.length;
    const made = await rpc25(A.v1Url, { token: tokens.other }, "tasks/list", { cursor: rawOf(issued.v1.creator[0]) });
    assert.equal(made.reply?.error?.code, -32602, made.raw);
    assert.equal(v1.calls.length, n + 1);
    assert.ok(!v1.tasks().some((t) => t.taskId === v1.calls[n].cursor), "a made-up cursor reached the backend as sent");
    // The same with a raw request (the reply is rewritten, not only the SDK's view).
    const r = await rpc25(A.v1Url, { token: tokens.other }, "tasks/list", {});
    assert.equal(r.status, 200);
    for (const id of issued.v1.creator) {
      assert.ok(!r.raw.includes(rawOf(id)), "the other caller's tasks/list names a creator's task");
    }
  });

  test("cancel by the other caller does nothing to the creator's task; the creator's own cancel works", async () => {
    const raw = rawOf(held);
    for (const id of [held, raw]) {
      await assert.rejects(other.experimental.tasks.cancelTask(id), (e) => e instanceof McpError && e.code === -32602);
    }
    assert.equal(v1.tasks().find((t) => t.taskId === raw)?.status, "working");
    assert.deepEqual(v1.lookups.filter((l) => l.op === "updateTaskStatus" && l.taskId === raw), []);
    assert.equal((await creator.experimental.tasks.getTask(held)).status, "working");

    const c = await creator.experimental.tasks.cancelTask(held);
    assert.equal(c.status, "cancelled");
    assert.equal(c.taskId, held);
    assert.equal(v1.tasks().find((t) => t.taskId === raw)?.status, "cancelled");
    assert.deepEqual(askedFor(v1, principal.other, [raw, rawOf(work)]), []);
  });
});

// ---- 3. through mcp_auth, 2026-07-28 ----

describe("through mcp_auth, 2026-07-28 (SDK v2 tasks handler)", () => {
  const creator = { token: tokens.creator };
  const other = { token: tokens.other };
  const secret = `creator secret 26 ${randomBytes(8).toString("hex")}`;
  let work;
  let ask;
  let hold;
  let mine;

  test("the creator gets status and result; the flat CreateTaskResult's taskId is bound and Mcp-Name follows the unwrapped id", async () => {
    const created = await rpc26(A.v2Url, creator, "tools/call", { name: "work", arguments: { text: secret, ms: 50 } });
    assert.equal(created.status, 200, created.raw);
    assert.equal(created.reply.result.resultType, "task");
    work = created.reply.result.taskId;
    issued.v2.creator.push(work);
    const raw = learn(v2, principal.creator, work);

    const n = v2.calls.length;
    const done = await awaitStatus26(A.v2Url, creator, work, ["completed"]);
    assert.equal(done.reply.result.taskId, work);
    assert.equal(textOf(done.reply.result.result), `work done: ${secret}`);
    // The creator sent Mcp-Name = the wrapped id; the backend (which
    // checks Mcp-Name == params.taskId itself) got the raw id in both.
    const gets = v2.calls.slice(n);
    assert.ok(gets.length > 0);
    for (const c of gets) {
      assert.deepEqual({ caller: c.caller, method: c.method, taskId: c.taskId, mcpName: c.mcpName },
        { caller: principal.creator, method: "tasks/get", taskId: raw, mcpName: raw });
    }
    // Mcp-Name in its base64 form, as a client may send it.
    const b64 = await rpc26(A.v2Url, creator, "tasks/get", { taskId: work }, { mcpName: `=?base64?${Buffer.from(work).toString("base64")}?=` });
    assert.equal(b64.reply?.result?.status, "completed", b64.raw);

    ask = (await rpc26(A.v2Url, creator, "tools/call", { name: "ask", arguments: { text: "the creator's question" } })).reply.result.taskId;
    learn(v2, principal.creator, ask);
    hold = (await rpc26(A.v2Url, creator, "tools/call", { name: "hold", arguments: { text: "held" } })).reply.result.taskId;
    learn(v2, principal.creator, hold);
    issued.v2.creator.push(ask, hold);
    mine = (await rpc26(A.v2Url, other, "tools/call", { name: "hold", arguments: { text: "mine" } })).reply.result.taskId;
    learn(v2, principal.other, mine);
    issued.v2.other.push(mine);
    assert.equal((await rpc26(A.v2Url, creator, "tasks/get", { taskId: ask })).reply.result.status, "input_required");
    for (const id of [work, ask, hold, mine]) assertWrapped(id);
  });

  test("a Mcp-Name that disagrees with params.taskId is refused (400 -32020) and not forwarded", async () => {
    const n = v2.calls.length;
    for (const name of [rawOf(work), mine, "x"]) {
      const r = await rpc26(A.v2Url, creator, "tasks/get", { taskId: work }, { mcpName: name });
      assert.equal(r.status, 400, r.raw);
      assert.equal(r.reply?.error?.code, -32020, r.raw);
    }
    assert.equal(v2.calls.length, n);
  });

  test("the other caller, with the creator's id wrapped, raw or forged, gets the backend's unknown-task answer and the backend is never asked for it", async () => {
    const rawIds = [work, ask, hold].map(rawOf);
    for (const target of [work, ask, hold]) {
      for (const [what, id] of Object.entries(forgeries(target, mine))) {
        for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
          const params = method === "tasks/update"
            ? { taskId: id, inputResponses: { confirm: { action: "accept", content: { answer: "the attacker's answer" } } } }
            : { taskId: id };
          const n = v2.calls.length;
          const r = await rpc26(A.v2Url, other, method, params);
          assert.deepEqual(shape(r), unknown.v2[method], `${method} with ${what}: ${r.status} ${r.raw}`);
          assert.ok(!r.raw.includes(secret));
          const fwd = v2.calls.slice(n);
          assert.equal(fwd.length, 1, `${method} with ${what} reached the backend ${fwd.length} times`);
          assert.equal(fwd[0].caller, principal.other);
          assert.match(fwd[0].taskId, HEX32);
          assert.equal(fwd[0].mcpName, fwd[0].taskId, "Mcp-Name did not follow the replaced id");
          assert.equal(v2.task(fwd[0].taskId), undefined, `${method} with ${what}: the backend got a real task id`);
        }
      }
    }
    assert.deepEqual(askedFor(v2, principal.other, rawIds), []);
  });

  test("tasks/update and tasks/cancel by the other caller do nothing; the creator's own do", async () => {
    for (const id of [ask, rawOf(ask)]) {
      await rpc26(A.v2Url, other, "tasks/update", { taskId: id, inputResponses: { confirm: { action: "accept", content: { answer: "evil" } } } });
    }
    for (const id of [hold, rawOf(hold)]) await rpc26(A.v2Url, other, "tasks/cancel", { taskId: id });
    assert.equal(v2.task(rawOf(ask)).status, "input_required");
    assert.equal(v2.task(rawOf(hold)).status, "working");
    assert.equal((await rpc26(A.v2Url, creator, "tasks/get", { taskId: ask })).reply.result.status, "input_required");
    assert.equal((await rpc26(A.v2Url, creator, "tasks/get", { taskId: hold })).reply.result.status, "working");

    const upd = await rpc26(A.v2Url, creator, "tasks/update", { taskId: ask, inputResponses: { confirm: { action: "accept", content: { answer: "mine" } } } });
    assert.equal(upd.reply?.result?.resultType, "complete", upd.raw);
    const answered = await rpc26(A.v2Url, creator, "tasks/get", { taskId: ask });
    assert.equal(answered.reply.result.status, "completed");
    assert.equal(textOf(answered.reply.result.result), "the creator's question: answered mine");

    const c = await rpc26(A.v2Url, creator, "tasks/cancel", { taskId: hold });
    assert.equal(c.reply?.result?.resultType, "complete", c.raw);
    assert.equal(v2.task(rawOf(hold)).status, "cancelled");
    assert.deepEqual(askedFor(v2, principal.other, [work, ask, hold].map(rawOf)), []);
  });
});

// ---- 4. reload, a second instance, another key ----

describe("the creator's ids survive a reload and work on a second instance with the same session_key", () => {
  // checkCreator: the creator's v1 and v2 tasks through an instance.
  async function checkCreator(inst) {
    const [work1] = issued.v1.creator;
    const [work2] = issued.v2.creator;
    const c = await v1Client(inst.v1Url, { token: tokens.creator });
    try {
      const st = await c.experimental.tasks.getTask(work1);
      assert.equal(st.taskId, work1);
      assert.equal(st.status, "completed");
      const res = await c.experimental.tasks.getTaskResult(work1, CallToolResultSchema);
      assert.match(textOf(res), /^work done: creator secret /);
    } finally {
      await c.close();
    }
    const g = await rpc26(inst.v2Url, { token: tokens.creator }, "tasks/get", { taskId: work2 });
    assert.equal(g.reply?.result?.status, "completed", g.raw);
    assert.match(textOf(g.reply.result.result), /^work done: creator secret 26 /);
  }

  // checkOther: the other caller gets the unknown-task answers there.
  async function checkOther(inst) {
    const ids1 = issued.v1.creator;
    const ids2 = issued.v2.creator;
    for (const id of ids1) {
      for (const method of ["tasks/get", "tasks/result"]) {
        const r = await rpc25(inst.v1Url, { token: tokens.other }, method, { taskId: id });
        assert.deepEqual(shape(r), unknown.v1[method], `${method}: ${r.raw}`);
      }
    }
    for (const id of ids2) {
      const r = await rpc26(inst.v2Url, { token: tokens.other }, "tasks/get", { taskId: id });
      assert.deepEqual(shape(r), unknown.v2["tasks/get"], r.raw);
    }
    assert.deepEqual(askedFor(v1, principal.other, ids1.map(rawOf)), []);
    assert.deepEqual(askedFor(v2, principal.other, ids2.map(rawOf)), []);
  }

  test("caddy reload with a changed but equivalent config", async () => {
    // realm mcp is the default: the JSON changes (so Caddy does reload),
    // what the module does does not.
    const changed = caddyfile({ admin: A.admin, v1Port: A.v1Port, v2Port: A.v2Port, v1, v2, extra: "realm mcp" });
    await writeFile(A.file, changed);
    await promisify(execFile)(caddyBin, ["reload", "--config", A.file, "--adapter", "caddyfile", "--address", `127.0.0.1:${A.admin}`], { timeout: 30000 });
    const adminUrl = `http://127.0.0.1:${A.admin}`;
    const cfg = await (await fetch(`${adminUrl}/config/`, { headers: { origin: adminUrl } })).text();
    assert.match(cfg, /"realm":"mcp"/, "the reload did not take effect");
    assert.ok(A.proc.running);

    await checkCreator(A);
    await checkOther(A);
    // The owner table outlives the reload: the lists are unchanged.
    const c = await v1Client(A.v1Url, { token: tokens.creator });
    const o = await v1Client(A.v1Url, { token: tokens.other });
    try {
      assert.deepEqual((await listAll(c)).sort(), [...issued.v1.creator].sort());
      assert.deepEqual((await listAll(o)).sort(), [...issued.v1.other].sort());
    } finally {
      await c.close();
      await o.close();
    }
  });

  test("a second instance with the same session_key: tasks/get works for the creator, not for the other caller", async () => {
    const B = await startInstance("b", { v1, v2 });
    await checkCreator(B);
    await checkOther(B);
    // Its tasks/list shows the other caller none of the creator's tasks.
    const o = await v1Client(B.v1Url, { token: tokens.other });
    try {
      const seen = await listAll(o);
      for (const id of issued.v1.creator) assert.ok(!seen.includes(id) && !seen.includes(rawOf(id)));
    } finally {
      await o.close();
    }
    await B.stop();
  });

  test("control: an instance with another session_key does not open the creator's ids", async () => {
    const C = await startInstance("c", { v1, v2, keyEnv: OTHER_KEY_ENV });
    const n1 = v1.calls.length;
    const r = await rpc25(C.v1Url, { token: tokens.creator }, "tasks/get", { taskId: issued.v1.creator[0] });
    assert.deepEqual(shape(r), unknown.v1["tasks/get"], r.raw);
    assert.equal(v1.calls.length, n1 + 1);
    assert.notEqual(v1.calls.at(-1).taskId, rawOf(issued.v1.creator[0]));
    const g = await rpc26(C.v2Url, { token: tokens.creator }, "tasks/get", { taskId: issued.v2.creator[0] });
    assert.deepEqual(shape(g), unknown.v2["tasks/get"], g.raw);
    await C.stop();
  });
});
