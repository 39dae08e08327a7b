// The TypeScript SDK v2 backend (@modelcontextprotocol/server 2.4.0 on
// @modelcontextprotocol/express 2.0.2 and @modelcontextprotocol/node
// 2.1.2), built as those packages' READMEs build a stateless Streamable
// HTTP server: createMcpExpressApp() (Host and Origin validation,
// express.json()), then per POST a McpServer and a
// NodeStreamableHTTPServerTransport, and transport.handleRequest(req, res,
// req.body); GET and DELETE answer 405. Tools and resources record what
// they do (common.mjs).

import { createServer } from "node:http";

import { createMcpExpressApp } from "@modelcontextprotocol/express";
import { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/server";
import * as z from "zod";

import { methodNotAllowed, port, readResource, resources, runTool, serveRecord, tap, templates } from "./common.mjs";

function getServer() {
  const server = new McpServer({ name: "diff-ts-v2", version: "1.0.0" });
  const text = (t) => ({ content: [{ type: "text", text: t }] });
  const headersOf = (ctx) => ctx?.http?.req?.headers;
  server.registerTool("echo", { description: "Returns its text.", inputSchema: z.object({ text: z.string().optional() }) },
    async (args, ctx) => text(runTool("echo", args, headersOf(ctx))));
  server.registerTool("delete_record", { description: "Deletes a record.", inputSchema: z.object({ id: z.string().optional() }) },
    async (args, ctx) => text(runTool("delete_record", args, headersOf(ctx))));
  for (const uri of Object.keys(resources)) {
    server.registerResource(uri, uri, { mimeType: "text/plain" }, async (url, ctx) => {
      const headers = headersOf(ctx);
      return { contents: [{ uri: url.href, text: readResource(uri, {}, headers?.get("x-mcp-user"), headers) }] };
    });
  }
  for (const t of Object.keys(templates)) {
    server.registerResource(t, new ResourceTemplate(t, { list: undefined }), { mimeType: "text/plain" }, async (url, vars, ctx) => ({
      contents: [{ uri: url.href, text: readResource(url.href, vars, null, headersOf(ctx), t) }],
    }));
  }
  return server;
}

const app = createMcpExpressApp();

app.post("/mcp", async (req, res) => {
  const server = getServer();
  const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on("close", () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
});
app.get("/mcp", methodNotAllowed);
app.delete("/mcp", methodNotAllowed);

serveRecord();
createServer((req, res) => {
  tap(req);
  app(req, res);
}).listen(port, "127.0.0.1", () => console.log(`ts-v2 listening on 127.0.0.1:${port}`));
