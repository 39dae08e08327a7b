// Authentication through Caddy: no token, an unknown token, a known one, on
// POST, GET and DELETE alike.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { connect, post, text } from "../lib/mcp.mjs";
import { startStack, tokens } from "../lib/tokens.mjs";

describe("authentication", () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test("no token: the SDK client's connect fails with 401", async () => {
    await assert.rejects(connect(stack.url, undefined), (err) => {
      assert.ok(err instanceof StreamableHTTPError, `want StreamableHTTPError, got ${err}`);
      assert.equal(err.code, 401);
      return true;
    });
  });

  test("no token: 401 with a Bearer challenge and a JSON body", async () => {
    const res = await post(stack.url, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="mcp"');
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { error: "unauthorized", error_description: "a bearer token is required" });
  });

  test("unknown token: the SDK client's connect fails with 403", async () => {
    await assert.rejects(connect(stack.url, "not-a-known-token"), (err) => {
      assert.ok(err instanceof StreamableHTTPError, `want StreamableHTTPError, got ${err}`);
      assert.equal(err.code, 403);
      return true;
    });
  });

  test("unknown token: 403 with error=invalid_token", async () => {
    const res = await post(stack.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { Authorization: "Bearer nope" });
    assert.equal(res.status, 403);
    assert.match(res.headers.get("www-authenticate"), /^Bearer realm="mcp", error="invalid_token"$/);
    await res.body?.cancel();
  });

  test("the session id is no credential: GET and DELETE need the token too", async () => {
    const { client, transport } = await connect(stack.url, tokens.reader);
    try {
      const sid = transport.sessionId;
      assert.ok(sid, "the server set a session id");
      for (const method of ["GET", "DELETE"]) {
        const res = await fetch(stack.url, {
          method,
          headers: { "mcp-session-id": sid, accept: "text/event-stream", "mcp-protocol-version": transport.protocolVersion },
        });
        assert.equal(res.status, 401, `${method} without a token`);
        await res.body?.cancel();
      }
      // The DELETE without a token did not end the session.
      assert.equal(text(await client.callTool({ name: "echo", arguments: { message: "still here" } })), "Echo: still here");
    } finally {
      await client.close();
    }
  });
});
