// Authorization per role through Caddy: tools, resources and prompts, each
// allowed and denied, driven by the official TypeScript SDK client. The
// roles are in lib/tokens.mjs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { McpError } from "@modelcontextprotocol/sdk/types.js";

import { connect, text } from "../lib/mcp.mjs";
import { startStack, tokens } from "../lib/tokens.mjs";

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

  test("admin lists every tool of the server but the one it may not call", async () => {
    const { tools } = await admin.listTools();
    const all = names((await direct.listTools()).tools);
    for (const t of ["echo", "get-sum", "get-env", "trigger-long-running-operation", "get-tiny-image"]) {
      assert.ok(all.includes(t), `server-everything offers ${t}: ${all}`);
    }
    assert.deepEqual(names(tools), all.filter((t) => t !== "get-env"));
  });

  test("reader lists exactly the allowed subset of what the admin sees", async () => {
    const { tools } = await reader.listTools();
    const adminTools = names((await admin.listTools()).tools);
    const allowed = ["echo", "get-sum", "trigger-long-running-operation"];
    assert.deepEqual(names(tools), adminTools.filter((t) => allowed.includes(t)));
    assert.deepEqual(names(tools), [...allowed].sort());
    // The filtered items are whole: schemas and descriptions survive.
    const direct_echo = (await direct.listTools()).tools.find((t) => t.name === "echo");
    assert.deepEqual(tools.find((t) => t.name === "echo"), direct_echo);
  });

  test("reader lists only the resources, templates and prompts it may use", async () => {
    const all = (await direct.listResources()).resources.map((r) => r.uri);
    const mine = (await reader.listResources()).resources.map((r) => r.uri);
    assert.ok(mine.length > 0, "the static documents are listed");
    assert.deepEqual(mine, all.filter((u) => u.startsWith("demo://resource/static/")));
    const templates = (await direct.listResourceTemplates()).resourceTemplates;
    assert.ok(templates.length > 0, "server-everything offers templates");
    const myTemplates = (await reader.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    assert.deepEqual(myTemplates, templates.map((t) => t.uriTemplate).filter((u) => u.startsWith("demo://resource/static/")));
    assert.deepEqual(names((await reader.listPrompts()).prompts), ["simple-prompt"]);
    assert.ok(names((await admin.listPrompts()).prompts).includes("args-prompt"));
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
    const simple = await reader.getPrompt({ name: "simple-prompt" });
    assert.ok(simple.messages.length > 0);
    await denied(reader.getPrompt({ name: "args-prompt", arguments: { city: "Paris" } }), "prompts/get", "args-prompt");
    const args = await admin.getPrompt({ name: "args-prompt", arguments: { city: "Paris" } });
    assert.match(JSON.stringify(args.messages), /Paris/);
  });
});
