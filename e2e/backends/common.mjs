// What the differential suite's Node backends share: the execution record
// (the oracle: what the backend DID), the loopback endpoint that serves it,
// the tap that notes every HTTP request as it arrives, and the tools and
// resources every backend offers. See README.md in this directory.
//
// Environment: PORT (the MCP endpoint, 127.0.0.1), RECORD_PORT (the record
// endpoint, 127.0.0.1), SECRET (the marker every secret resource returns).

import { createHash } from "node:crypto";
import { createServer } from "node:http";

export const port = Number(process.env.PORT);
export const recordPort = Number(process.env.RECORD_PORT);
export const secret = process.env.SECRET;
if (!port || !recordPort || !secret) {
  throw new Error("PORT, RECORD_PORT and SECRET must be set");
}

// The record. http: one entry per HTTP request that reached the server,
// made when its head arrived and completed as its body and trailers come
// in. ran: one entry per tool that ran and per resource that was read.
const record = { http: [], ran: [] };

// The header (and trailer) names the oracle watches: the identity the
// gateway sets, the credential it must strip, in any spelling a CGI-style
// server would read alike.
const watched = new Set(["x-mcp-user", "x-mcp-roles", "authorization"]);
const isWatched = (name) => watched.has(name.toLowerCase().replaceAll("_", "-"));
// A credential is noted as present, never by value.
const shown = (name, value) => (name.toLowerCase() === "authorization" ? "<present>" : value);

function pairs(raw) {
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (isWatched(raw[i])) out.push([raw[i].toLowerCase(), shown(raw[i], raw[i + 1])]);
  }
  return out;
}

// tap notes req in the record. It wraps req.push, through which Node's HTTP
// parser hands over every body byte, so the bytes are seen without reading
// the stream (express.json and the SDK transports read it as usual).
export function tap(req) {
  const entry = {
    seq: record.http.length,
    method: req.method,
    url: req.url,
    case: req.headers["x-diff-case"] ?? null,
    identity: pairs(req.rawHeaders),
    connection: req.headers.connection ?? null,
    upgrade: req.headers.upgrade ?? null,
    bodyBytes: 0,
    bodySha256: null,
    trailers: [],
    complete: false,
  };
  record.http.push(entry);
  const hash = createHash("sha256");
  const push = req.push;
  req.push = function (chunk, encoding) {
    if (chunk !== null && chunk !== undefined) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding);
      entry.bodyBytes += b.length;
      hash.update(b);
    } else {
      // End of the body: the trailers, if any, are parsed by now.
      entry.bodySha256 = hash.digest("hex");
      entry.trailers = req.rawTrailers.length ? req.rawTrailers.reduce((acc, v, i, a) => {
        if (i % 2 === 0) acc.push([v.toLowerCase(), shown(v, a[i + 1])]);
        return acc;
      }, []) : [];
      entry.complete = true;
    }
    return push.call(this, chunk, encoding);
  };
}

// ran notes a tool run or a resource read, with the identity and case of
// the HTTP request that carried it.
export function ran(what, headers) {
  const h = (k) => (headers ? (typeof headers.get === "function" ? headers.get(k) : headers[k]) : undefined) ?? null;
  const entry = { seq: record.ran.length, ...what, user: h("x-mcp-user"), roles: h("x-mcp-roles"), case: h("x-diff-case") };
  record.ran.push(entry);
  return entry;
}

// serveRecord serves GET /record on 127.0.0.1:RECORD_PORT.
export function serveRecord() {
  const srv = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/record") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(record));
      return;
    }
    res.writeHead(404).end();
  });
  srv.listen(recordPort, "127.0.0.1");
  return srv;
}

// The tools, resources and templates every backend offers, independent of
// the SDK: the backends register them with their SDK's API. text(args,
// user) is what a tool returns, read(uri, vars, user) what a resource does.
export const tools = {
  // Allowed to the reader.
  echo: (args) => `echo: ${args.text ?? ""}`,
  // Denied to the reader (and to every role of the suite).
  delete_record: (args) => `deleted record ${args.id ?? "?"}`,
};

export const resources = {
  "file:///docs/readme.txt": () => "the public readme",
  // A backend that trusts a missing identity: the gateway always sets
  // X-MCP-User, so a request without one is taken for an internal call and
  // shown every profile, the secret included.
  "file:///docs/profile": (user) => (user ? `the profile of ${user}` : `all profiles (internal caller): ${secret}`),
  "file:///private/secrets.txt": () => `the secrets: ${secret}`,
  "https://vault.example/secret": () => `vault: ${secret}`,
  "https://vault.example/": () => `vault index: ${secret}`,
  "http://vault.example/secret": () => `plain vault: ${secret}`,
  "https://127.0.0.1/secret": () => `loopback vault: ${secret}`,
};

export const templates = {
  "file:///private/keys/{id}": (vars) => `key ${vars.id}: ${secret}`,
  "file:///docs/notes/{id}": (vars) => `note ${vars.id}`,
};

// A resource read or tool result reveals the secret when its text holds
// the marker; the record says so too.
export function readResource(uri, vars, user, headers, template) {
  const text = template ? templates[template](vars) : resources[uri](user);
  ran({ kind: "resource", uri, template: template ?? null, secret: text.includes(secret) }, headers);
  return text;
}

export function runTool(name, args, headers) {
  ran({ kind: "tool", name, args }, headers);
  return tools[name](args);
}

// The stateless answer to GET and DELETE (the SDK README's stateless
// example).
export function methodNotAllowed(_req, res) {
  res.writeHead(405, { "content-type": "application/json" }).end(
    JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null }),
  );
}
