// readings: how the TypeScript SDK stack reads a request body or a URI,
// for the differential fuzzer (wire/differential_node_test.go).
//
// One JSON object a line on stdin, one answer a line on stdout, in order:
//
//   {"body": "<base64>", "contentType": "<Content-Type>"}
//     -> {"refused": "<who>: <why>"}  (the stack answers an error: nothing runs)
//     -> {"batch": bool, "msgs": [{"kind", "method", "id", "name", "uri",
//         "refType", "refName", "refUri", "subs"}, ...]}
//   {"uri": "<string>"}
//     -> {"href": new URL(uri).href} or {"error": "<why>"}
//
// The body goes the way of the SDK's documented server
// (createMcpExpressApp() + StreamableHTTPServerTransport +
// handleRequest(req, res, req.body)): express.json() (body-parser 2.4.0,
// defaults) runs on a synthetic request with the given Content-Type; the
// transport's own Content-Type check (isJsonContentType), its parse of the
// raw body when express.json() left it alone (TextDecoder + JSON.parse),
// its batch bound, and JSONRPCMessageSchema per message follow. Each
// message is then read as the SDK's Protocol dispatches it (request,
// notification, response). "id" is the JSON text of the id (what the SDK
// echoes), string fields are JSON strings as the SDK holds them (a string
// that is not well-formed UTF-16 is reported with "illFormed").
//
// Strings: any field the SDK holds that is not a string is reported as
// {"nonString": <JSON text>}.

import { Readable } from "node:stream";
import { createInterface } from "node:readline";

import express from "express";
import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js";
import {
  JSONRPCMessageSchema,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
} from "@modelcontextprotocol/sdk/types.js";

const jsonParser = express.json();
// The v1 transport's bound (MAXIMUM_MESSAGE_BATCH_SIZE).
const maxBatch = 100;

// bodyParser runs express.json() on a synthetic request and resolves to
// { body } (undefined when it did not parse) or { error }.
function bodyParser(buf, contentType) {
  const req = Readable.from(buf.length ? [buf] : []);
  req.headers = { "content-length": String(buf.length) };
  if (contentType !== undefined) req.headers["content-type"] = contentType;
  req.method = "POST";
  req.url = "/mcp";
  return new Promise((resolve) => {
    jsonParser(req, {}, (err) => resolve(err ? { error: err } : { body: req.body }));
  });
}

function str(v) {
  if (v === undefined) return undefined;
  if (typeof v !== "string") return { nonString: JSON.stringify(v) ?? String(v) };
  return v.isWellFormed() ? v : { illFormed: JSON.stringify(v) };
}

function readMessage(m) {
  let kind;
  if (isJSONRPCResultResponse(m) || isJSONRPCErrorResponse(m)) kind = "response";
  else if (isJSONRPCRequest(m)) kind = "request";
  else if (isJSONRPCNotification(m)) kind = "notification";
  else kind = "unknown";
  const p = m.params && typeof m.params === "object" ? m.params : {};
  const ref = p.ref && typeof p.ref === "object" ? p.ref : {};
  const subs = p.notifications?.resourceSubscriptions;
  return {
    kind,
    method: str(m.method),
    id: "id" in m ? JSON.stringify(m.id) : undefined,
    name: str(p.name),
    uri: str(p.uri),
    refType: str(ref.type),
    refName: str(ref.name),
    refUri: str(ref.uri),
    subs: Array.isArray(subs) ? subs.map((s) => str(s?.uri ?? s)) : undefined,
  };
}

async function readBody(buf, contentType) {
  const parsed = await bodyParser(buf, contentType);
  if (parsed.error) {
    return { refused: `express.json: ${parsed.error.status} ${parsed.error.type ?? parsed.error.message}` };
  }
  if (!isJsonContentType(contentType)) return { refused: "transport: 415 content type" };
  let raw = parsed.body;
  if (raw === undefined) {
    // express.json() left the body alone: the transport reads it itself.
    try {
      raw = JSON.parse(new TextDecoder().decode(buf));
    } catch {
      return { refused: "transport: 400 parse error" };
    }
  }
  const batch = Array.isArray(raw);
  const list = batch ? raw : [raw];
  if (batch && list.length > maxBatch) return { refused: "transport: 400 batch too large" };
  const msgs = [];
  for (const el of list) {
    const r = JSONRPCMessageSchema.safeParse(el);
    if (!r.success) return { refused: "transport: 400 invalid JSON-RPC message" };
    msgs.push(readMessage(r.data));
  }
  return { batch, msgs };
}

function readURI(uri) {
  try {
    return { href: new URL(uri).href };
  } catch (e) {
    return { error: e.code ?? e.message };
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let out;
  try {
    const q = JSON.parse(line);
    if (typeof q.uri === "string") out = readURI(q.uri);
    else out = await readBody(Buffer.from(q.body, "base64"), q.contentType);
  } catch (e) {
    out = { fatal: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
