// A revision 2025-11-25 task-capable MCP server on the TypeScript SDK v1
// (@modelcontextprotocol/sdk 1.32.2, experimental/tasks), run in the test's
// own process on a free loopback port, as the SDK's stateless example builds
// it: createMcpExpressApp() (Host validation, express.json()), then per POST
// a McpServer and a StreamableHTTPServerTransport with
// `sessionIdGenerator: undefined`, all of them on ONE InMemoryTaskStore.
//
// Stateless on purpose: the store hides a task from another *session*
// (InMemoryTaskStore.lookup), so with sessions the test would pass without
// any task binding. Without a session nothing is scoped: whoever knows a
// task id may get, result, list and cancel it. The tasks/get, tasks/result,
// tasks/list and tasks/cancel handlers are the SDK's own (Protocol installs
// them when a taskStore is configured).
//
// Tools (registerToolTask, taskSupport "required"):
//   work {text, ms}  a task that completes after ms (at most 5 s) with the
//                    text "work done: <text>"
//   hold {text}      a task that stays "working" until it is cancelled (or
//                    its ttl runs out)
//
// The oracle. Every request is attributed to the caller named by its
// X-MCP-User header (the identity mcp_auth's identity_header sets; a test
// that talks to the server directly sets it itself):
//   calls    one entry per JSON-RPC message that reached the server:
//            {caller, method, taskId (params.taskId), relatedTask, cursor}
//   lookups  one entry per task store call the SDK made while serving it:
//            {caller, op, taskId, found}; listTasks has the ids it returned
// so a test can say "the server was never asked for task X on behalf of
// caller Y", and not only "the gateway did not forward it".

import { once } from "node:events";

import { InMemoryTaskMessageQueue, InMemoryTaskStore } from "@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import * as z from "zod";

export const RELATED_TASK = "io.modelcontextprotocol/related-task";

// recordingStore is the task store one request's server sees: the shared
// store, with every call noted for the request's caller.
function recordingStore(store, caller, lookups) {
  const note = (op, taskId, found, extra = {}) => lookups.push({ caller, op, taskId, found, ...extra });
  return {
    async createTask(params, requestId, request, sessionId) {
      const task = await store.createTask(params, requestId, request, sessionId);
      note("createTask", task.taskId, true);
      return task;
    },
    async getTask(taskId, sessionId) {
      const task = await store.getTask(taskId, sessionId);
      note("getTask", taskId, task !== null);
      return task;
    },
    async storeTaskResult(taskId, status, result, sessionId) {
      try {
        await store.storeTaskResult(taskId, status, result, sessionId);
        note("storeTaskResult", taskId, true);
      } catch (err) {
        note("storeTaskResult", taskId, false);
        throw err;
      }
    },
    async getTaskResult(taskId, sessionId) {
      try {
        const r = await store.getTaskResult(taskId, sessionId);
        note("getTaskResult", taskId, true);
        return r;
      } catch (err) {
        note("getTaskResult", taskId, false);
        throw err;
      }
    },
    async updateTaskStatus(taskId, status, statusMessage, sessionId) {
      try {
        await store.updateTaskStatus(taskId, status, statusMessage, sessionId);
        note("updateTaskStatus", taskId, true, { status });
      } catch (err) {
        note("updateTaskStatus", taskId, false, { status });
        throw err;
      }
    },
    async listTasks(cursor, sessionId) {
      const r = await store.listTasks(cursor, sessionId);
      note("listTasks", null, true, { cursor: cursor ?? null, listed: r.tasks.map((t) => t.taskId) });
      return r;
    },
  };
}

// startTasksV1 starts the server. It returns { url, port, calls, lookups,
// tasks(), close() }: tasks() is every task in the store, whoever made it.
export async function startTasksV1() {
  const store = new InMemoryTaskStore();
  const queue = new InMemoryTaskMessageQueue();
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

  const getServer = (caller) => {
    const server = new McpServer(
      { name: "e2e-tasks-v1", version: "1.0.0" },
      {
        capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
        taskStore: recordingStore(store, caller, lookups),
        taskMessageQueue: queue,
      },
    );
    const text = (t) => ({ content: [{ type: "text", text: t }] });
    const taskHandlers = (finish) => ({
      async createTask(args, { taskStore, taskRequestedTtl }) {
        const task = await taskStore.createTask({ ttl: taskRequestedTtl ?? 60000, pollInterval: 50 });
        finish(args, task, taskStore);
        return { task };
      },
      async getTask(_args, { taskId, taskStore }) {
        return taskStore.getTask(taskId);
      },
      async getTaskResult(_args, { taskId, taskStore }) {
        return taskStore.getTaskResult(taskId);
      },
    });
    server.experimental.tasks.registerToolTask(
      "work",
      { description: "Works for ms milliseconds, then returns its text.", inputSchema: { text: z.string(), ms: z.number().int().min(0).max(5000) } },
      taskHandlers(({ text: t, ms }, task, taskStore) => {
        later(ms, () => {
          // A cancelled task keeps its status (the store refuses a result
          // for a terminal task).
          taskStore.storeTaskResult(task.taskId, "completed", text(`work done: ${t}`)).catch(() => {});
        });
      }),
    );
    server.experimental.tasks.registerToolTask(
      "hold",
      { description: "Stays working until cancelled.", inputSchema: { text: z.string() } },
      taskHandlers(() => {}),
    );
    return server;
  };

  const app = createMcpExpressApp({ host: "127.0.0.1" });
  app.post("/mcp", async (req, res) => {
    const caller = req.headers["x-mcp-user"] ?? null;
    for (const m of [req.body].flat()) {
      if (m && typeof m === "object" && typeof m.method === "string") {
        calls.push({
          caller,
          method: m.method,
          taskId: m.params?.taskId,
          relatedTask: m.params?._meta?.[RELATED_TASK]?.taskId,
          cursor: m.params?.cursor,
        });
      }
    }
    const server = getServer(caller);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const methodNotAllowed = (_req, res) => {
    res.writeHead(405).end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null }));
  };
  app.get("/mcp", methodNotAllowed);
  app.delete("/mcp", methodNotAllowed);

  const http = app.listen(0, "127.0.0.1");
  await once(http, "listening");
  const { port } = http.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    lookups,
    tasks: () => store.getAllTasks(),
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      store.cleanup();
      http.closeAllConnections();
      await new Promise((res) => http.close(res));
    },
  };
}
