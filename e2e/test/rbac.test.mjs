// Authorization per role through Caddy: tools, resources and prompts, each
// allowed and denied, driven by the official TypeScript SDK client. The
// roles are in lib/harness.mjs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { McpError } from "@modelcontextprotocol/sdk/types.js";

import { connect, startStack, text, tokens } from "../lib/harness.mjs";

// denied asserts that a promise rejects with mcp_auth's JSON-RPC error.
async function denied(promise, method, target) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof McpError, `want McpError, got ${err}`);
    assert.equal(err.code, -32030);
    assert.equal(err.message, `MCP error -32030: permission denied: ${method} ${JSON.stringify(target)}`);
    return true;
  });
}

const names = (list) => list.map((t) => t.name).sort();

describe("roles", () => {
  let stack, admin, reader, direct;
  before(async () => {
    stack = await startStack();
    admin = (await connect(stack.url, tokens.admin)).client;
    reader = (await connect(stack.url, tokens.reader)).client;
    // The same server without Caddy, to compare with.
    direct = (await connect(stack.upstreamUrl, undefined)).client;
  });
  after(async () => {
    await Promise.all([admin, reader, direct].map((c) => c?.close()));
    await stack?.stop();
  });

  test("admin lists all tools, the same as the server without Caddy", async () => {
    const { tools } = await admin.listTools();
    const all = names((await direct.listTools()).tools);
    assert.deepEqual(names(tools), all);
    for (const t of ["echo", "get-sum", "get-env", "trigger-long-running-operation"]) {
      assert.ok(all.includes(t), `server-everything offers ${t}: ${all}`);
    }
  });

  test("reader lists the tools too (tools/list is not filtered)", async () => {
    const { tools } = await reader.listTools();
    assert.ok(names(tools).includes("echo"));
  });

  test("reader: allowed tool, denied tool, and the session goes on", async () => {
    assert.equal(text(await reader.callTool({ name: "echo", arguments: { message: "hello" } })), "Echo: hello");
    await denied(reader.callTool({ name: "get-env", arguments: {} }), "tools/call", "get-env");
    // The denial was a JSON-RPC error on the same session: it still works.
    assert.equal(text(await reader.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } })), "The sum of 2 and 3 is 5.");
    await reader.ping();
  });

  test("reader: a tool in no rule is denied", async () => {
    await denied(reader.callTool({ name: "get-tiny-image", arguments: {} }), "tools/call", "get-tiny-image");
  });

  test("admin: deny beats allow *", async () => {
    await denied(admin.callTool({ name: "get-env", arguments: {} }), "tools/call", "get-env");
    const image = await admin.callTool({ name: "get-tiny-image", arguments: {} });
    assert.ok(image.content.some((c) => c.type === "image"), "admin may call get-tiny-image");
  });

  test("resources/read: allowed for the static documents, denied for the dynamic ones", async () => {
    const { resources } = await reader.listResources();
    const doc = resources.find((r) => r.uri.startsWith("demo://resource/static/document/"));
    assert.ok(doc, `a static document among ${resources.map((r) => r.uri)}`);
    const read = await reader.readResource({ uri: doc.uri });
    assert.equal(read.contents[0].uri, doc.uri);
    assert.ok(read.contents[0].text.length > 0);

    const dynamic = "demo://resource/dynamic/text/1";
    await denied(reader.readResource({ uri: dynamic }), "resources/read", dynamic);
    // The admin may: the refusal was mcp_auth's, not the server's.
    const adm = await admin.readResource({ uri: dynamic });
    assert.match(adm.contents[0].text, /^Resource 1: /);
  });

  test("prompts/get: simple-prompt allowed, args-prompt denied", async () => {
    const { prompts } = await reader.listPrompts();
    assert.ok(names(prompts).includes("simple-prompt") && names(prompts).includes("args-prompt"));
    const simple = await reader.getPrompt({ name: "simple-prompt" });
    assert.ok(simple.messages.length > 0);
    await denied(reader.getPrompt({ name: "args-prompt", arguments: { city: "Paris" } }), "prompts/get", "args-prompt");
    const args = await admin.getPrompt({ name: "args-prompt", arguments: { city: "Paris" } });
    assert.match(JSON.stringify(args.messages), /Paris/);
  });
});
