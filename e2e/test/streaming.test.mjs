// Streaming and sessions through Caddy: progress notifications arrive while
// the tool still runs (nothing buffers the SSE response), and the session
// ends with DELETE.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { connect, post, text } from "../lib/mcp.mjs";
import { startStack, tokens } from "../lib/tokens.mjs";

describe("streaming and sessions", () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test("progress notifications stream through before the result", async () => {
    const { client } = await connect(stack.url, tokens.reader);
    try {
      // trigger-long-running-operation sleeps duration/steps seconds before
      // each of its steps notifications, then answers: here one every 400ms.
      const duration = 2;
      const steps = 5;
      const start = performance.now();
      const progress = [];
      const result = await client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration, steps } },
        undefined,
        { onprogress: (p) => progress.push({ ...p, at: performance.now() - start }) },
      );
      const done = performance.now() - start;

      assert.equal(text(result), `Long running operation completed. Duration: ${duration} seconds, Steps: ${steps}.`);
      assert.deepEqual(
        progress.map((p) => [p.progress, p.total]),
        [1, 2, 3, 4, 5].map((i) => [i, steps]),
      );
      // Each notification arrived when it was sent, not with the result: the
      // first about 400ms in, the result about 2s in. A buffering proxy would
      // deliver them all together at the end.
      const first = progress[0].at;
      assert.ok(first < 1200, `first progress after ${first.toFixed(0)}ms`);
      assert.ok(done - first > 1000, `first progress ${first.toFixed(0)}ms, result ${done.toFixed(0)}ms: buffered?`);
      for (let i = 1; i < progress.length; i++) {
        const gap = progress[i].at - progress[i - 1].at;
        assert.ok(gap > 200, `progress ${i} and ${i + 1} only ${gap.toFixed(0)}ms apart: buffered?`);
      }
    } finally {
      await client.close();
    }
  });

  test("terminateSession sends DELETE through Caddy and ends the session", async () => {
    const { client, transport } = await connect(stack.url, tokens.reader);
    try {
      const sid = transport.sessionId;
      assert.ok(sid, "the server set a session id");
      await transport.terminateSession();
      assert.equal(transport.sessionId, undefined);

      // The server no longer knows the session. server-everything answers an
      // unknown session with 400 (the spec says 404); either way mcp_auth
      // passes the backend's answer through rather than refusing it itself.
      const res = await post(
        stack.url,
        { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "echo", arguments: { message: "x" } } },
        { Authorization: `Bearer ${tokens.reader}`, "mcp-session-id": sid, "mcp-protocol-version": transport.protocolVersion },
      );
      assert.ok([400, 404].includes(res.status), `status ${res.status}`);
      const body = await res.json();
      assert.match(body.error.message, /session/i);
    } finally {
      await client.close();
    }
  });
});
