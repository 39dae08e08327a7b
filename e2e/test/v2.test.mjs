// Revision 2026-07-28 end to end: the TypeScript SDK v2 client
// (@modelcontextprotocol/client 2.4.0, pinned to 2026-07-28) through Caddy
// with mcp_auth to a TypeScript SDK v2 server (backends/v2server.mjs:
// createMcpHandler behind @modelcontextprotocol/express). The server is the
// oracle: it records every tool run, resource read and prompt get, and
// every message that reached it.
//
// One Caddy serves two sites in front of the one server: `plain` (denials
// are -32030 errors) and `hidden` (`hide_denied`: a listen for a
// denied URI is forwarded and its stream filtered).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

import { v2, startV2Server } from "../backends/v2server.mjs";
import { globalOptions, startCaddy } from "../lib/caddy.mjs";
import { post } from "../lib/mcp.mjs";
import { freePort, Stack } from "../lib/procs.mjs";

const REV = "2026-07-28";
const CODE_DENIED = -32030;

const tokens = {
  admin: "e2e-v2-admin-token",
  reader: "e2e-v2-reader-token",
  tooler: "e2e-v2-tooler-token",
};

// admin: everything but delete_all. reader: echo, the public
// resources (read and subscribe), one prompt. tooler: one tool and nothing
// else, so it may list tools and no other family.
function site(port, upstreamPort, extra = "") {
  return `http://127.0.0.1:${port} {
	bind 127.0.0.1
	mcp_auth {
		token admin-user ${tokens.admin} admin
		token reader-user ${tokens.reader} reader
		token tooler-user ${tokens.tooler} tooler
		role admin {
			allow *
			deny tools/call delete_all
		}
		role reader {
			allow tools/call echo
			allow resources/read file:///public/*
			allow resources/subscribe file:///public/*
			allow prompts/get greet
		}
		role tooler {
			allow tools/call echo
		}
		${extra}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`;
}

// wireLog wraps fetch for one client: it keeps every POST with its status
// and, for JSON answers, the parsed body; for event streams, every
// JSON-RPC message of the stream as it arrived (the client reads the same
// bytes through a tee).
function wireLog() {
  const posts = [];
  const fetchFn = async (url, init) => {
    const res = await fetch(url, init);
    const entry = { request: init?.body ? JSON.parse(init.body) : undefined, status: res.status, events: [] };
    posts.push(entry);
    const ct = res.headers.get("content-type") ?? "";
    if (ct.startsWith("application/json")) {
      entry.body = await res.clone().json();
      return res;
    }
    if (ct.startsWith("text/event-stream") && res.body) {
      const [mine, theirs] = res.body.tee();
      (async () => {
        const dec = new TextDecoder();
        let buf = "";
        try {
          for await (const chunk of mine) {
            buf += dec.decode(chunk, { stream: true });
            let i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              const ev = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const data = ev
                .split("\n")
                .filter((l) => l.startsWith("data:"))
                .map((l) => l.slice(5).trimStart())
                .join("\n");
              if (data) entry.events.push(JSON.parse(data));
            }
          }
        } catch {
          // the stream was cancelled
        }
      })();
      return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    return res;
  };
  return { posts, fetch: fetchFn };
}

// connectV2 opens a v2 client through url with a bearer token, pinned to
// 2026-07-28. It records what it received: notifications by method.
async function connectV2(url, token, clientOptions = {}) {
  const wire = wireLog();
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: wire.fetch,
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client(
    { name: "e2e-v2", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: REV } }, ...clientOptions },
  );
  const seen = [];
  const waiters = [];
  const record = (method) => (n) => {
    seen.push({ method, params: n.params });
    for (const w of [...waiters]) {
      if (w.match({ method, params: n.params })) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  client.setNotificationHandler("notifications/resources/updated", record("notifications/resources/updated"));
  if (!clientOptions.listChanged) {
    for (const m of ["notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed"]) {
      client.setNotificationHandler(m, record(m));
    }
  }
  await client.connect(transport);
  // until resolves when a notification matching match has been received
  // (or had been already), and fails after ms.
  const until = (what, match, ms = 10000) => {
    if (seen.some(match)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; received ${JSON.stringify(seen)}`)), ms);
      waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) });
    });
  };
  return { client, wire, seen, until };
}

// deniedMessage is mcp_auth's message for a denied method and target.
const deniedMessage = (method, target) =>
  target === undefined ? `permission denied: ${method}` : `permission denied: ${method} ${JSON.stringify(target)}`;

// denied asserts that a call was refused with mcp_auth's JSON-RPC error.
async function denied(promise, method, target) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, CODE_DENIED, `want code ${CODE_DENIED}, got ${err.code}: ${err.message}`);
    assert.ok(err.message.includes(deniedMessage(method, target)), `message ${JSON.stringify(err.message)}`);
    return true;
  });
}

// lastPost returns the last POST of a wire log whose request has method.
function lastPost(wire, method) {
  const p = wire.posts.filter((e) => e.request?.method === method).at(-1);
  assert.ok(p, `no ${method} was sent`);
  return p;
}

const names = (items, key = "name") => items.map((i) => i[key]).sort();
const updatedUris = (seen) => seen.filter((n) => n.method === "notifications/resources/updated").map((n) => n.params.uri);

describe("revision 2026-07-28: TypeScript SDK v2 client and server", () => {
  let stack, server, plain, hidden;
  const clients = [];
  const open = async (url, token, opts) => {
    const c = await connectV2(url, token, opts);
    clients.push(c.client);
    return c;
  };

  before(async () => {
    stack = await Stack.create("mcp-auth-e2e-v2-");
    await stack.build(async () => {
      server = await startV2Server();
      const [p1, p2] = [await freePort(), await freePort()];
      plain = `http://127.0.0.1:${p1}/mcp`;
      hidden = `http://127.0.0.1:${p2}/mcp`;
      await startCaddy(stack, globalOptions + site(p1, server.port) + site(p2, server.port, "hide_denied"), [plain, hidden]);
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await server?.close();
    await stack?.stop();
  });

  test("every role connects on 2026-07-28; the listen stream opened at connect with every opt-in is acknowledged", async () => {
    for (const role of ["admin", "reader", "tooler"]) {
      const changed = { onChanged: () => {} };
      const { client, wire } = await open(plain, tokens[role], { listChanged: { tools: changed, prompts: changed, resources: changed } });
      assert.equal(client.getNegotiatedProtocolVersion(), REV, role);
      const sub = client.autoOpenedSubscription;
      assert.ok(sub, `${role}: the client opened a listen stream at connect`);
      // The opt-ins never cause a refusal, whatever the role may list; the
      // acknowledgement passed through with all three.
      assert.deepEqual(sub.honoredFilter, { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true }, role);
      const listen = lastPost(wire, "subscriptions/listen");
      assert.equal(listen.status, 200);
      assert.equal(listen.events[0]?.method, "notifications/subscriptions/acknowledged");
      await sub.close();
    }
    // The discover and listen requests reached the server.
    assert.ok(server.received.some((m) => m.method === "server/discover" && m.version === REV));
    assert.ok(server.received.some((m) => m.method === "subscriptions/listen"));
  });

  test("lists: each role sees exactly what it may use, marked cacheScope private with the server's ttlMs", async () => {
    const direct = new Client({ name: "direct", version: "1" }, { versionNegotiation: { mode: { pin: REV } } });
    clients.push(direct);
    await direct.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    const all = {
      tools: await direct.listTools(undefined, { cacheMode: "bypass" }),
      prompts: await direct.listPrompts(undefined, { cacheMode: "bypass" }),
      resources: await direct.listResources(undefined, { cacheMode: "bypass" }),
    };
    // The server itself says public: a private below is the gateway's.
    for (const [family, r] of Object.entries(all)) {
      assert.equal(r.cacheScope, "public", `the server's ${family} list`);
      assert.equal(r.ttlMs, v2.listTtlMs);
    }
    assert.deepEqual(names(all.tools.tools), v2.tools);
    assert.deepEqual(names(all.prompts.prompts), v2.prompts);
    assert.deepEqual(names(all.resources.resources, "uri"), [v2.privateDoc, v2.publicNews, v2.publicDoc].sort());

    const want = {
      admin: { tools: ["add", "echo"], prompts: v2.prompts, resources: names(all.resources.resources, "uri") },
      reader: { tools: ["echo"], prompts: ["greet"], resources: [v2.publicNews, v2.publicDoc].sort() },
      tooler: { tools: ["echo"] },
    };
    for (const [role, w] of Object.entries(want)) {
      const { client, wire } = await open(plain, tokens[role]);
      const lists = {
        tools: ["tools/list", () => client.listTools(undefined, { cacheMode: "bypass" }), "tools", "name"],
        prompts: ["prompts/list", () => client.listPrompts(undefined, { cacheMode: "bypass" }), "prompts", "name"],
        resources: ["resources/list", () => client.listResources(undefined, { cacheMode: "bypass" }), "resources", "uri"],
      };
      for (const [family, [method, list, key, field]] of Object.entries(lists)) {
        if (!w[family]) {
          // A role that may use nothing of a family may not list it.
          await denied(list(), method, undefined);
          continue;
        }
        const r = await list();
        assert.deepEqual(names(r[key], field), w[family], `${role} ${family}`);
        assert.equal(r.cacheScope, "private", `${role} ${family}: cacheScope`);
        assert.equal(r.ttlMs, v2.listTtlMs, `${role} ${family}: ttlMs kept`);
        // On the wire too (not the client's defaulting).
        const raw = lastPost(wire, method).body.result;
        assert.equal(raw.cacheScope, "private");
        // Kept items are whole.
        for (const item of r[key]) {
          assert.deepEqual(item, all[family][key].find((i) => i[field] === item[field]), `${role}: ${item[field]} unchanged`);
        }
      }
    }
  });

  test("denied calls are JSON-RPC errors that ran nothing, and the session-less client goes on", async () => {
    const before = server.executions.length;
    const { client, wire } = await open(plain, tokens.reader);
    await denied(client.callTool({ name: "delete_all", arguments: {} }), "tools/call", "delete_all");
    // Refused as a JSON-RPC error in a 200, with the request's id.
    const call = lastPost(wire, "tools/call");
    assert.equal(call.status, 200);
    assert.equal(call.body.id, call.request.id);
    assert.equal(call.body.error.code, CODE_DENIED);
    const after1 = await client.callTool({ name: "echo", arguments: { text: "after a denial" } });
    assert.equal(after1.content[0].text, "echo: after a denial");

    await denied(client.readResource({ uri: v2.privateDoc }, { cacheMode: "bypass" }), "resources/read", v2.privateDoc);
    const doc = await client.readResource({ uri: v2.publicDoc }, { cacheMode: "bypass" });
    assert.equal(doc.contents[0].uri, v2.publicDoc);

    await denied(client.getPrompt({ name: "secret_prompt" }), "prompts/get", "secret_prompt");
    const greet = await client.getPrompt({ name: "greet", arguments: { name: "Ada" } });
    assert.equal(greet.messages[0].content.text, "Hello, Ada");

    await denied(client.callTool({ name: "add", arguments: { a: 1, b: 2 } }), "tools/call", "add");

    // deny beats allow *: the admin may not run delete_all either, but may
    // read the private document (the refusals above were mcp_auth's).
    const admin = await open(plain, tokens.admin);
    await denied(admin.client.callTool({ name: "delete_all", arguments: {} }), "tools/call", "delete_all");
    const secret = await admin.client.readResource({ uri: v2.privateDoc }, { cacheMode: "bypass" });
    assert.equal(secret.contents[0].text, v2.secretText);

    // The oracle: what ran is exactly what was allowed.
    assert.deepEqual(server.executions.slice(before), [
      { kind: "tools/call", what: "echo" },
      { kind: "resources/read", what: v2.publicDoc },
      { kind: "prompts/get", what: "greet" },
      { kind: "resources/read", what: v2.privateDoc },
    ]);
    for (const [kind, what] of [["tools/call", "delete_all"], ["tools/call", "add"], ["prompts/get", "secret_prompt"]]) {
      assert.equal(server.ran(kind, what), 0, `${what} ran`);
    }
  });

  test("listen without hide_denied: a denied resource subscription is refused with -32030 naming the URI, and never reaches the server", async () => {
    const { client, wire, until } = await open(plain, tokens.reader);
    const n = server.received.length;
    await assert.rejects(client.listen({ resourceSubscriptions: [v2.publicDoc, v2.privateDoc] }), (err) => {
      assert.equal(err.code, CODE_DENIED, `${err.code} ${err.message}`);
      assert.ok(err.message.includes(deniedMessage("resources/subscribe", v2.privateDoc)), err.message);
      return true;
    });
    const refused = lastPost(wire, "subscriptions/listen");
    assert.equal(refused.status, 200);
    assert.equal(refused.body.id, refused.request.id);
    assert.equal(refused.body.error.code, CODE_DENIED);
    assert.ok(
      !server.received.slice(n).some((m) => m.method === "subscriptions/listen"),
      "the refused listen reached the server",
    );

    // An allowed listen works on the same client, and carries updates.
    const sub = await client.listen({ resourceSubscriptions: [v2.publicDoc] });
    assert.deepEqual(sub.honoredFilter, { resourceSubscriptions: [v2.publicDoc] });
    server.notify.resourceUpdated(v2.publicDoc);
    await until("the public update", (x) => x.params?.uri === v2.publicDoc);
    await sub.close();
  });

  test("listen with hide_denied: the request passes; the acknowledgement and every update of the denied URI are withheld", async () => {
    const { client, seen, until, wire } = await open(hidden, tokens.reader);
    const admin = await open(hidden, tokens.admin);
    const n = server.received.length;
    const sub = await client.listen({ resourceSubscriptions: [v2.publicDoc, v2.privateDoc] });
    const adminSub = await admin.client.listen({ resourceSubscriptions: [v2.publicDoc, v2.privateDoc] });
    // Forwarded as sent: the server honoured both URIs for both callers …
    const fwd = server.received.slice(n).filter((m) => m.method === "subscriptions/listen");
    assert.deepEqual(fwd.map((m) => m.subscriptions), [[v2.publicDoc, v2.privateDoc], [v2.publicDoc, v2.privateDoc]]);
    assert.deepEqual(adminSub.honoredFilter, { resourceSubscriptions: [v2.publicDoc, v2.privateDoc] });
    // … but the reader's acknowledgement names only the public one.
    assert.deepEqual(sub.honoredFilter, { resourceSubscriptions: [v2.publicDoc] });
    const ack = lastPost(wire, "subscriptions/listen").events[0];
    assert.equal(ack.method, "notifications/subscriptions/acknowledged");
    assert.deepEqual(ack.params.notifications.resourceSubscriptions, [v2.publicDoc]);

    // Two rounds: the private update is sent before the public one on the
    // same stream, so when the public one has arrived the private one would
    // have arrived before it.
    for (let round = 1; round <= 2; round++) {
      server.notify.resourceUpdated(v2.privateDoc);
      server.notify.resourceUpdated(v2.publicDoc);
      await until(`public update ${round}`, () => updatedUris(seen).length >= round);
      await admin.until(`admin's update ${round}`, () => updatedUris(admin.seen).length >= 2 * round);
    }
    assert.deepEqual(updatedUris(seen), [v2.publicDoc, v2.publicDoc]);
    assert.ok(!JSON.stringify(lastPost(wire, "subscriptions/listen").events).includes("private"), "nothing private on the reader's stream");
    // The server did send them: the admin got both, in order.
    assert.deepEqual(updatedUris(admin.seen), [v2.privateDoc, v2.publicDoc, v2.privateDoc, v2.publicDoc]);
    await sub.close();
    await adminSub.close();
  });

  test("list_changed notifications follow list permissions", async () => {
    const tooler = await open(plain, tokens.tooler);
    const admin = await open(plain, tokens.admin);
    const all = { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true };
    const subs = [await tooler.client.listen(all), await admin.client.listen(all)];
    // The opt-ins pass whatever the role may list.
    for (const s of subs) assert.deepEqual(s.honoredFilter, all);

    server.notify.promptsChanged();
    server.notify.resourcesChanged();
    server.notify.toolsChanged();
    await tooler.until("tools/list_changed", (x) => x.method === "notifications/tools/list_changed");
    await admin.until("tools/list_changed", (x) => x.method === "notifications/tools/list_changed");
    // On one stream, in order: the tooler (who may list tools only) got
    // the tools notification and neither of the two sent before it.
    assert.deepEqual(tooler.seen.map((x) => x.method), ["notifications/tools/list_changed"]);
    assert.deepEqual(admin.seen.map((x) => x.method), [
      "notifications/prompts/list_changed",
      "notifications/resources/list_changed",
      "notifications/tools/list_changed",
    ]);
    for (const s of subs) await s.close();
  });

  test("downgrades weaken nothing: the same denied calls under 2025-03-26, 2025-06-18, 2025-11-25 and 2026-07-28 are refused alike and run nothing", async () => {
    const meta = {
      "io.modelcontextprotocol/protocolVersion": REV,
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
    };
    // A request as a client of rev sends it: no version header under
    // 2025-03-26, the header from 2025-06-18 on, and under 2026-07-28 the
    // Mcp-Method/Mcp-Name headers and the _meta envelope too.
    const request = (rev, id, method, params, name) => {
      const headers = {};
      if (rev !== "2025-03-26") headers["mcp-protocol-version"] = rev;
      if (rev === REV) {
        headers["mcp-method"] = method;
        if (name) headers["mcp-name"] = name;
        params = { ...params, _meta: meta };
      }
      return { body: { jsonrpc: "2.0", id, method, params }, headers };
    };
    const send = (token, { body, headers }) => post(plain, body, { Authorization: `Bearer ${token}`, ...headers });
    const calls = [
      { method: "tools/call", params: { name: "add", arguments: { a: 1, b: 2 } }, target: "add", ran: ["tools/call", "add"] },
      { method: "resources/read", params: { uri: v2.privateDoc }, target: v2.privateDoc, ran: ["resources/read", v2.privateDoc] },
      { method: "prompts/get", params: { name: "secret_prompt" }, target: "secret_prompt", ran: ["prompts/get", "secret_prompt"] },
      { method: "resources/subscribe", params: { uri: v2.privateDoc }, target: v2.privateDoc, ran: ["resources/subscribe", v2.privateDoc] },
    ];
    const refusals = new Map();
    for (const rev of ["2025-03-26", "2025-06-18", "2025-11-25", REV]) {
      for (const [i, c] of calls.entries()) {
        const id = 200 + i;
        let { method, params } = c;
        const listen = rev === REV && method === "resources/subscribe";
        if (listen) [method, params] = ["subscriptions/listen", { notifications: { resourceSubscriptions: [v2.privateDoc] } }];
        const req = request(rev, id, method, params, listen ? undefined : c.target);

        // The admin's identical request (another token, the same bytes)
        // runs: this revision's shape is one the server executes.
        const ran = server.ran(...c.ran);
        const seen = server.received.length;
        {
          const res = await send(tokens.admin, req);
          assert.equal(res.status, 200, `${rev} admin ${method}`);
          if (listen) {
            // The stream stays open: read up to the acknowledgement, then close it.
            const reader = res.body.getReader();
            let text = "";
            while (!text.includes("subscriptions/acknowledged")) {
              const { value, done } = await reader.read();
              assert.ok(!done, `${rev}: the admin's listen ended before its acknowledgement`);
              text += new TextDecoder().decode(value);
            }
            await reader.cancel();
            assert.ok(text.includes(v2.privateDoc), `${rev}: the admin's acknowledgement names the private URI`);
            assert.ok(server.received.slice(seen).some((m) => m.method === "subscriptions/listen"), `${rev}: the admin's listen reached the server`);
          } else {
            assert.doesNotMatch(await res.text(), /"error"/, `${rev} admin ${method}`);
            assert.equal(server.ran(...c.ran), ran + 1, `${rev}: the admin's ${method} ran`);
          }
        }

        // The reader's is refused, identically under every revision.
        const before = server.received.length;
        const res = await send(tokens.reader, req);
        const text = await res.text();
        assert.equal(res.status, 200, `${rev} ${method}`);
        assert.match(res.headers.get("content-type"), /^application\/json/);
        assert.deepEqual(JSON.parse(text), { jsonrpc: "2.0", id, error: { code: CODE_DENIED, message: deniedMessage(c.method, c.target) } }, `${rev} ${method}`);
        if (!refusals.has(c.method)) refusals.set(c.method, text);
        assert.equal(text, refusals.get(c.method), `${rev} ${method}: refused differently from 2025-03-26`);
        assert.equal(server.received.length, before, `${rev}: the reader's ${method} reached the server`);
        if (!listen) assert.equal(server.ran(...c.ran), ran + 1, `${rev}: the reader's ${method} ran`);
      }
    }
  });
});
