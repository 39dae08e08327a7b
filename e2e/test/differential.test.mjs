// The differential suite: attacks on the ways a real MCP backend can read
// a request differently from mcp_auth, tried through Caddy and directly,
// with the backend as the oracle. The backends (e2e/backends/) record what
// they DID: which tools ran, which resources were read (and whether they
// held the secret), and which headers, trailers and bodies reached them;
// server-everything keeps no record, so against it the oracle is what
// came back (its get-env tool returns its environment, the secret marker
// included, and its dynamic resources name themselves).
//
// Every case states the effect that must not happen. Through Caddy it
// must be refused with a 4xx (or denied with -32030, or, where the module
// is meant to forward, the backend got exactly the judged request) and the
// backend's record must show none of the effects; the same bytes sent to
// the backend directly show what the attack does without the module, and
// for each class at least one variant must succeed directly there: that is
// what proves the test can fail. Backends, record format and the upgrade
// proxy: e2e/backends/README.md.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";

import { startCaddy } from "../lib/caddy.mjs";
import { post } from "../lib/mcp.mjs";
import { freePort, Stack } from "../lib/procs.mjs";
import { exchange, h2, RawConn, request, startBackend, startUpgradeProxy } from "../backends/stack.mjs";

const SECRET = `diff-secret-${randomBytes(8).toString("hex")}`;

const tokens = { reader: "diff-reader-token", auditor: "diff-auditor-token" };
const principals = { reader: ["token:reader-user", "reader"], auditor: ["token:auditor-user", "auditor"] };
// A browser-like Origin every backend accepts (the v2 express adapter
// refuses a non-localhost one).
const ORIGIN = "http://localhost:6274";

// The roles. reader: an allow-list (echo and the documents only); auditor:
// a deny-list (everything but the denied tools and the private resources).
const mcpAuth = `mcp_auth {
		token reader-user ${tokens.reader} reader
		token auditor-user ${tokens.auditor} auditor
		role reader {
			allow tools/call echo
			allow resources/read file:///docs/* demo://resource/static/*
		}
		role auditor {
			allow tools/call *
			allow resources/read *
			deny tools/call delete_record get-env
			deny resources/read file:///private/* https://vault.example/* http://vault.example/* https://127.0.0.1/* demo://resource/dynamic/*
		}
		identity_header X-MCP-User
		roles_header X-MCP-Roles
		audit
	}`;

// Two sites: A in front of the backend, B in front of the upgrade proxy
// (without keep-alive, so that every request is the first on its upstream
// connection, where the proxy looks for an upgrade). h2c is on.
function caddyfile(port, portB, upstream, upstreamB) {
  return `{
	admin off
	persist_config off
	servers {
		protocols h1 h2 h2c
	}
}
http://127.0.0.1:${port} {
	bind 127.0.0.1
	${mcpAuth}
	reverse_proxy 127.0.0.1:${upstream}
}
http://127.0.0.1:${portB} {
	bind 127.0.0.1
	${mcpAuth}
	reverse_proxy 127.0.0.1:${upstreamB} {
		transport http {
			keepalive off
		}
	}
}
`;
}

// ------------------------------------------------------------ backends

// What each backend offers the attacks: the allowed and the denied tool,
// an allowed and a denied resource, and whether it keeps a record.
const profiles = {
  "ts-v1": { record: true, h2: false },
  "ts-v2": { record: true, h2: false },
  "go-sdk": { record: true, h2: true },
  "server-everything": { record: false, h2: false, everything: true },
};
for (const p of Object.values(profiles)) {
  Object.assign(p, p.everything
    ? { echo: (text) => ["echo", { message: text }], denied: ["get-env", {}], deniedName: "get-env", allowedURI: "demo://resource/static/document/features.md" }
    : { echo: (text) => ["echo", { text }], denied: ["delete_record", { id: "victim" }], deniedName: "delete_record", allowedURI: "file:///docs/readme.txt" });
}

let caseSeq = 0;

function rpc(method, params, id = 1) {
  return { jsonrpc: "2.0", id, method, params };
}
const call = ([name, args], id = 1) => rpc("tools/call", { name, arguments: args }, id);
const read = (uri, id = 1) => rpc("resources/read", { uri }, id);
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

// ------------------------------------------------------------ sending

// headersFor: the lines every attack request carries to target t as role.
// A direct run sends the same lines but the gateway's credential.
function headersFor(t, role, { accept = true, connection = true } = {}) {
  const h = [["Host", `127.0.0.1:${t.port}`]];
  // The gateway's credential; a backend reached directly gets none (the
  // attack's own Authorization lines, where it has some, stay).
  if (role && t.via === "caddy") h.push(["Authorization", `Bearer ${tokens[role]}`]);
  if (role && t.sessions?.[role]) h.push(["Mcp-Session-Id", t.sessions[role]]);
  if (accept) h.push(["Accept", "application/json, text/event-stream"]);
  h.push(["X-Diff-Case", t.caseId]);
  if (connection) h.push(["Connection", "close"]);
  return h;
}

// send posts body (object, string or Buffer) as role, with Content-Type
// ct (null: none; an array: several lines) and extra header lines.
function send(t, role, body, { ct = "application/json", headers = [], method = "POST", trailers } = {}) {
  const own = headers.some(([k]) => k.toLowerCase() === "connection");
  const h = headersFor(t, role, { connection: !own });
  for (const v of ct === null ? [] : [ct].flat()) h.push(["Content-Type", v]);
  h.push(...headers);
  const b = body === undefined ? undefined : typeof body === "object" && !Buffer.isBuffer(body) ? JSON.stringify(body) : body;
  t.lastBody = b;
  return exchange(t.port, request(method, "/mcp", h, b, trailers));
}

// sendH2 sends one HTTP/2 request to t; a backend without HTTP/2 gets the
// same request over HTTP/1.1, its body chunked (what a proxy would send
// for a body of unknown length).
async function sendH2(t, role, method, body, extra = {}, trailers, ms = 3000) {
  const hs = { ":method": method, "x-diff-case": t.caseId, accept: "application/json, text/event-stream", ...extra };
  if (role && t.via === "caddy") hs.authorization = `Bearer ${tokens[role]}`;
  if (role && t.sessions?.[role]) hs["mcp-session-id"] = t.sessions[role];
  t.lastBody = body;
  if (t.h2) return h2(t.port, hs, body, ms, trailers);
  const h = [["Host", `127.0.0.1:${t.port}`], ["Connection", "close"]];
  for (const [k, v] of Object.entries(hs)) if (!k.startsWith(":")) h.push([k, v]);
  if (body !== undefined && !("content-length" in hs)) h.push(["Transfer-Encoding", "chunked"]);
  return exchange(t.port, request(method, "/mcp", h, body, trailers && Object.entries(trailers)), ms);
}

// tunnelAttack: what an attacker does inside an upgraded connection: plain
// HTTP/1.1 to the backend, unjudged, calling the denied tool (for
// server-everything after its own initialize).
async function tunnelAttack(conn, t) {
  const hostH = [["Host", "localhost"], ["Accept", "application/json, text/event-stream"], ["Content-Type", "application/json"], ["X-Diff-Case", t.caseId]];
  let text = "";
  let sid;
  if (t.p.everything) {
    conn.write(request("POST", "/mcp", hostH, JSON.stringify(rpc("initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "tunnel", version: "1" } }, 0))));
    const init = await conn.readResponse(3000);
    text += init.text;
    sid = init.headers["mcp-session-id"]?.[0];
    if (!sid) return text;
    hostH.push(["Mcp-Session-Id", sid]);
  }
  conn.write(request("POST", "/mcp", hostH, JSON.stringify(call(t.p.denied, 7))));
  text += (await conn.readResponse(3000)).text;
  return text;
}

// upgrade sends a GET (or method) with the given lines to t's upgrade
// site, then, whatever came back, tries the tunnel.
async function upgrade(t, role, lines, { method = "GET", body } = {}) {
  const conn = await RawConn.open(t.upgradePort);
  try {
    const h = headersFor({ ...t, port: t.upgradePort }, role, { connection: false });
    h.push(...lines);
    conn.write(request(method, "/mcp", h, body));
    const res = await conn.readResponse(3000);
    const inner = await tunnelAttack(conn, t);
    return { ...res, text: res.text + inner };
  } finally {
    conn.close();
  }
}

// ------------------------------------------------------------ the oracle

async function snapshot(ctx) {
  if (!ctx.backend.record) return null;
  const r = await ctx.backend.record();
  return { http: r.http.length, ran: r.ran.length };
}

async function since(ctx, snap) {
  if (!snap) return null;
  const r = await ctx.backend.record();
  return { http: r.http.slice(snap.http), ran: r.ran.slice(snap.ran) };
}

const validPairs = Object.values(principals).map(([u, r]) => JSON.stringify([["x-mcp-roles", r], ["x-mcp-user", u]]));

// identityProblem: what is wrong with the identity lines a request
// brought to the backend. Through Caddy every forwarded request carries
// exactly the module's two lines for the caller (a CORS preflight none);
// directly, any identity line or credential is the client's.
function identityProblem(h, via) {
  const lines = [...h.identity].sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
  if (lines.some(([k]) => k === "authorization")) return "the client's credential reached the backend";
  if (via === "direct") {
    return lines.length ? `client identity headers reached the backend: ${JSON.stringify(lines)}` : "";
  }
  if (lines.length === 0) {
    return h.method === "OPTIONS" ? "" : `a ${h.method} reached the backend without the identity the module sets`;
  }
  return validPairs.includes(JSON.stringify(lines)) ? "" : `a forged or mangled identity reached the backend: ${JSON.stringify(lines)}`;
}

// effects lists the denied effects the backend shows: what it ran, read,
// received, and what came back to the client.
function effects(p, delta, text, via) {
  const out = [];
  if (text.includes(SECRET)) out.push("the secret came back");
  if (p.everything) {
    if (/demo:\/\/resource\/dynamic\/text\/\d+/.test(text) && /This is a plaintext resource/.test(text)) out.push("a denied dynamic resource came back");
    return out;
  }
  for (const r of delta.ran) {
    if (r.kind === "tool" && r.name === "delete_record") out.push(`the denied tool delete_record ran (${JSON.stringify(r.args)})`);
    if (r.kind === "resource" && r.secret) out.push(`the secret resource ${r.uri} was read`);
  }
  for (const h of delta.http) {
    const why = identityProblem(h, via);
    if (why) out.push(`${why} (${h.method})`);
    if (h.trailers.length) out.push(`trailers reached the backend: ${JSON.stringify(h.trailers)}`);
    if (h.method !== "POST" && h.bodyBytes > 0) out.push(`a ${h.method} body of ${h.bodyBytes} bytes reached the backend`);
  }
  return [...new Set(out)];
}

function short(res) {
  const s = (res.text ?? "").replace(/\r?\n/g, "\\n");
  return `${res.status}${res.cut ? " (cut)" : ""}${res.error ? ` error ${res.error}` : ""} ${s.length > 300 ? s.slice(0, 300) + "…" : s}`;
}

// ------------------------------------------------------------ the cases

// A case: cls, name, effect (what must not happen), send(t) -> response,
// expect: "refuse" (4xx, nothing reached the backend), "deny" (the
// module's -32030, nothing reached), "forward" (reached, exactly as
// judged: check(delta, t) says more), "fail-closed" (no 101 and no
// tunnel); on(p): the backends it applies to; demo: the backends against
// which it must succeed directly.
const cases = [];
const add = (cls, c) => cases.push({ cls, on: () => true, demo: [], ...c });
const everywhere = () => true;
const recorded = (p) => p.record;
const expressJSON = ["ts-v1", "ts-v2"];

// ---- charset: body-parser decodes the charset the Content-Type names
{
  const smuggle = (p, ct, key = "+AG4-ame") => (t) => send(t, "reader", JSON.stringify({
    jsonrpc: "2.0", id: 1, method: "tools/call",
    params: { name: "echo", [key]: p.deniedName, arguments: { ...p.echo("x")[1], ...p.denied[1] } },
  }), { ct });
  const effect = (p) => `the denied tool ${p.deniedName} runs for a reader allowed only echo`;
  const variants = [
    ["utf-7: +AG4-ame is name (last duplicate wins)", "application/json; charset=utf-7"],
    ["utf-7, quoted", 'application/json; charset="utf-7"'],
    ["utf-7, upper case", "APPLICATION/JSON; CHARSET=UTF-7"],
    ["utf-7, first of duplicated charset parameters", "application/json; charset=utf-7; charset=utf-8"],
    ["utf-7, odd spacing", "application/json ; charset = utf-7"],
    ["utf-7, empty parameter before", "application/json;;charset=utf-7"],
    ["utf-7, another parameter before", "application/json; foo=bar; charset=utf-7"],
    ["utf-7, trailing space", "application/json;charset=utf-7 "],
  ];
  for (const [name, ct] of variants) {
    add("charset", { name, effectOf: effect, make: (p) => smuggle(p, ct), expect: "refuse", demo: expressJSON });
  }
  add("charset", {
    name: "utf-7-imap: &AG4-ame is name", effectOf: effect,
    make: (p) => smuggle(p, "application/json; charset=utf-7-imap", "&AG4-ame"), expect: "refuse", demo: expressJSON,
  });
  add("charset", {
    name: "utf-7: +AG0-ethod turns an allowed method into tools/call", effectOf: effect,
    make: (p) => (t) => send(t, "reader", JSON.stringify({
      jsonrpc: "2.0", id: 1, method: "ping", "+AG0-ethod": "tools/call", params: { name: p.deniedName, arguments: p.denied[1] },
    }), { ct: "application/json; charset=utf-7" }),
    expect: "refuse", demo: expressJSON,
  });
  add("charset", {
    name: "utf-7: +AHU-ri swaps an allowed resource for the secret one",
    effectOf: () => "the secret resource is read by a reader allowed only file:///docs/*",
    on: recorded,
    make: () => (t) => send(t, "reader", JSON.stringify({
      jsonrpc: "2.0", id: 1, method: "resources/read", params: { uri: "file:///docs/readme.txt", "+AHU-ri": "file:///private/secrets.txt" },
    }), { ct: "application/json; charset=utf-7" }),
    expect: "refuse", demo: expressJSON,
  });
  const enc = {
    "utf-16le": (s) => Buffer.from(s, "utf16le"),
    "utf-16be": (s) => Buffer.from(s, "utf16le").swap16(),
    "utf-16": (s) => Buffer.from("\ufeff" + s, "utf16le"),
    "utf-32le": (s) => Buffer.concat([...s].map((ch) => { const b = Buffer.alloc(4); b.writeUInt32LE(ch.codePointAt(0)); return b; })),
    "utf-32be": (s) => Buffer.concat([...s].map((ch) => { const b = Buffer.alloc(4); b.writeUInt32BE(ch.codePointAt(0)); return b; })),
  };
  for (const [cs, f] of Object.entries(enc)) {
    add("charset", {
      name: `${cs}: the denied call, encoded`, effectOf: effect,
      make: (p) => (t) => send(t, "reader", f(JSON.stringify(call(p.denied))), { ct: `application/json; charset=${cs}` }),
      expect: "refuse", demo: expressJSON,
    });
  }
  add("charset", {
    name: "two Content-Type lines, the first naming utf-7", effectOf: effect,
    make: (p) => (t) => send(t, "reader", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", "+AG4-ame": p.deniedName } }),
      { ct: ["application/json; charset=utf-7", "application/json"] }),
    expect: "refuse",
  });
  add("charset", {
    name: "utf-7 on a body that is the same in UTF-8 (the class, not the trick)", effectOf: effect,
    make: (p) => (t) => send(t, "reader", call(p.echo("plain")), { ct: "application/json; charset=utf-7" }),
    expect: "refuse",
  });
  add("charset", {
    name: "charset=utf-8, quoted and upper case, is judged and forwarded as sent",
    effectOf: () => "anything but exactly the judged echo reaches the backend",
    make: (p) => (t) => send(t, "reader", call(p.echo("utf8")), { ct: 'Application/JSON ; charset="UTF-8"' }),
    expect: "forward", check: exactlyJudged(1),
  });
}

// ---- Content-Encoding: express.json() inflates gzip, deflate and br
{
  const effect = (p) => `the denied tool ${p.deniedName} runs: the module judged the compressed bytes, the backend the inflated ones`;
  const variants = [
    ["gzip", "gzip", zlib.gzipSync],
    ["deflate", "deflate", zlib.deflateSync],
    ["br", "br", zlib.brotliCompressSync],
    ["GZIP, upper case", "GZIP", zlib.gzipSync],
  ];
  for (const [name, ce, f] of variants) {
    add("encoding", {
      name, effectOf: effect, expect: "refuse", demo: expressJSON,
      make: (p) => (t) => send(t, "reader", f(Buffer.from(JSON.stringify(call(p.denied)))), { headers: [["Content-Encoding", ce]] }),
    });
  }
  add("encoding", {
    name: "identity and gzip on two lines", effectOf: effect, expect: "refuse",
    make: (p) => (t) => send(t, "reader", zlib.gzipSync(Buffer.from(JSON.stringify(call(p.denied)))),
      { headers: [["Content-Encoding", "identity"], ["Content-Encoding", "gzip"]] }),
  });
  add("encoding", {
    name: "gzip of an allowed call (the class, not the payload)", effectOf: effect, expect: "refuse",
    make: (p) => (t) => send(t, "reader", zlib.gzipSync(Buffer.from(JSON.stringify(call(p.echo("zipped"))))), { headers: [["Content-Encoding", "gzip"]] }),
  });
  add("encoding", {
    name: "x-gzip and a list of codings", effectOf: effect, expect: "refuse",
    make: (p) => (t) => send(t, "reader", zlib.gzipSync(Buffer.from(JSON.stringify(call(p.denied)))), { headers: [["Content-Encoding", "x-gzip, identity"]] }),
  });
  add("encoding", {
    name: "Content-Encoding: identity is judged and forwarded as sent",
    effectOf: () => "anything but exactly the judged echo reaches the backend",
    make: (p) => (t) => send(t, "reader", call(p.echo("identity")), { headers: [["Content-Encoding", "identity"]] }),
    expect: "forward", check: exactlyJudged(1),
  });
}

// ---- resource URIs that the WHATWG URL parser rewrites (the TypeScript
// SDK looks resources up by new URL(uri).href)
{
  const readerFile = [
    "file:///docs/../private/secrets.txt",
    "file:///docs/%2e%2e/private/secrets.txt",
    "file:///docs/%2E%2E/private/secrets.txt",
    "file:///docs/.%2E/private/secrets.txt",
    "file:///docs/..\\private\\secrets.txt",
    "file:///docs/x/../../private/keys/1",
    "file:///docs/\t../private/secrets.txt",
    "file:///docs/.\n./private/secrets.txt",
    " file:///docs/../private/secrets.txt ",
  ];
  const auditorFile = [
    "file:/private/secrets.txt",
    "file://localhost/private/secrets.txt",
    "file://LOCALHOST/private/secrets.txt",
    "FILE:///private/secrets.txt",
    "File:/private/keys/9",
    "fi\tle:///private/secrets.txt",
    "file:///pri\nvate/secrets.txt",
    " file:///private/secrets.txt",
    "file:///private/secrets.txt\n",
    "\u001ffile:///private/secrets.txt",
  ];
  const auditorHTTPS = [
    "https:/vault.example/secret",
    "https:vault.example/secret",
    "https://vault.example:443/secret",
    "HTTPS://VAULT.EXAMPLE/secret",
    "https://vault%2Eexample/secret",
    "https://vault.example",
    "https:\\\\vault.example\\secret",
    "https://vault.example/./secret",
    "https://vault.example/x/../secret",
    "http://vault.example:80/secret",
    "https://127.1/secret",
    "https://0x7f000001/secret",
    "https://2130706433/secret",
    "https://127.0.0.1:443/secret",
  ];
  const readerDemo = [
    "demo://resource/static/../dynamic/text/1",
    "demo://resource/static/%2e%2e/dynamic/text/1",
    "demo://resource/static/document/.%2E/../dynamic/text/1",
    "demo://resource/static/\t../dynamic/text/1",
    " demo://resource/static/../dynamic/text/1",
  ];
  const auditorDemo = [
    "DEMO://resource/dynamic/text/1",
    " demo://resource/dynamic/text/1",
    "de\tmo://resource/dynamic/text/1",
    "demo://resource/dynamic/text/1\n",
  ];
  const groups = [
    ["reader", readerFile, recorded, "a reader allowed only file:///docs/* reads a private resource"],
    ["auditor", auditorFile, recorded, "a private resource outside deny file:///private/* is read"],
    ["auditor", auditorHTTPS, recorded, "a vault resource outside deny https://vault.example/* (and its kin) is read"],
    ["reader", readerDemo, (p) => p.everything, "a reader allowed only demo://resource/static/* reads a dynamic resource"],
    ["auditor", auditorDemo, (p) => p.everything, "a dynamic resource outside deny demo://resource/dynamic/* is read"],
  ];
  for (const [role, uris, on, effect] of groups) {
    for (const uri of uris) {
      add("uri", {
        name: `${role}: ${JSON.stringify(uri)}`, effectOf: () => effect, on, expect: "refuse",
        demo: on === recorded ? expressJSON : ["server-everything"],
        make: () => (t) => send(t, role, read(uri)),
      });
    }
  }
  add("uri", {
    name: "reader: the canonical allowed document is judged and forwarded as sent",
    effectOf: () => "anything but exactly the judged read reaches the backend",
    make: (p) => (t) => send(t, "reader", read(p.allowedURI)), expect: "forward", check: exactlyJudged(0),
  });
}

// ---- Upgrade: a backend that accepts it gives a raw tunnel
{
  const effect = (p) => `the denied tool ${p.deniedName} runs inside a tunnel nothing judges`;
  const ws = [["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="], ["Sec-WebSocket-Version", "13"]];
  const variants = [
    ["GET, Upgrade: websocket", ws],
    ["GET, Upgrade: h2c as curl --http2 sends it", [["Upgrade", "h2c"], ["Connection", "Upgrade, HTTP2-Settings"], ["HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"]]],
    ["GET, a made-up protocol, lower-case connection token", [["Upgrade", "mcp-tunnel"], ["Connection", "upgrade"]]],
    ["GET, UPGRADE: WebSocket, keep-alive first", [["UPGRADE", "WebSocket"], ["connection", "keep-alive, Upgrade"]]],
    ["GET, Upgrade without a Connection token", [["Upgrade", "websocket"]]],
  ];
  for (const [name, lines] of variants) {
    add("upgrade", { name, effectOf: effect, expect: "refuse", demo: ["ts-v1", "ts-v2", "go-sdk", "server-everything"], make: () => (t) => upgrade(t, "reader", lines) });
  }
  add("upgrade", {
    name: "POST of an allowed call with Upgrade", effectOf: effect, expect: "refuse",
    make: (p) => (t) => upgrade(t, "reader", [...ws, ["Content-Type", "application/json"]], { method: "POST", body: JSON.stringify(call(p.echo("up"))) }),
  });
  add("upgrade", {
    name: "an upstream that answers 101 to a plain GET (fail closed)", effectOf: effect, expect: "fail-closed",
    on: recorded,
    make: () => (t) => upgrade(t, "reader", [["X-Force-101", "1"]]),
  });
}

// ---- Connection: a proxy drops the headers it names, the module's
// identity headers among them; the backends trust a missing identity
// (file:///docs/profile shows every profile, the secret included)
{
  const effect = () => "a request reaches the backend without the identity the module set, and the profile of every user (the secret) comes back";
  const variants = [
    ["X-MCP-User, X-MCP-Roles", [["Connection", "X-MCP-User, X-MCP-Roles"]]],
    ["close, x-mcp-user", [["Connection", "close, x-mcp-user"]]],
    ["two lines, keep-alive and X-MCP-Roles", [["Connection", "keep-alive"], ["Connection", "X-MCP-Roles"]]],
    ["empty elements and upper case", [["Connection", ", ,X-MCP-USER,"]]],
    ["Mcp-Protocol-Version (any header, not a list of names)", [["Connection", "Mcp-Protocol-Version"]]],
    ["a tab-separated token", [["Connection", "close,\tX-MCP-User"]]],
  ];
  for (const [name, lines] of variants) {
    add("connection", {
      name, effectOf: effect, on: recorded, expect: "refuse", demo: ["ts-v1", "ts-v2", "go-sdk"],
      make: () => (t) => send(t, "reader", read("file:///docs/profile"), { headers: lines }),
    });
  }
  add("connection", {
    name: "close, keep-alive and TE are judged and forwarded with the identity",
    effectOf: () => "anything but exactly the judged read, with the caller's identity, reaches the backend",
    on: recorded, expect: "forward", check: exactlyJudged(0),
    make: () => (t) => send(t, "reader", read("file:///docs/profile"), { headers: [["Connection", "close, TE"], ["TE", "trailers"]] }),
  });
}

// ---- request trailers (HTTP/1.1 chunked): declared or not
{
  const effect = () => "a forged identity or the client's token reaches the backend in trailers";
  const chunked = [["Transfer-Encoding", "chunked"]];
  const forged = [["X-MCP-User", "token:admin-user"], ["X-MCP-Roles", "admin"]];
  const auth = [["Authorization", `Bearer ${tokens.reader}`]];
  const allowed = (p) => JSON.stringify(call(p.echo("trailers")));
  add("trailers", {
    name: "declared X-MCP-User, X-MCP-Roles", effectOf: effect, on: recorded, expect: "refuse", demo: ["ts-v1", "ts-v2", "go-sdk"],
    make: (p) => (t) => send(t, "reader", allowed(p), { headers: [...chunked, ["Trailer", "X-MCP-User, X-MCP-Roles"]], trailers: forged }),
  });
  add("trailers", {
    name: "declared Authorization", effectOf: effect, on: recorded, expect: "refuse", demo: ["ts-v1", "ts-v2", "go-sdk"],
    make: (p) => (t) => send(t, "reader", allowed(p), { headers: [...chunked, ["Trailer", "Authorization"]], trailers: auth }),
  });
  add("trailers", {
    name: "declared but not sent", effectOf: effect, on: recorded, expect: "refuse",
    make: (p) => (t) => send(t, "reader", allowed(p), { headers: [...chunked, ["Trailer", "X-MCP-Roles"]] }),
  });
  for (const [name, tr] of [
    ["undeclared X-MCP-User, X-MCP-Roles", forged],
    ["undeclared Authorization", auth],
    ["undeclared X-MCP_User (underscore)", [["X-MCP_User", "token:admin-user"]]],
  ]) {
    add("trailers", {
      name: `${name}: the allowed call is forwarded without them`, effectOf: effect, on: recorded,
      expect: "forward", check: exactlyJudged(1), demo: ["ts-v1", "ts-v2", "go-sdk"],
      make: (p) => (t) => send(t, "reader", allowed(p), { headers: chunked, trailers: tr }),
    });
  }
  add("trailers", {
    name: "undeclared, on a denied call", effectOf: effect, on: recorded, expect: "deny",
    make: (p) => (t) => send(t, "reader", JSON.stringify(call(p.denied)), { headers: chunked, trailers: forged }),
  });
  add("trailers", {
    name: "HTTP/2, declared x-mcp-user, x-mcp-roles", effectOf: effect, on: recorded, expect: "refuse", demo: ["go-sdk"],
    make: (p) => (t) => sendH2(t, "reader", "POST", allowed(p), { "content-type": "application/json", trailer: "x-mcp-user, x-mcp-roles" },
      { "x-mcp-user": "token:admin-user", "x-mcp-roles": "admin" }),
  });
  add("trailers", {
    name: "HTTP/2, undeclared x-mcp-user: the allowed call is forwarded without it", effectOf: effect, on: recorded,
    expect: "forward", check: exactlyJudged(1),
    make: (p) => (t) => sendH2(t, "reader", "POST", allowed(p), { "content-type": "application/json" }, { "x-mcp-user": "token:admin-user" }),
  });
  for (const m of ["GET", "DELETE"]) {
    add("trailers", {
      name: `${m}, empty chunked body with trailers`, effectOf: effect, on: recorded, expect: "refuse",
      make: () => (t) => send(t, "reader", "", { method: m, ct: null, headers: chunked, trailers: [...forged, ...auth] }),
    });
  }
}

// ---- the CORS preflight path: forwarded without a credential
{
  const pre = [["Origin", ORIGIN], ["Access-Control-Request-Method", "POST"], ["Access-Control-Request-Headers", "content-type, authorization"]];
  const effect = () => "the client's token or a forged identity reaches the backend on an unauthenticated OPTIONS";
  const forwarded = [
    ["with the client's Authorization", [["Authorization", `Bearer ${tokens.reader}`]]],
    ["with forged X-MCP-User and X-MCP-Roles", [["X-MCP-User", "token:admin-user"], ["X-MCP-Roles", "admin"]]],
    ["with forged x-mcp_user (underscore) and repeated roles", [["x-mcp_user", "token:admin-user"], ["X-MCP-Roles", "admin"], ["x-mcp-roles", "admin"]]],
    ["with Authorization twice", [["Authorization", `Bearer ${tokens.reader}`], ["authorization", "Bearer x"]]],
  ];
  for (const [name, lines] of forwarded) {
    add("preflight", {
      name: `${name}: forwarded, scrubbed`, effectOf: effect, on: recorded, expect: "forward", demo: ["ts-v1", "ts-v2", "go-sdk"],
      check: (d) => {
        const opts = d.http.filter((h) => h.method === "OPTIONS");
        assert.equal(opts.length, 1, "the preflight reached the backend once");
        assert.deepEqual(opts[0].identity, [], "with no credential and no identity line");
      },
      make: () => (t) => send(t, null, undefined, { method: "OPTIONS", ct: null, headers: [...pre, ...lines] }),
    });
  }
  for (const [name, lines, withBody] of [
    ["with a body", [["Content-Type", "application/json"]], true],
    ["with a chunked body", [["Content-Type", "application/json"], ["Transfer-Encoding", "chunked"]], true],
    ["with Connection: X-MCP-User", [["Connection", "X-MCP-User"]], false],
    ["with Upgrade", [["Upgrade", "websocket"], ["Connection", "Upgrade"]], false],
  ]) {
    add("preflight", {
      name: `${name}: not a preflight, refused`, effectOf: effect, on: recorded, expect: "refuse",
      make: (p) => (t) => send(t, null, withBody ? JSON.stringify(call(p.denied)) : undefined,
        { method: "OPTIONS", ct: null, headers: [...pre, ["X-MCP-User", "token:admin-user"], ...lines] }),
    });
  }
}

// ---- HTTP/2 requests with a body on GET, DELETE, OPTIONS (length unknown)
{
  const effect = () => "a body nobody judged reaches the backend on a GET, DELETE or OPTIONS";
  for (const [name, method, role, extra] of [
    ["GET with a body", "GET", "reader", {}],
    ["DELETE with a body", "DELETE", "reader", {}],
    ["OPTIONS preflight (no credential) with a body", "OPTIONS", null, { origin: ORIGIN, "access-control-request-method": "POST" }],
    ["OPTIONS with a credential and a body", "OPTIONS", "reader", {}],
    ["GET with a declared content-length", "GET", "reader", { "content-length": true }],
  ]) {
    add("h2", {
      name, effectOf: effect, on: recorded, expect: "refuse", demo: ["ts-v1", "ts-v2", "go-sdk"],
      make: (p) => (t) => {
        const body = JSON.stringify(call(p.denied));
        const hs = { "content-type": "application/json", ...extra };
        if (hs["content-length"]) hs["content-length"] = String(Buffer.byteLength(body));
        return sendH2(t, role, method, body, hs);
      },
    });
  }
  add("h2", {
    name: "GET without END_STREAM on HEADERS, then an empty DATA: keeps working",
    effectOf: () => "the GET is refused, or reaches the backend with a body or without the identity",
    expect: "forward",
    check: (d, res, p) => {
      if (!d) {
        assert.equal(res.status, 200, `server-everything opens its stream: ${short(res)}`);
        return;
      }
      const gets = d.http.filter((h) => h.method === "GET");
      assert.equal(gets.length, 1, "the GET reached the backend");
      assert.equal(gets[0].bodyBytes, 0);
    },
    // server-everything holds its stream open: 1 s of it is enough.
    make: () => (t) => sendH2(t, "reader", "GET", "", {}, undefined, 1000),
  });
  add("h2", {
    name: "POST of an allowed call over HTTP/2 is judged and forwarded as sent",
    effectOf: () => "anything but exactly the judged echo reaches the backend",
    expect: "forward", check: exactlyJudged(1),
    make: (p) => (t) => sendH2(t, "reader", "POST", JSON.stringify(call(p.echo("h2"))), { "content-type": "application/json" }),
  });
}

// ---- batches
{
  const echoes = (p, n, from = 1) => Array.from({ length: n }, (_, i) => call(p.echo(`b${i}`), from + i));
  add("batch", {
    name: "101 allowed calls", effectOf: () => "any of the 101 runs (the batch bound is 100)", expect: "refuse",
    check: noneRan,
    make: (p) => (t) => send(t, "reader", echoes(p, 101)),
  });
  add("batch", {
    name: "100 allowed calls and the denied one as the 101st",
    effectOf: (p) => `the denied tool ${p.deniedName} runs, hidden past the 100th message`, expect: "refuse", demo: ["go-sdk"],
    make: (p) => (t) => send(t, "reader", [...echoes(p, 100), call(p.denied, 101)]),
  });
  add("batch", {
    name: "500 messages, denied ones spread through",
    effectOf: (p) => `the denied tool ${p.deniedName} runs`, expect: "refuse", demo: ["go-sdk"],
    make: (p) => (t) => send(t, "reader", echoes(p, 500).map((m, i) => (i % 50 === 49 ? call(p.denied, m.id) : m))),
  });
  add("batch", {
    name: "one huge batch (~1 MB of calls, under max_body): refused, one audit entry, a small answer",
    effectOf: () => "any call runs, the answer grows with the batch, or the audit log gets more than one entry",
    expect: "refuse", direct: false, audit: true,
    check: (d, res) => {
      noneRan(d);
      assert.ok(res.body.length < 4096, `the refusal is small: ${res.body.length} bytes`);
    },
    make: (p) => (t) => {
      // As many calls as fit in 1,000,000 bytes (max_body is 1 MiB).
      const one = JSON.stringify(call(p.echo("b99999"), 99999)).length + 1;
      return send(t, "reader", echoes(p, Math.floor(1000000 / one)));
    },
  });
  add("batch", {
    name: "100 messages, one denied: denied whole, answer bounded",
    effectOf: (p) => `the denied tool ${p.deniedName} (or any other) runs`, expect: "deny",
    check: (d, res) => {
      noneRan(d);
      assert.ok(res.body.length < 100 * 512, `the denial is bounded: ${res.body.length} bytes`);
    },
    make: (p) => (t) => send(t, "reader", [...echoes(p, 99), call(p.denied, 100)]),
  });
  add("batch", {
    name: "exactly 100 allowed calls are judged and forwarded as sent",
    effectOf: () => "anything but exactly the judged batch reaches the backend",
    expect: "forward", check: exactlyJudged(100),
    make: (p) => (t) => send(t, "reader", echoes(p, 100)),
  });
}

// exactlyJudged(n) checks a forwarded request: the backend got the bytes
// the client sent (hash), with the caller's identity and nothing else, and
// ran n tools (all allowed).
function exactlyJudged(n) {
  return (d, res, p, sent) => {
    if (!d) {
      assert.ok(res.status >= 200 && res.status < 300, `server-everything answered: ${short(res)}`);
      return;
    }
    const posts = d.http.filter((h) => h.method === "POST");
    assert.equal(posts.length, 1, `one POST reached the backend: ${JSON.stringify(d.http)}`);
    if (sent !== undefined) assert.equal(posts[0].bodySha256, sha256(sent), "byte for byte the judged body");
    assert.equal(d.ran.filter((r) => r.kind === "tool").length, n, `${n} tools ran: ${JSON.stringify(d.ran)}`);
  };
}

function noneRan(d) {
  if (d) assert.deepEqual(d.ran, [], "nothing ran");
}

// ------------------------------------------------------------ the suite

async function initialize(port, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const res = await post(`http://127.0.0.1:${port}/mcp`, rpc("initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "diff", version: "1" } }, 0), headers);
  const sid = res.headers.get("mcp-session-id");
  await res.text();
  assert.ok(sid, `initialize gave a session: ${res.status}`);
  const n = await post(`http://127.0.0.1:${port}/mcp`, { jsonrpc: "2.0", method: "notifications/initialized" }, { ...headers, "mcp-session-id": sid });
  await n.text();
  return sid;
}

async function startAll(name) {
  const stack = await Stack.create(`mcp-auth-diff-${name}-`);
  return stack.build(async () => {
    const backend = await startBackend(stack, name, SECRET);
    const proxy = await startUpgradeProxy(stack, backend.port);
    const port = await freePort();
    const portB = await freePort();
    const caddy = await startCaddy(stack, caddyfile(port, portB, backend.port, proxy.port),
      [`http://127.0.0.1:${port}/mcp`, `http://127.0.0.1:${portB}/mcp`]);
    const p = profiles[name];
    const targets = {
      caddy: { via: "caddy", port, upgradePort: portB, h2: true, p },
      direct: { via: "direct", port: backend.port, upgradePort: proxy.port, h2: p.h2, p },
    };
    if (p.everything) {
      for (const role of Object.keys(tokens)) {
        (targets.caddy.sessions ??= {})[role] = await initialize(port, tokens[role]);
        (targets.direct.sessions ??= {})[role] = await initialize(backend.port);
      }
    }
    return { stack, backend, caddy, targets, p };
  });
}

const auditLines = (proc) => proc.output.split("\n").filter((l) => l.includes('"logger":"http.handlers.mcp_auth.audit"'));

// run sends case c's attack to one target and reads the oracle.
async function run(ctx, c, via) {
  const t = { ...ctx.targets[via], caseId: `${c.cls}-${++caseSeq}` };
  const snap = await snapshot(ctx);
  const auditBefore = auditLines(ctx.caddy).length;
  const res = await c.make(ctx.p)(t);
  // A request's record entry is complete once its body (and trailers)
  // arrived; a backend may answer before that (a GET it never reads the
  // body of): wait for the entries to complete, briefly.
  let delta = await since(ctx, snap);
  for (let i = 0; delta && i < 100 && delta.http.some((h) => !h.complete); i++) {
    await new Promise((r) => setTimeout(r, 20));
    delta = await since(ctx, snap);
  }
  const found = effects(ctx.p, delta ?? { http: [], ran: [] }, res.text ?? "", via);
  return { res, delta, found, sent: t.lastBody, auditBefore };
}

const directSummary = [];

// DIFF_BACKENDS=ts-v1,go-sdk runs only those backends (for working on the
// suite; npm test runs all four).
const only = process.env.DIFF_BACKENDS?.split(",");
for (const name of Object.keys(profiles).filter((n) => !only || only.includes(n))) {
  describe(`differential: ${name}`, () => {
    let ctx;
    before(async () => {
      ctx = await startAll(name);
    });
    after(async () => {
      await ctx?.stack.stop();
    });

    for (const c of cases.filter((c) => c.on(profiles[name]))) {
      const p = profiles[name];
      test(`${c.cls}: ${c.name} — must not happen: ${c.effectOf(p)}`, async (t) => {
        const r = await run(ctx, c, "caddy");
        t.diagnostic(`through Caddy: ${short(r.res)}`);
        assert.deepEqual(r.found, [], `through Caddy the denied effect happened: ${r.found.join("; ")}\n${short(r.res)}`);
        const d = r.delta;
        switch (c.expect) {
          case "refuse":
            assert.ok(r.res.status >= 400 && r.res.status < 500, `a clear 4xx, got ${short(r.res)}`);
            if (d) assert.deepEqual(d, { http: [], ran: [] }, "nothing reached the backend");
            break;
          case "deny":
            assert.equal(r.res.status, 200, short(r.res));
            assert.match(r.res.text, /-32030/, "the module's denial");
            if (d) assert.deepEqual(d, { http: [], ran: [] }, "nothing reached the backend");
            break;
          case "fail-closed":
            assert.notEqual(r.res.status, 101, `no protocol switch through Caddy: ${short(r.res)}`);
            noneRan(d);
            break;
          case "forward":
            assert.ok(r.res.status < 500 && !/"error":"[a-z_]+","error_description"/.test(r.res.text), `forwarded, not refused: ${short(r.res)}`);
            break;
          default:
            throw new Error(`unknown expectation ${c.expect}`);
        }
        c.check?.(d, r.res, p, r.sent);
        if (c.audit) {
          // One audit entry for the whole request, then the sentinel's.
          const sentinel = await send({ ...ctx.targets.caddy, caseId: "sentinel" }, "reader", call(p.echo("sentinel")));
          assert.equal(sentinel.status, 200);
          await ctx.stack.waitFor("the sentinel's audit entry", () => auditLines(ctx.caddy).slice(r.auditBefore).some((l) => l.includes('"target":"echo"')), 5000);
          const entries = auditLines(ctx.caddy).slice(r.auditBefore);
          assert.ok(entries.length <= 2, `at most one audit entry for the batch, got ${entries.length - 1}`);
        }

        if (c.direct === false) return;
        const dr = await run(ctx, c, "direct");
        const outcome = dr.found.length ? `EFFECT: ${dr.found.join("; ")}` : "no effect";
        t.diagnostic(`directly: ${outcome} — ${short(dr.res)}`);
        directSummary.push({ backend: name, cls: c.cls, name: c.name, effect: dr.found.length > 0 });
        if (c.demo.includes(name)) {
          assert.ok(dr.found.length > 0, `the same attack must succeed against ${name} directly, or this case proves nothing: ${short(dr.res)}`);
        }
      });
    }
  });
}

after(() => {
  const by = {};
  for (const s of directSummary) {
    const k = `${s.backend} ${s.cls}`;
    by[k] ??= { effect: 0, of: 0 };
    by[k].of++;
    if (s.effect) by[k].effect++;
  }
  console.log("directly (without Caddy), variants whose denied effect happened:");
  for (const [k, v] of Object.entries(by)) console.log(`  ${k}: ${v.effect}/${v.of}`);
});
