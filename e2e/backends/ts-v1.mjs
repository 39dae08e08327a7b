// The TypeScript SDK v1 backend (@modelcontextprotocol/sdk 1.32.2), built
// as the SDK's documentation builds a stateless Streamable HTTP server:
// createMcpExpressApp() (Host validation, express.json()), then per POST a
// McpServer and a StreamableHTTPServerTransport, and
// transport.handleRequest(req, res, req.body); GET and DELETE answer 405.
// Tools and resources record what they do (common.mjs).

import { createServer } from "node:http";

import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import * as z from "zod";

import { methodNotAllowed, port, readResource, resources, runTool, serveRecord, tap, templates } from "./common.mjs";

function getServer() {
  const server = new McpServer({ name: "diff-ts-v1", version: "1.0.0" });
  const text = (t) => ({ content: [{ type: "text", text: t }] });
  server.registerTool("echo", { description: "Returns its text.", inputSchema: { text: z.string().optional() } },
    async (args, extra) => text(runTool("echo", args, extra.requestInfo?.headers)));
  server.registerTool("delete_record", { description: "Deletes a record.", inputSchema: { id: z.string().optional() } },
    async (args, extra) => text(runTool("delete_record", args, extra.requestInfo?.headers)));
  for (const uri of Object.keys(resources)) {
    server.registerResource(uri, uri, { mimeType: "text/plain" }, async (url, extra) => {
      const headers = extra.requestInfo?.headers;
      return { contents: [{ uri: url.href, text: readResource(uri, {}, headers?.["x-mcp-user"], headers) }] };
    });
  }
  for (const t of Object.keys(templates)) {
    server.registerResource(t, new ResourceTemplate(t, { list: undefined }), { mimeType: "text/plain" }, async (url, vars, extra) => ({
      contents: [{ uri: url.href, text: readResource(url.href, vars, null, extra.requestInfo?.headers, t) }],
    }));
  }
  return server;
}

const app = createMcpExpressApp();

app.post("/mcp", async (req, res) => {
  const server = getServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
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
}).listen(port, "127.0.0.1", () => console.log(`ts-v1 listening on 127.0.0.1:${port}`));
