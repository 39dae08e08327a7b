// MCP over HTTP from the client side: raw JSON-RPC posts and the official
// TypeScript SDK (v1, @modelcontextprotocol/sdk) client.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

// A JSON-RPC ping, for readiness probes: server-everything answers it 400
// without a session, mcp_auth 401 without a token.
export const ping = JSON.stringify({ jsonrpc: "2.0", id: 0, method: "ping" });

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

// connect opens an MCP client session through url with the given bearer
// token (none when undefined). It returns { client, transport }.
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
