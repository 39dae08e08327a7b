// hide_denied through the official TypeScript SDK client: what a client
// library surfaces for an item the caller may not see (the reader's denied
// tool, prompt and template resource) is what it surfaces for an item that
// does not exist on server-everything, asked by the admin. The module
// forwards the denied call under a random name and puts the name back, so
// the answers are server-everything's own. The style argument
// (`typescript`) is deprecated and ignored; it stays here to show it is
// still accepted. test/hidden.test.mjs compares whole answers on the wire.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { connect } from "../lib/mcp.mjs";
import { startStack, tokens } from "../lib/tokens.mjs";

// outcome turns a call into what a client can observe of it.
async function outcome(promise) {
  try {
    const r = await promise;
    return { result: r };
  } catch (err) {
    return { code: err.code, message: err.message };
  }
}

describe("hide_denied (style typescript, accepted and ignored)", () => {
  let stack, admin, reader;
  before(async () => {
    stack = await startStack({ extra: "hide_denied typescript" });
    admin = (await connect(stack.url, tokens.admin)).client;
    reader = (await connect(stack.url, tokens.reader)).client;
  });
  after(async () => {
    await Promise.all([admin, reader].map((c) => c?.close()));
    await stack?.stop();
  });

  test("a hidden tool looks like a missing one", async () => {
    const missing = await outcome(admin.callTool({ name: "no-such-tool", arguments: {} }));
    const hidden = await outcome(reader.callTool({ name: "get-env", arguments: {} }));
    assert.equal(missing.result?.isError, true, `server-everything answers an unknown tool with an isError result: ${JSON.stringify(missing)}`);
    assert.deepEqual(hidden, JSON.parse(JSON.stringify(missing).replaceAll("no-such-tool", "get-env")));
  });

  test("a hidden prompt looks like a missing one", async () => {
    const missing = await outcome(admin.getPrompt({ name: "no-such-prompt" }));
    const hidden = await outcome(reader.getPrompt({ name: "args-prompt", arguments: { city: "Paris" } }));
    assert.equal(missing.code, -32602, JSON.stringify(missing));
    assert.deepEqual(hidden, JSON.parse(JSON.stringify(missing).replaceAll("no-such-prompt", "args-prompt")));
  });

  // The reader may read no instance of demo://resource/dynamic/text/{id}:
  // the template must look like none.
  test("a hidden resource looks like a missing one", async () => {
    const missing = await outcome(admin.readResource({ uri: "demo://resource/nowhere/x" }));
    const hidden = await outcome(reader.readResource({ uri: "demo://resource/dynamic/text/1" }));
    assert.equal(missing.code, -32602, JSON.stringify(missing));
    assert.deepEqual(hidden, JSON.parse(JSON.stringify(missing).replaceAll("demo://resource/nowhere/x", "demo://resource/dynamic/text/1")));
  });
});
