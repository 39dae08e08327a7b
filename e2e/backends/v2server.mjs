// A revision 2026-07-28 MCP server on the TypeScript SDK v2
// (@modelcontextprotocol/server 2.4.0 with createMcpHandler, served through
// @modelcontextprotocol/express's createMcpExpressApp and
// @modelcontextprotocol/node's toNodeHandler), run in the test's own
// process on a free loopback port. It speaks 2026-07-28 (server/discover,
// subscriptions/listen) and, through the SDK's stateless legacy fallback,
// 2025-era requests too.
//
// It is the oracle of the tests: every tool run, resource read, prompt get
// and legacy resources/subscribe is recorded in `executions`, and every
// JSON-RPC message that reached it in `received`, so a test can state that
// a denied call never ran.
//
// What it serves:
//   tools      echo {text} -> "echo: <text>"; add {a,b} -> "<a+b>";
//              delete_all -> "everything deleted" (the one no role may call
//              but admin's allow * would)
//   resources  file:///public/readme.md, file:///public/news.md (readers
//              may read and subscribe), file:///private/secrets.txt (never
//              announced to a reader)
//   prompts    greet {name}; secret_prompt
// Capabilities: tools/prompts/resources listChanged, resources subscribe.
// Its list results say cacheScope "public" with a ttlMs of 60 s (the SDK's
// cacheHints), so a "private" in a reply is the gateway's doing.

import { once } from "node:events";

import { createMcpExpressApp } from "@modelcontextprotocol/express";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import * as z from "zod/v4";

export const v2 = {
  tools: ["add", "delete_all", "echo"],
  prompts: ["greet", "secret_prompt"],
  publicDoc: "file:///public/readme.md",
  publicNews: "file:///public/news.md",
  privateDoc: "file:///private/secrets.txt",
  secretText: "the launch code is 0000",
  listTtlMs: 60000,
};

const resources = [
  { name: "readme", uri: v2.publicDoc, text: "# Readme\npublic docs" },
  { name: "news", uri: v2.publicNews, text: "public news" },
  { name: "secrets", uri: v2.privateDoc, text: v2.secretText },
];

const listHint = { ttlMs: v2.listTtlMs, cacheScope: "public" };

// startV2Server starts the server. It returns { url, port, executions,
// received, notify, close }: notify is createMcpHandler's publish side
// (toolsChanged, promptsChanged, resourcesChanged, resourceUpdated(uri)).
export async function startV2Server() {
  const executions = [];
  const received = [];
  const ran = (kind, what) => executions.push({ kind, what });

  const factory = () => {
    const mcp = new McpServer(
      { name: "e2e-v2", version: "1.0.0" },
      {
        capabilities: {
          tools: { listChanged: true },
          prompts: { listChanged: true },
          resources: { listChanged: true, subscribe: true },
        },
        cacheHints: {
          "tools/list": listHint,
          "prompts/list": listHint,
          "resources/list": listHint,
          "resources/templates/list": listHint,
        },
      },
    );
    mcp.registerTool("echo", { description: "Echoes text.", inputSchema: z.object({ text: z.string() }) }, async ({ text }) => {
      ran("tools/call", "echo");
      return { content: [{ type: "text", text: `echo: ${text}` }] };
    });
    mcp.registerTool("add", { description: "Adds.", inputSchema: z.object({ a: z.number(), b: z.number() }) }, async ({ a, b }) => {
      ran("tools/call", "add");
      return { content: [{ type: "text", text: String(a + b) }] };
    });
    mcp.registerTool("delete_all", { description: "Deletes everything." }, async () => {
      ran("tools/call", "delete_all");
      return { content: [{ type: "text", text: "everything deleted" }] };
    });
    for (const r of resources) {
      mcp.registerResource(r.name, r.uri, { mimeType: "text/plain" }, async (uri) => {
        ran("resources/read", uri.href);
        return { contents: [{ uri: uri.href, mimeType: "text/plain", text: r.text }] };
      });
    }
    mcp.registerPrompt("greet", { description: "Greets.", argsSchema: z.object({ name: z.string() }) }, ({ name }) => {
      ran("prompts/get", "greet");
      return { messages: [{ role: "user", content: { type: "text", text: `Hello, ${name}` } }] };
    });
    mcp.registerPrompt("secret_prompt", { description: "Secret." }, () => {
      ran("prompts/get", "secret_prompt");
      return { messages: [{ role: "user", content: { type: "text", text: "the secret prompt" } }] };
    });
    // 2025-era resources/subscribe (2026-07-28 subscribes on the listen
    // stream, which createMcpHandler serves itself).
    mcp.server.setRequestHandler("resources/subscribe", async (req) => {
      ran("resources/subscribe", req.params.uri);
      return {};
    });
    mcp.server.setRequestHandler("resources/unsubscribe", async () => ({}));
    return mcp;
  };

  const handler = createMcpHandler(factory, { onerror: () => {} });
  const app = createMcpExpressApp({ host: "127.0.0.1" });
  const node = toNodeHandler(handler);
  app.all("/mcp", (req, res) => {
    for (const m of [req.body].flat()) {
      if (m && typeof m === "object") {
        received.push({
          method: m.method,
          target: m.params?.name ?? m.params?.uri,
          subscriptions: m.params?.notifications?.resourceSubscriptions,
          version: req.headers["mcp-protocol-version"],
        });
      }
    }
    return node(req, res, req.body);
  });

  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    executions,
    received,
    notify: handler.notify,
    // ran reports how many times kind/what was executed.
    ran: (kind, what) => executions.filter((e) => e.kind === kind && e.what === what).length,
    async close() {
      await handler.close();
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    },
  };
}
