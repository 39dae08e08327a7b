// A revision 2026-07-28 tasks handler (the tasks extension,
// "io.modelcontextprotocol/tasks") on the TypeScript SDK v2
// (@modelcontextprotocol/server 2.4.0 with createMcpHandler, served through
// @modelcontextprotocol/express's createMcpExpressApp and
// @modelcontextprotocol/node's toNodeHandler), run in the test's own process
// on a free loopback port. The SDK has no tasks runtime in v2: tools return
// the flat CreateTaskResult ({resultType:"task", taskId, status, …}) and
// tasks/get, tasks/update and tasks/cancel are registered with the
// three-argument setRequestHandler on one task table shared by every
// request. The SDK itself checks Mcp-Name == params.taskId on those methods
// (400 -32020 otherwise); the handler checks that the request declares the
// extension (-32021 otherwise) and nothing about who asks: the server has no
// idea of callers, like any backend behind a gateway.
//
// Tools:
//   work {text, ms}  a task that completes after ms (at most 5 s); tasks/get
//                    then carries result "work done: <text>"
//   ask {text}       a task that waits for input (status input_required,
//                    inputRequests.confirm, an elicitation); tasks/update
//                    with inputResponses.confirm = {action:"accept",
//                    content:{answer}} completes it with result
//                    "<text>: answered <answer>"
//   hold {text}      a task that stays "working" until cancelled
//
// The oracle. Every request is attributed to the caller named by its
// X-MCP-User header (what mcp_auth's identity_header sets; a test that talks
// to the server directly sets it itself):
//   calls    one entry per JSON-RPC message that reached the server:
//            {caller, method, taskId (params.taskId), mcpName (header)}
//   lookups  one entry per task table access a handler made:
//            {caller, op, taskId, found}

import { randomBytes } from "node:crypto";
import { once } from "node:events";

import { createMcpExpressApp } from "@modelcontextprotocol/express";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer, MissingRequiredClientCapabilityError, ProtocolError } from "@modelcontextprotocol/server";
import * as z from "zod/v4";

export const TASKS_EXT = "io.modelcontextprotocol/tasks";
const CAPS_KEY = "io.modelcontextprotocol/clientCapabilities";

export async function startTasksV2() {
  const tasks = new Map();
  const calls = [];
  const lookups = [];
  const timers = new Set();
  const later = (ms, fn) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const callerOf = (ctx) => ctx?.http?.req?.headers?.get("x-mcp-user") ?? null;
  const requireExtension = (ctx) => {
    if (!ctx.mcpReq.envelope?.[CAPS_KEY]?.extensions?.[TASKS_EXT]) {
      throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXT]: {} } } });
    }
  };
  const find = (ctx, op, taskId) => {
    const t = tasks.get(taskId);
    lookups.push({ caller: callerOf(ctx), op, taskId, found: t !== undefined });
    if (!t) throw new ProtocolError(-32602, "Task not found");
    return t;
  };
  const touch = (t, status, extra = {}) => {
    Object.assign(t, { status, lastUpdatedAt: new Date().toISOString() }, extra);
  };
  const terminal = (t) => ["completed", "failed", "cancelled"].includes(t.status);

  // createTask stores a new task and returns the flat CreateTaskResult.
  const createTask = (ctx, extra = {}) => {
    requireExtension(ctx);
    const now = new Date().toISOString();
    const t = { taskId: randomBytes(16).toString("hex"), status: "working", createdAt: now, lastUpdatedAt: now, ttlMs: 60000, pollIntervalMs: 50, ...extra };
    tasks.set(t.taskId, t);
    lookups.push({ caller: callerOf(ctx), op: "create", taskId: t.taskId, found: true });
    const { taskId, status, createdAt, lastUpdatedAt, ttlMs, pollIntervalMs } = t;
    return { t, created: { resultType: "task", taskId, status, createdAt, lastUpdatedAt, ttlMs, pollIntervalMs } };
  };
  const text = (s) => ({ content: [{ type: "text", text: s }] });

  const factory = () => {
    const mcp = new McpServer(
      { name: "e2e-tasks-v2", version: "1.0.0" },
      { capabilities: { tools: {}, extensions: { [TASKS_EXT]: {} } } },
    );
    mcp.registerTool("work", { description: "Works for ms milliseconds.", inputSchema: z.object({ text: z.string(), ms: z.number().int().min(0).max(5000) }) },
      async ({ text: s, ms }, ctx) => {
        const { t, created } = createTask(ctx);
        later(ms, () => {
          if (!terminal(t)) touch(t, "completed", { result: text(`work done: ${s}`) });
        });
        return created;
      });
    mcp.registerTool("ask", { description: "Asks the client for an answer.", inputSchema: z.object({ text: z.string() }) },
      async ({ text: s }, ctx) => {
        const { created } = createTask(ctx, {
          status: "input_required",
          question: s,
          inputRequests: {
            confirm: {
              method: "elicitation/create",
              params: { mode: "form", message: `answer for ${s}`, requestedSchema: { type: "object", properties: { answer: { type: "string" } }, required: ["answer"] } },
            },
          },
        });
        return { ...created, status: "input_required" };
      });
    mcp.registerTool("hold", { description: "Stays working until cancelled.", inputSchema: z.object({ text: z.string() }) },
      async (_args, ctx) => createTask(ctx).created);

    const server = mcp.server;
    const Id = z.object({ taskId: z.string() }).passthrough();
    server.setRequestHandler("tasks/get", { params: Id }, async ({ taskId }, ctx) => {
      requireExtension(ctx);
      const t = find(ctx, "get", taskId);
      const { question: _q, ...detailed } = t;
      return detailed;
    });
    server.setRequestHandler("tasks/update", { params: Id }, async ({ taskId }, ctx) => {
      requireExtension(ctx);
      const t = find(ctx, "update", taskId);
      const answer = ctx.mcpReq.inputResponses?.confirm;
      if (t.status === "input_required" && answer?.action === "accept" && typeof answer.content?.answer === "string") {
        touch(t, "completed", { result: text(`${t.question}: answered ${answer.content.answer}`) });
        delete t.inputRequests;
      }
      return {};
    });
    server.setRequestHandler("tasks/cancel", { params: Id }, async ({ taskId }, ctx) => {
      requireExtension(ctx);
      const t = find(ctx, "cancel", taskId);
      if (!terminal(t)) {
        touch(t, "cancelled", { statusMessage: "cancelled by the client" });
        delete t.inputRequests;
      }
      return {};
    });
    return mcp;
  };

  const handler = createMcpHandler(factory, { onerror: () => {} });
  const app = createMcpExpressApp({ host: "127.0.0.1" });
  const node = toNodeHandler(handler);
  app.all("/mcp", (req, res) => {
    for (const m of [req.body].flat()) {
      if (m && typeof m === "object" && typeof m.method === "string") {
        calls.push({ caller: req.headers["x-mcp-user"] ?? null, method: m.method, taskId: m.params?.taskId, mcpName: req.headers["mcp-name"] });
      }
    }
    return node(req, res, req.body);
  });

  const http = app.listen(0, "127.0.0.1");
  await once(http, "listening");
  const { port } = http.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    lookups,
    tasks: () => [...tasks.values()].map((t) => ({ ...t })),
    task: (id) => (tasks.has(id) ? { ...tasks.get(id) } : undefined),
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await handler.close();
      http.closeAllConnections();
      await new Promise((res) => http.close(res));
    },
  };
}
