// hide_denied, proven with the backends as the oracle: a caller must not be
// able to tell an item it may not use from one that does not exist.
//
// Two backends, each behind its own site of one Caddy with one mcp_auth
// policy: server-everything (TypeScript SDK v1, stateful, with an event
// store) and the Go SDK's conformance fixture (the go-sdk version of go.mod;
// stateful for 2025-11-25, stateless for 2026-07-28). Two callers: alice
// (`allow *`), who shows that every hidden item is real, and bob (`allow *`
// plus denies naming real items, `hide_denied`), who asks for each hidden
// item and for a truly unknown one of the same kind in the same session.
// The two answers are compared whole: status, headers but Date (in order),
// framing (chunked or Content-Length), the body byte for byte with the
// unknown name put in the hidden one's place, SSE event fields with the
// `id:` values compared by shape (they are random per event). Also for the
// requests the backend itself rejects (no session, a deleted session, a bad
// protocol version, `Accept: application/json` only), odd ids and a batch
// of one. Then what bob sees after the answer (the session's GET stream, a
// Last-Event-ID replay), the medians of a few hundred interleaved requests
// of each, and crafted list cursors.
//
// Timing: HIDDEN_TIMING_PAIRS (default 300) pairs a backend; the medians
// must be within max(25 %, 0.5 ms) of each other, and are printed as test
// diagnostics. A benchmark-style check on a shared machine: generous on
// purpose.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

import { globalOptions, startCaddy } from "../lib/caddy.mjs";
import { startEverything } from "../lib/everything.mjs";
import { e2eDir, freePort, Stack } from "../lib/procs.mjs";

const repo = resolve(e2eDir, "..");
const alice = "hidden-e2e-alice-token";
const bob = "hidden-e2e-bob-token";
const legacy = "2025-11-25";
const modern = "2026-07-28";

// The Go SDK fixture: $GO_SDK_FIXTURE, or the one e2e/conformance/run
// installs (<repo>/bin/conformance/go-sdk-<version>/everything-server),
// installed here the same way when it is missing.
function goFixture() {
  if (process.env.GO_SDK_FIXTURE) return resolve(process.env.GO_SDK_FIXTURE);
  const version = /^\s*github\.com\/modelcontextprotocol\/go-sdk (v\S+)/m.exec(readFileSync(join(repo, "go.mod"), "utf8"))?.[1];
  if (!version) throw new Error("no go-sdk version in go.mod");
  const bin = join(repo, "bin", "conformance", `go-sdk-${version}`, "everything-server");
  if (!existsSync(bin)) {
    execFileSync("go", ["install", `github.com/modelcontextprotocol/go-sdk/conformance/everything-server@${version}`], {
      cwd: tmpdir(),
      env: { ...process.env, GOBIN: dirname(bin) },
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 600_000,
    });
  }
  return bin;
}

// The policy: bob may use everything but the items named here, all of
// which exist on one of the backends. (Only `*` is special in a rule.)
const bobDenies = {
  "tools/call": ["get-env", "test_simple_text"],
  "prompts/get": ["args-prompt", "completable-prompt", "test_simple_prompt"],
  "resources/read": [
    "demo://resource/static/document/features.md",
    "demo://resource/dynamic/text/1",
    "demo://resource/dynamic/blob/*",
    "test://static-text",
    "test://template/*",
  ],
  "resources/subscribe": ["demo://resource/static/document/features.md", "test://static-text"],
  "resources/unsubscribe": ["demo://resource/static/document/features.md", "test://static-text"],
};
const globRE = (g) => new RegExp(`^${g.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
// deniedToBob reports whether one of bob's rules names the item (for
// completion/complete: the prompt's prompts/get, the template's
// resources/read rules).
function deniedToBob(method, name) {
  const m = method === "completion/complete" ? (name.includes("://") ? "resources/read" : "prompts/get") : method;
  return (bobDenies[m] ?? []).some((g) => globRE(g).test(name));
}

function caddyfile(sites) {
  const block = `	mcp_auth {
		token alice ${alice} all
		token bob ${bob} bob
		role all {
			allow *
		}
		role bob {
			allow *
${Object.entries(bobDenies)
  .map(([m, targets]) => `\t\t\tdeny ${m} ${targets.join(" ")}\n`)
  .join("")}		}
		hide_denied
	}
`;
  return (
    globalOptions +
    sites
      .map(
        ({ port, upstream }) => `
http://127.0.0.1:${port} {
	bind 127.0.0.1
${block}	reverse_proxy 127.0.0.1:${upstream} {
		header_up Host localhost
	}
}
`,
      )
      .join("")
  );
}

// ---------------------------------------------------------------------------
// Raw HTTP: every byte and header line the client gets.

// One keep-alive connection per caller, so that both answers of a pair
// travel the same way.
const agents = new Map();
function agentFor(token) {
  if (!agents.has(token)) agents.set(token, new http.Agent({ keepAlive: true, maxSockets: 1 }));
  return agents.get(token);
}

// send POSTs (or sends method) and returns { status, rawHeaders, body }.
function send(url, { token, headers = {}, body, method = "POST" }) {
  const u = new URL(url);
  const h = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...headers,
  };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  return new Promise((res, rej) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, headers: h, agent: agentFor(token) }, (r) => {
      const chunks = [];
      r.on("data", (c) => chunks.push(c));
      r.on("end", () => res({ status: r.statusCode, rawHeaders: r.rawHeaders, body: Buffer.concat(chunks) }));
      r.on("error", rej);
    });
    req.setTimeout(15000, () => req.destroy(new Error(`${method} ${url}: no answer in 15 s`)));
    req.on("error", rej);
    req.end(body);
  });
}

const header = (r, name) => {
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i].toLowerCase() === name) return r.rawHeaders[i + 1];
  return undefined;
};

// stream opens a GET event stream and collects what arrives until close().
function stream(url, token, headers) {
  const u = new URL(url);
  const s = { text: "", status: 0 };
  s.ready = new Promise((res, rej) => {
    s.req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "GET",
        agent: false,
        headers: { accept: "text/event-stream", authorization: `Bearer ${token}`, ...headers },
      },
      (r) => {
        s.status = r.statusCode;
        r.setEncoding("utf8");
        r.on("data", (d) => (s.text += d));
        r.on("error", () => {});
        res();
      },
    );
    s.req.on("error", (e) => (s.status ? undefined : rej(e)));
    s.req.end();
  });
  s.close = () => s.req.destroy();
  return s;
}

// waitUntil polls cond every 50 ms for at most ms.
async function waitUntil(cond, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

// ---------------------------------------------------------------------------
// Comparing answers.

// inner is a string as it stands inside a JSON string literal.
const inner = (s) => JSON.stringify(s).slice(1, -1);

// An event id's shape: hex digits and other letters kept apart, so that a
// missing id, another format or another length shows, a new random value
// does not.
const shape = (v) => v.replace(/[0-9a-f]/g, "h");

// view is what a client can observe of an answer, Date left out. rename,
// if given, is [from, to]: from's JSON spelling replaced by to's in the
// body (the unknown answer made to name the hidden item).
function view(r, rename) {
  let body = r.body.toString("utf8");
  if (rename) body = body.replaceAll(inner(rename[0]), inner(rename[1]));
  const ct = header(r, "content-type") ?? "";
  if (ct.startsWith("text/event-stream")) body = body.replace(/^id: ?(.*)$/gm, (_, v) => `id: <${shape(v)}>`);
  const headers = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const k = r.rawHeaders[i];
    let v = r.rawHeaders[i + 1];
    if (k.toLowerCase() === "date") continue;
    // The length of the body as received (which the body comparison
    // covers); any other value shows as is.
    if (k.toLowerCase() === "content-length" && Number(v) === r.body.length) v = "<length of the body>";
    headers.push(`${k}: ${v}`);
  }
  const framing = header(r, "transfer-encoding") ?? (header(r, "content-length") !== undefined ? "content-length" : "none");
  return { status: r.status, framing, headers, body: body.split("\n") };
}

// ---------------------------------------------------------------------------
// Sessions and requests.

// initialize opens a session (2025-11-25) and sends notifications/initialized.
async function initialize(url, token) {
  const r = await send(url, {
    token,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: legacy, capabilities: {}, clientInfo: { name: "hidden-e2e", version: "1.0.0" } },
    }),
  });
  assert.equal(r.status, 200, `initialize through ${url}: ${r.status} ${r.body}`);
  const sid = header(r, "mcp-session-id");
  assert.ok(sid, `initialize through ${url} gave no session id`);
  const n = await send(url, {
    token,
    headers: { "mcp-session-id": sid, "mcp-protocol-version": legacy },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  assert.equal(n.status, 202, `notifications/initialized: ${n.status} ${n.body}`);
  return sid;
}

// The items. kind → how a request for name is spelled.
const kinds = {
  tool: { method: "tools/call", key: "name", params: (n) => ({ name: n, arguments: {} }) },
  prompt: { method: "prompts/get", key: "name", params: (n) => ({ name: n, arguments: { city: "Paris" } }) },
  read: { method: "resources/read", key: "uri", params: (n) => ({ uri: n }) },
  subscribe: { method: "resources/subscribe", key: "uri", params: (n) => ({ uri: n }) },
  unsubscribe: { method: "resources/unsubscribe", key: "uri", params: (n) => ({ uri: n }) },
  "complete prompt": {
    method: "completion/complete",
    params: (n) => ({ ref: { type: "ref/prompt", name: n }, argument: { name: "department", value: "" } }),
  },
  "complete template": {
    method: "completion/complete",
    params: (n) => ({ ref: { type: "ref/resource", uri: n }, argument: { name: "resourceId", value: "" } }),
  },
};

// message is one JSON-RPC request for kind and name; rev 2026-07-28 adds
// the envelope.
function message(kind, name, rev, id = 7) {
  const params = kinds[kind].params(name);
  if (rev === modern) {
    params._meta = {
      "io.modelcontextprotocol/protocolVersion": modern,
      "io.modelcontextprotocol/clientInfo": { name: "hidden-e2e", version: "1.0.0" },
      "io.modelcontextprotocol/clientCapabilities": {},
    };
  }
  return { jsonrpc: "2.0", id, method: kinds[kind].method, params };
}

// The backends: each with its cases (a hidden item, an unknown one of the
// same kind, and how alice's answer shows the hidden item is real) and the
// request variants, each a function of (name) → request options, some of
// them ones the backend itself rejects.
function legacyVariants(b, kind) {
  const h = (extra) => ({ "mcp-session-id": b.bobSession, "mcp-protocol-version": legacy, ...extra });
  const body = (n) => JSON.stringify(message(kind, n, legacy));
  return {
    "in the session": (n) => ({ headers: h(), body: body(n) }),
    "no session id": (n) => ({ headers: h({ "mcp-session-id": undefined }), body: body(n) }),
    "a deleted session": (n) => ({ headers: h({ "mcp-session-id": b.deadSession }), body: body(n) }),
    "a bad protocol version": (n) => ({ headers: h({ "mcp-protocol-version": "1999-01-01" }), body: body(n) }),
    "Accept: application/json only": (n) => ({ headers: h({ accept: "application/json" }), body: body(n) }),
    'id "\\u0041"': (n) => ({ headers: h(), body: body(n).replace('"id":7', '"id":"\\u0041"') }),
    "id -0": (n) => ({ headers: h(), body: body(n).replace('"id":7', '"id":-0') }),
    "a batch of one": (n) => ({ headers: h({ "mcp-protocol-version": "2025-03-26" }), body: `[${body(n)}]` }),
  };
}

function modernVariants(kind) {
  const k = kinds[kind];
  const h = (n, extra) => ({
    "mcp-protocol-version": modern,
    "mcp-method": k.method,
    ...(k.key && k.method !== "resources/subscribe" && k.method !== "resources/unsubscribe" ? { "mcp-name": n } : {}),
    ...extra,
  });
  const body = (n) => JSON.stringify(message(kind, n, modern));
  return {
    stateless: (n) => ({ headers: h(n), body: body(n) }),
    "Accept: application/json only": (n) => ({ headers: h(n, { accept: "application/json" }), body: body(n) }),
    "no Mcp-Name": (n) => ({ headers: h(n, { "mcp-name": undefined }), body: body(n) }),
    "no _meta envelope": (n) => ({ headers: h(n), body: JSON.stringify(message(kind, n, legacy)) }),
    "a legacy version header": (n) => ({ headers: h(n, { "mcp-protocol-version": legacy }), body: JSON.stringify(message(kind, n, legacy)) }),
  };
}

// response is the JSON-RPC response in an answer: the body, or the data of
// the event that carries it.
function response(r) {
  const text = r.body.toString();
  const candidates = (header(r, "content-type") ?? "").startsWith("text/event-stream")
    ? [...text.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1])
    : [text];
  for (const c of candidates) {
    try {
      const m = JSON.parse(c);
      if (m && "id" in m && ("result" in m || "error" in m)) return m;
    } catch {
      // the priming event's empty data
    }
  }
  return undefined;
}

// hasResult checks alice's answer to the hidden item: a result, not an
// error or an isError tool result.
const hasResult = (r) => {
  const m = response(r);
  return r.status === 200 && m?.result !== undefined && m.result.isError !== true;
};

const backends = [
  {
    name: "server-everything",
    rev: legacy,
    cases: [
      { kind: "tool", hidden: "get-env", unknown: "no-such-tool", real: hasResult },
      { kind: "prompt", hidden: "args-prompt", unknown: "no-such-prompt", real: hasResult },
      { kind: "read", hidden: "demo://resource/static/document/features.md", unknown: "demo://resource/static/document/no-such.md", real: hasResult },
      // A template instance denied alone is answered as a URI that matches
      // no resource and no template: the denied template's handler never
      // runs (it would with a same-shape name, and could return what it
      // guards). The residual, documented: server-everything answers an
      // unknown instance of a template (…/text/0) with its own -32603
      // "Unknown resource", so a caller who knows the template can tell.
      { kind: "read", hidden: "demo://resource/dynamic/text/1", unknown: "demo://resource/no-such-template/1", real: hasResult },
      { kind: "subscribe", hidden: "demo://resource/static/document/features.md", unknown: "demo://resource/static/document/no-such.md" },
      { kind: "unsubscribe", hidden: "demo://resource/static/document/features.md", unknown: "demo://resource/static/document/no-such.md" },
      { kind: "complete prompt", hidden: "completable-prompt", unknown: "no-such-prompt", real: hasResult },
      {
        kind: "complete template",
        hidden: "demo://resource/dynamic/blob/{resourceId}",
        unknown: "demo://resource/dynamic/no-such/{resourceId}",
        real: hasResult,
      },
    ],
  },
  {
    name: "Go SDK",
    rev: legacy,
    cases: [
      { kind: "tool", hidden: "test_simple_text", unknown: "no_such_tool", real: hasResult },
      { kind: "prompt", hidden: "test_simple_prompt", unknown: "no_such_prompt", real: hasResult },
      { kind: "read", hidden: "test://static-text", unknown: "test://no-such-text", real: hasResult },
      { kind: "read", hidden: "test://template/5/data", unknown: "test://no-such/5/data", real: hasResult },
      { kind: "subscribe", hidden: "test://static-text", unknown: "test://no-such-text" },
      { kind: "unsubscribe", hidden: "test://static-text", unknown: "test://no-such-text" },
      // The fixture completes anything (an empty list): equal by construction
      // on its side; what is proven is that the module does not answer.
      { kind: "complete prompt", hidden: "test_simple_prompt", unknown: "no_such_prompt" },
      { kind: "complete template", hidden: "test://template/{id}/data", unknown: "test://no-such/{id}/data" },
    ],
  },
];
// The Go SDK stateless under 2026-07-28: the same items.
backends.push({ name: "Go SDK 2026-07-28", rev: modern, cases: backends[1].cases });

describe("hide_denied: a hidden item is answered as an unknown one", () => {
  let stack;
  const url = {};
  before(async () => {
    const fixture = goFixture();
    stack = await Stack.create("mcp-auth-hidden-");
    await stack.build(async () => {
      const everything = await startEverything(stack);
      const goPort = await freePort();
      const goModernPort = await freePort();
      stack.spawn("go-sdk-fixture", fixture, ["-http", `127.0.0.1:${goPort}`, "-stateless=false"]);
      stack.spawn("go-sdk-fixture-stateless", fixture, ["-http", `127.0.0.1:${goModernPort}`]);
      const direct = (p) => `http://127.0.0.1:${p}/mcp`;
      for (const p of [goPort, goModernPort]) {
        // Without a session or an envelope it answers 400 or 200: it is up.
        await stack.waitFor("the Go SDK fixture to listen", async () => (await send(direct(p), { body: "{}" })).status > 0);
      }
      const sites = [
        { name: "server-everything", upstream: everything.port, port: await freePort() },
        { name: "Go SDK", upstream: goPort, port: await freePort() },
        { name: "Go SDK 2026-07-28", upstream: goModernPort, port: await freePort() },
      ];
      for (const s of sites) url[s.name] = `http://127.0.0.1:${s.port}/mcp`;
      url.goDirect = direct(goPort);
      await startCaddy(stack, caddyfile(sites), Object.values(url).slice(0, 3));
    });
    for (const b of backends) {
      if (b.rev !== legacy) continue;
      b.url = url[b.name];
      b.bobSession = await initialize(b.url, bob);
      b.aliceSession = await initialize(b.url, alice);
      b.deadSession = await initialize(b.url, bob);
      const d = await send(b.url, { token: bob, method: "DELETE", headers: { "mcp-session-id": b.deadSession, "mcp-protocol-version": legacy } });
      assert.ok(d.status === 200 || d.status === 204, `DELETE of a session through ${b.name}: ${d.status}`);
    }
    backends[2].url = url["Go SDK 2026-07-28"];
  });
  after(async () => {
    for (const a of agents.values()) a.destroy();
    await stack?.stop();
  });

  for (const b of backends) {
    for (const c of b.cases) {
      test(`${b.name}: ${c.kind} ${c.hidden} is answered as ${c.unknown}`, async () => {
        const method = kinds[c.kind].method;
        assert.ok(deniedToBob(method, c.hidden) && !deniedToBob(method, c.unknown), `the policy hides ${c.hidden} and not ${c.unknown}`);
        if (c.real) {
          // The hidden item is real: alice gets it.
          const opts =
            b.rev === legacy
              ? { headers: { "mcp-session-id": b.aliceSession, "mcp-protocol-version": legacy }, body: JSON.stringify(message(c.kind, c.hidden, legacy)) }
              : modernVariants(c.kind).stateless(c.hidden);
          const r = await send(b.url, { token: alice, ...opts });
          assert.ok(c.real(r), `alice's answer for ${c.hidden} does not show a real item:\n${r.body}`);
        }
        const variants = b.rev === legacy ? legacyVariants(b, c.kind) : modernVariants(c.kind);
        const got = {};
        const want = {};
        for (const [v, req] of Object.entries(variants)) {
          const hidden = await send(b.url, { token: bob, ...req(c.hidden) });
          const unknown = await send(b.url, { token: bob, ...req(c.unknown) });
          assert.doesNotMatch(hidden.body.toString(), /-32030|permission denied/, `${v}: the module answered itself`);
          got[v] = view(hidden);
          want[v] = view(unknown, [c.unknown, c.hidden]);
        }
        assert.deepEqual(got, want, `bob's answers for the hidden ${c.hidden} (actual) and for the unknown ${c.unknown}, renamed (expected)`);
      });
    }
  }

  // A template the caller may not use at all (bob's rule covers every
  // instance of demo://resource/dynamic/blob/{resourceId}) must look like
  // no template: answered as a URI that matches none.
  test("server-everything: an instance of a wholly hidden template is answered as a URI no template matches", async () => {
    const b = backends[0];
    const hiddenURI = "demo://resource/dynamic/blob/1";
    const unknownURI = "demo://resource/dynamic/no-such/1";
    assert.ok(deniedToBob("resources/read", hiddenURI) && !deniedToBob("resources/read", unknownURI));
    const got = {};
    const want = {};
    for (const [v, req] of Object.entries(legacyVariants(b, "read"))) {
      got[v] = view(await send(b.url, { token: bob, ...req(hiddenURI) }));
      want[v] = view(await send(b.url, { token: bob, ...req(unknownURI) }), [unknownURI, hiddenURI]);
    }
    assert.deepEqual(got, want);
  });

  // What bob's session shows after a subscribe: server-everything logs
  // every subscribe to the session's GET stream and, once asked with
  // toggle-subscriber-updates, sends notifications/resources/updated for
  // every subscribed URI there.
  test("server-everything: the GET stream after subscribing to a hidden resource and an unknown one", async () => {
    const b = backends[0];
    const sid = await initialize(b.url, bob);
    const h = { "mcp-session-id": sid, "mcp-protocol-version": legacy };
    const get = stream(b.url, bob, h);
    await get.ready;
    assert.equal(get.status, 200);
    try {
      const { hidden, unknown } = b.cases.find((c) => c.kind === "subscribe");
      for (const uri of [hidden, unknown]) {
        const r = await send(b.url, { token: bob, headers: h, body: JSON.stringify(message("subscribe", uri, legacy)) });
        assert.equal(r.status, 200);
      }
      const t = await send(b.url, {
        token: bob,
        headers: h,
        body: JSON.stringify({ jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "toggle-subscriber-updates", arguments: {} } }),
      });
      assert.match(t.body.toString(), /Started simulated resource updated notifications/);
      const events = () => get.text.split("\n\n").filter((e) => /^data: \{/m.test(e));
      await waitUntil(() => events().length >= 4);
      const data = events().map((e) => /^data: (.*)$/m.exec(e)[1]);
      const logs = data.filter((d) => d.includes("Received Subscribe Resource request"));
      const updates = data.filter((d) => d.includes("notifications/resources/updated"));
      assert.equal(logs.length, 2, `two subscribe log messages on the GET stream:\n${data.join("\n")}`);
      assert.equal(updates.length, 2, `two resource updates on the GET stream:\n${data.join("\n")}`);
      const renamed = (d) => d.replaceAll(inner(unknown), inner(hidden));
      const forUnknown = (list) => list.find((d) => d.includes(inner(unknown)));
      const forOther = (list) => list.find((d) => !d.includes(inner(unknown)));
      assert.ok(forUnknown(logs) && forUnknown(updates), `the unknown URI ${unknown} is named on the stream:\n${data.join("\n")}`);
      assert.deepEqual(
        { log: forOther(logs), update: forOther(updates) },
        { log: renamed(forUnknown(logs)), update: renamed(forUnknown(updates)) },
        "what the GET stream says about the hidden URI (actual) and about the unknown one, renamed (expected)",
      );
    } finally {
      get.close();
      await send(b.url, { token: bob, method: "DELETE", headers: h });
    }
  });

  // server-everything keeps every event of a POST stream in its event
  // store; a GET with Last-Event-ID set to the stream's priming event
  // replays the answer.
  test("server-everything: a Last-Event-ID replay of the answer for a hidden tool and an unknown one", async () => {
    const b = backends[0];
    const { hidden, unknown } = b.cases.find((c) => c.kind === "tool");
    const h = { "mcp-session-id": b.bobSession, "mcp-protocol-version": legacy };
    const replay = {};
    for (const name of [hidden, unknown]) {
      const r = await send(b.url, { token: bob, headers: h, body: JSON.stringify(message("tool", name, legacy)) });
      const priming = /^id: (.+)$/m.exec(r.body.toString())?.[1];
      assert.ok(priming, `no event id in the answer:\n${r.body}`);
      const get = stream(b.url, bob, { ...h, "last-event-id": priming });
      await get.ready;
      await waitUntil(() => /"id":7/.test(get.text), 3000);
      get.close();
      assert.equal(get.status, 200);
      replay[name] = get.text.replace(/^id: ?(.*)$/gm, (_, v) => `id: <${shape(v)}>`);
    }
    assert.match(replay[unknown], new RegExp(`Tool ${unknown} not found`), "the replay holds the answer");
    assert.equal(replay[hidden], replay[unknown].replaceAll(inner(unknown), inner(hidden)), "the replay for the hidden tool (actual) and for the unknown one, renamed (expected)");
  });

  // The medians of interleaved requests (ABBA order) for the hidden tool and
  // the unknown one, in one session.
  for (const b of backends.slice(0, 2)) {
    test(`${b.name}: the median time of a hidden tool's answer and of an unknown one's`, async (t) => {
      const pairs = Number(process.env.HIDDEN_TIMING_PAIRS ?? 300);
      const { hidden, unknown } = b.cases.find((c) => c.kind === "tool");
      const h = { "mcp-session-id": b.bobSession, "mcp-protocol-version": legacy };
      const once = async (name, i) => {
        const body = JSON.stringify(message("tool", name, legacy, i));
        const t0 = process.hrtime.bigint();
        const r = await send(b.url, { token: bob, headers: h, body });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        assert.equal(r.status, 200);
        return ms;
      };
      for (let i = 0; i < 30; i++) {
        await once(hidden, i);
        await once(unknown, i);
      }
      const times = { hidden: [], unknown: [] };
      for (let i = 0; i < pairs; i++) {
        const order = i % 2 ? ["hidden", "unknown"] : ["unknown", "hidden"];
        for (const which of order) times[which].push(await once(which === "hidden" ? hidden : unknown, i));
      }
      const median = (a) => {
        const s = [...a].sort((x, y) => x - y);
        return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
      };
      const mh = median(times.hidden);
      const mu = median(times.unknown);
      const tolerance = Math.max(0.25 * Math.max(mh, mu), 0.5);
      const figures = `${b.name}, ${pairs} pairs: hidden ${hidden} median ${mh.toFixed(3)} ms, unknown ${unknown} median ${mu.toFixed(3)} ms, difference ${(mh - mu).toFixed(3)} ms, tolerance ${tolerance.toFixed(3)} ms`;
      t.diagnostic(figures);
      console.log(`# timing: ${figures}`);
      assert.ok(Math.abs(mh - mu) <= tolerance, figures);
    });
  }

  // Crafted cursors (the Go SDK's format: base64url, padded, of the gob
  // encoding of pageToken{LastUID}), naming a hidden tool, an unknown name
  // and an allowed tool, and plain garbage: none opens, so each reaches
  // the backend as a fresh random cursor and gets its invalid-cursor answer.
  test("Go SDK: crafted tools/list cursors are all answered as an invalid cursor, naming nothing", async () => {
    const b = backends[1];
    const gobCursor = (name) => {
      const n = Buffer.from(name, "utf8");
      assert.ok(n.length < 120);
      const prefix = Buffer.from("227f0301010970616765546f6b656e01ff8000010101074c617374554944010c000000", "hex");
      return Buffer.concat([prefix, Buffer.from([5 + n.length, 0xff, 0x80, 0x01, n.length]), n, Buffer.from([0])]).toString("base64url").padEnd(
        Math.ceil((prefix.length + 6 + n.length) / 3) * 4,
        "=",
      );
    };
    // The crafting is right: the fixture itself, asked directly, lists the
    // tools after the named one.
    const direct = await initialize(url.goDirect);
    const listAfter = async (u, token, sid, cursor) =>
      send(u, { token, headers: { "mcp-session-id": sid, "mcp-protocol-version": legacy }, body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list", params: { cursor } }) });
    const page = (await listAfter(url.goDirect, undefined, direct, gobCursor("test_simple_text"))).body.toString();
    assert.match(page, /"name":"test_tool_with_logging"/, "the fixture lists tools after test_simple_text");
    assert.doesNotMatch(page, /"name":"test_simple_text"|"name":"test_audio_content"/, "the fixture lists only tools after test_simple_text");

    const garbage = await listAfter(b.url, bob, b.bobSession, "bm90IGEgY3Vyc29y");
    const want = view(garbage);
    assert.match(garbage.body.toString(), /-32602/, `the invalid-cursor answer: ${garbage.body}`);
    const got = {};
    const expected = {};
    for (const [who, token, sid] of [
      ["bob", bob, b.bobSession],
      ["alice", alice, b.aliceSession],
    ]) {
      for (const name of ["test_simple_text", "test_simple_prompt", "no_such_tool", "test_audio_content", ""]) {
        const r = await listAfter(b.url, token, sid, gobCursor(name));
        got[`${who}: cursor naming ${JSON.stringify(name)}`] = view(r);
        expected[`${who}: cursor naming ${JSON.stringify(name)}`] = want;
      }
    }
    assert.deepEqual(got, expected);
  });
});
