// OAuth 2.1 end to end: the official TypeScript SDK client, given only the
// MCP URL and client credentials, finds its way through Caddy's 401 and
// metadata to oidc-provider, gets a JWT access token and uses
// server-everything behind mcp_auth. The tokens mean exactly what they say
// (typ, malformed claims), and opaque tokens are introspected: a client
// is a principal of its own, and a GET stream ends with its token.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { post } from "../lib/mcp.mjs";
import { client as creds, jwtHeader, quirks, revoke, startAS, startOAuthStack, tokenFor } from "../lib/oauth.mjs";

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// session initializes an MCP session through url with token and returns
// the headers of its further requests.
async function session(url, token) {
  const init = await post(url, initialize, { authorization: `Bearer ${token}` });
  assert.equal(init.status, 200, await init.clone().text());
  const headers = {
    authorization: `Bearer ${token}`,
    "mcp-session-id": init.headers.get("mcp-session-id"),
    "mcp-protocol-version": "2025-06-18",
  };
  await init.text();
  const done = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers);
  assert.equal(done.status, 202);
  return { init, headers };
}

// openStream opens the session's GET event stream; ended resolves when
// the server ends it.
async function openStream(url, headers) {
  const ctrl = new AbortController();
  const res = await fetch(url, { method: "GET", headers: { ...headers, accept: "text/event-stream" }, signal: ctrl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /text\/event-stream/);
  const reader = res.body.getReader();
  const ended = (async () => {
    try {
      for (;;) {
        if ((await reader.read()).done) return "ended";
      }
    } catch {
      return ctrl.signal.aborted ? "aborted" : "ended";
    }
  })();
  return { ended, abort: () => ctrl.abort() };
}

// within is "open" unless p settles within ms.
const within = (p, ms) => Promise.race([p, sleep(ms).then(() => "open")]);

// connect opens an SDK session with client credentials, starting from the
// MCP URL alone; requests records every URL the client fetched.
async function connect(url, issuer, scope) {
  const requests = [];
  const authProvider = new ClientCredentialsProvider({
    clientId: creds.id,
    clientSecret: creds.secret,
    scope,
    expectedIssuer: issuer,
  });
  const recordingFetch = async (input, init) => {
    const res = await fetch(input, init);
    requests.push(`${init?.method ?? "GET"} ${String(input)} ${res.status}`);
    return res;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider, fetch: recordingFetch });
  const client = new Client({ name: "oauth-e2e", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport, requests };
}

describe("OAuth: client credentials through mcp_auth", () => {
  let stack;
  let as;
  before(async () => {
    stack = await startOAuthStack();
  });
  after(async () => {
    await as?.stop();
    await stack?.stop();
  });

  test("Caddy starts without the authorization server and challenges with resource_metadata", async () => {
    for (const [url, metaPath] of [
      [stack.urlA, "/.well-known/oauth-protected-resource/mcp"],
      [stack.urlB, "/.well-known/oauth-protected-resource/mcp"],
    ]) {
      const res = await post(url, initialize);
      assert.equal(res.status, 401);
      const origin = new URL(url).origin;
      assert.equal(
        res.headers.get("www-authenticate"),
        `Bearer realm="mcp", resource_metadata="${origin}${metaPath}", scope="mcp:read"`,
      );
      const meta = await fetch(origin + metaPath);
      assert.equal(meta.status, 200);
      assert.equal(meta.headers.get("access-control-allow-origin"), "*");
      const doc = await meta.json();
      assert.equal(doc.resource, url); // byte-equal to the URL the client uses
      assert.deepEqual(doc.authorization_servers, [stack.issuer]);
      assert.deepEqual(doc.bearer_methods_supported, ["header"]);
      assert.deepEqual(doc.scopes_supported, ["mcp:read", "mcp:admin"]);
    }
  });

  test("after the authorization server starts, the SDK client gets in from the MCP URL alone (handle placement)", async () => {
    as = await startAS(stack.asPort, [stack.urlA, stack.urlB, stack.otherResource], [stack.urlC]);
    const { client, transport, requests } = await connect(stack.urlA, stack.issuer, "mcp:read");
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "echo"), "echo is listed");
      const res = await client.callTool({ name: "echo", arguments: { message: "hi" } });
      assert.equal(res.content[0].text, "Echo: hi");
      // The discovery the client made on its own: 401, our metadata, the
      // authorization server's metadata, the token endpoint, the retry.
      const seq = requests.map((r) => r.replace(/^(\S+ \S+?)(\?\S*)? (\d+)$/, "$1 $3"));
      assert.equal(seq[0], `POST ${stack.urlA} 401`);
      assert.ok(seq.includes(`GET ${new URL(stack.urlA).origin}/.well-known/oauth-protected-resource/mcp 200`), seq.join("\n"));
      assert.ok(seq.some((r) => r.startsWith(`GET ${stack.issuer}/.well-known/oauth-authorization-server`)), seq.join("\n"));
      assert.ok(seq.includes(`POST ${stack.issuer}/token 200`), seq.join("\n"));
      assert.ok(seq.includes(`POST ${stack.urlA} 200`), seq.join("\n"));
    } finally {
      await transport.close();
    }
  });

  test("site-wide mcp_auth serves its own metadata; the client gets in", async () => {
    const { client, transport } = await connect(stack.urlB, stack.issuer, "mcp:read mcp:admin");
    try {
      const res = await client.callTool({ name: "get-sum", arguments: { a: 2, b: 3 } });
      assert.match(res.content[0].text, /5/);
    } finally {
      await transport.close();
    }
  });

  test("a token for another audience is refused with 401 invalid_token", async () => {
    const other = await tokenFor(stack.issuer, stack.otherResource);
    const res = await post(stack.urlA, initialize, { authorization: `Bearer ${other}` });
    assert.equal(res.status, 401);
    const challenge = res.headers.get("www-authenticate");
    assert.match(challenge, /error="invalid_token"/);
    assert.match(challenge, /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
    assert.match((await res.json()).error_description, /not meant for this resource/);
    // The same client's token for this resource passes.
    const mine = await tokenFor(stack.issuer, stack.urlA);
    const ok = await post(stack.urlA, initialize, { authorization: `Bearer ${mine}` });
    assert.equal(ok.status, 200);
    // A token for site B is not one for site A.
    const forB = await tokenFor(stack.issuer, stack.urlB);
    assert.equal((await post(stack.urlA, initialize, { authorization: `Bearer ${forB}` })).status, 401);
  });

  test("step-up: a 403 insufficient_scope is recognized by the SDK, and the session goes on", async () => {
    const { client, transport, requests } = await connect(stack.urlA, stack.issuer, "mcp:read");
    try {
      await assert.rejects(
        client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } }),
        (err) => {
          assert.ok(err instanceof StreamableHTTPError, `${err}`);
          assert.equal(err.code, 403);
          assert.match(err.message, /upscoping/);
          return true;
        },
      );
      // The client re-fetched a token after the first 403 (the SDK asks
      // for the same scope with client credentials), then gave up.
      const tokens = requests.filter((r) => r.startsWith(`POST ${stack.issuer}/token`));
      assert.equal(tokens.length, 2, requests.join("\n"));
      const res = await client.callTool({ name: "echo", arguments: { message: "still here" } });
      assert.equal(res.content[0].text, "Echo: still here");
    } finally {
      await transport.close();
    }
    // The challenge itself, read raw.
    const tok = await tokenFor(stack.issuer, stack.urlA, "mcp:read");
    const init = await post(stack.urlA, initialize, { authorization: `Bearer ${tok}` });
    const sid = init.headers.get("mcp-session-id");
    const res = await post(
      stack.urlA,
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "get-sum", arguments: { a: 1, b: 2 } } },
      { authorization: `Bearer ${tok}`, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" },
    );
    assert.equal(res.status, 403);
    assert.match(res.headers.get("www-authenticate"), /error="insufficient_scope", resource_metadata="[^"]+", scope="mcp:read mcp:admin"/);
  });

  test("typ: oidc-provider's at+jwt passes; typ JWT and no typ only where accept_typ JWT is configured", async () => {
    const plain = await tokenFor(stack.issuer, stack.urlA);
    assert.equal(jwtHeader(plain).typ, "at+jwt");
    assert.equal((await post(stack.urlA, initialize, { authorization: `Bearer ${plain}` })).status, 200);
    for (const [quirk, shown] of [
      [quirks.typJWT, '"JWT"'],
      [quirks.typNone, "none"],
    ]) {
      // Site A (RFC 9068 only) refuses the token with 401, and says why.
      const forA = await tokenFor(stack.issuer, stack.urlA, `mcp:read ${quirk}`);
      assert.equal(jwtHeader(forA).typ, quirk === quirks.typJWT ? "JWT" : undefined);
      const res = await post(stack.urlA, initialize, { authorization: `Bearer ${forA}` });
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
      assert.equal((await res.json()).error_description, `the access token's typ (${shown}) is not accepted: access tokens have typ at+jwt (RFC 9068); accept_typ names others`);
      // Site B (accept_typ JWT) takes it, and the session works.
      const forB = await tokenFor(stack.issuer, stack.urlB, `mcp:read ${quirk}`);
      const { headers } = await session(stack.urlB, forB);
      const call = await post(stack.urlB, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "typ" } } }, headers);
      assert.equal(call.status, 200);
      assert.match(await call.text(), /Echo: typ/);
    }
    // Refused typs did not count towards site A's throttle (3/1m): the
    // good token still gets in.
    assert.equal((await post(stack.urlA, initialize, { authorization: `Bearer ${plain}` })).status, 200);
  });

  test("a malformed exp from the authorization server: 401, its own reason, never counted as a wrong credential", async () => {
    for (let i = 0; i < 3; i++) {
      for (const quirk of [quirks.expString, quirks.expHuge]) {
        const tok = await tokenFor(stack.issuer, stack.urlA, `mcp:read ${quirk}`);
        const payload = JSON.parse(Buffer.from(tok.split(".")[1], "base64url").toString());
        assert.ok(payload.exp === "soon" || payload.exp === 1e20, JSON.stringify(payload.exp));
        const res = await post(stack.urlA, initialize, { authorization: `Bearer ${tok}` });
        assert.equal(res.status, 401);
        assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
        assert.equal((await res.json()).error_description, "the access token's exp, nbf or iat is not a NumericDate");
      }
    }
    // Six of them, with throttle 3/1m: none counted.
    const good = await tokenFor(stack.issuer, stack.urlA);
    assert.equal((await post(stack.urlA, initialize, { authorization: `Bearer ${good}` })).status, 200);
  });

  test("introspection: an opaque client-credentials token gets in as its client, a principal of its own", async () => {
    const tok = await tokenFor(stack.issuer, stack.urlC);
    assert.equal(tok.split(".").length, 1, "an opaque token");
    const { init, headers } = await session(stack.urlC, tok);
    // oidc-provider's answer names no sub: the caller is the client, in
    // the clients' namespace.
    assert.equal(init.headers.get("x-mcp-principal"), `jwt:${stack.issuer}#client:${creds.id}`);
    const call = await post(stack.urlC, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { message: "opaque" } } }, headers);
    assert.equal(call.status, 200);
    assert.match(await call.text(), /Echo: opaque/);
    // mcp:read maps to reader, which may not call get-sum.
    const denied = await post(stack.urlC, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get-sum", arguments: { a: 1, b: 2 } } }, headers);
    assert.equal(denied.status, 403);
    assert.match(denied.headers.get("www-authenticate"), /error="insufficient_scope"/);
  });

  test("introspection: a GET stream outlives its re-checks while the token is active, and ends once it is revoked", async () => {
    const tok = await tokenFor(stack.issuer, stack.urlC);
    const { headers } = await session(stack.urlC, tok);
    const stream = await openStream(stack.urlC, headers);
    try {
      // max_cache_ttl 1s: three re-checks, the token active throughout.
      assert.equal(await within(stream.ended, 3500), "open");
      await revoke(stack.issuer, tok);
      // Ended by Caddy at the next re-check (bounded wait, not a timing
      // assertion).
      assert.equal(await within(stream.ended, 15000), "ended");
      // The token's requests are refused too.
      const res = await post(stack.urlC, { jsonrpc: "2.0", id: 9, method: "ping" }, headers);
      assert.equal(res.status, 401);
      assert.match((await res.json()).error_description, /not active/);
    } finally {
      stream.abort();
    }
  });

  test("the authorization server restarts with a new key: Caddy refetches the key set", async () => {
    const oldKid = as.kid;
    await as.stop();
    as = await startAS(stack.asPort, [stack.urlA, stack.urlB, stack.otherResource], [stack.urlC]);
    assert.notEqual(as.kid, oldKid);
    // Past refetch_interval (1s) since the last on-demand fetch.
    await new Promise((r) => setTimeout(r, 1200));
    const { client, transport } = await connect(stack.urlA, stack.issuer, "mcp:read");
    try {
      const res = await client.callTool({ name: "echo", arguments: { message: "new key" } });
      assert.equal(res.content[0].text, "Echo: new key");
    } finally {
      await transport.close();
    }
  });

  test("introspection: a GET stream ends when the authorization server cannot be reached (fail closed)", async () => {
    const tok = await tokenFor(stack.issuer, stack.urlC);
    const { headers } = await session(stack.urlC, tok);
    const stream = await openStream(stack.urlC, headers);
    try {
      assert.equal(await within(stream.ended, 1500), "open");
      await as.stop();
      assert.equal(await within(stream.ended, 15000), "ended");
      // New requests are answered 503 (not counted), not let through.
      const res = await post(stack.urlC, { jsonrpc: "2.0", id: 9, method: "ping" }, headers);
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get("retry-after")) >= 1);
    } finally {
      stream.abort();
    }
  });
});
