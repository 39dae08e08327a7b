// Starting the differential suite's backends (ts-v1.mjs, ts-v2.mjs,
// gosdk/, server-everything), the upgrade proxy and Caddy, reading the
// backends' execution records, and the raw HTTP/1.1 and HTTP/2 clients the
// attacks need (fetch cannot send duplicate Content-Type lines, trailers,
// bodies on GET or protocol upgrades).

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import http2 from "node:http2";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { everythingMain } from "../lib/everything.mjs";
import { post, ping } from "../lib/mcp.mjs";
import { e2eDir, freePort } from "../lib/procs.mjs";

export const repoRoot = resolve(e2eDir, "..");
export const backendsDir = join(e2eDir, "backends");

// ---------------------------------------------------------------- raw HTTP

// RawConn is one TCP connection on which requests are written byte for
// byte and responses read one at a time.
export class RawConn {
  static open(port) {
    return new Promise((res, rej) => {
      const c = new RawConn(connect(port, "127.0.0.1"));
      c.sock.once("connect", () => res(c));
      c.sock.once("error", rej);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.waiters = [];
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    const end = () => {
      this.closed = true;
      this.wake();
    };
    sock.on("end", end);
    sock.on("close", end);
    sock.on("error", end);
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  write(bytes) {
    if (!this.closed) this.sock.write(bytes);
  }

  // until waits for cond() (re-checked on every arrival), the connection's
  // end, or the deadline.
  async until(cond, deadline) {
    while (!cond() && !this.closed && Date.now() < deadline) {
      await new Promise((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return cond();
  }

  // readResponse reads one HTTP/1.1 response: { status, headers (lower-case
  // names, arrays), body (Buffer), raw (all bytes of it) }. A 1xx other
  // than 101 is skipped. status is 0 when nothing complete arrived in ms.
  async readResponse(ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = await this.until(() => this.buf.indexOf("\r\n\r\n") >= 0, deadline);
      if (!got) {
        const raw = this.buf;
        this.buf = Buffer.alloc(0);
        return { status: 0, headers: {}, body: raw, raw, text: raw.toString("latin1") };
      }
      const end = this.buf.indexOf("\r\n\r\n");
      const head = this.buf.subarray(0, end).toString("latin1");
      const [statusLine, ...lines] = head.split("\r\n");
      const status = Number(statusLine.split(" ")[1]);
      const headers = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        const k = l.slice(0, i).trim().toLowerCase();
        (headers[k] ??= []).push(l.slice(i + 1).trim());
      }
      let rest = this.buf.subarray(end + 4);
      if (status >= 100 && status < 200 && status !== 101) {
        this.buf = rest;
        continue;
      }
      if (status === 101 || status === 204 || status === 304) {
        this.buf = rest;
        return { status, headers, body: Buffer.alloc(0), raw: Buffer.from(head), text: head };
      }
      let body;
      if ((headers["transfer-encoding"] ?? []).join(",").toLowerCase().includes("chunked")) {
        const start = end + 4;
        let parsed = dechunk(this.buf.subarray(start));
        await this.until(() => (parsed = dechunk(this.buf.subarray(start))).done, deadline);
        body = parsed.body;
        this.buf = this.buf.subarray(start + parsed.consumed);
      } else if (headers["content-length"]) {
        const n = Number(headers["content-length"][0]);
        await this.until(() => this.buf.length - (end + 4) >= n, deadline);
        body = this.buf.subarray(end + 4, end + 4 + n);
        this.buf = this.buf.subarray(end + 4 + body.length);
      } else {
        await this.until(() => false, deadline);
        body = this.buf.subarray(end + 4);
        this.buf = Buffer.alloc(0);
      }
      const text = head + "\r\n\r\n" + body.toString("utf8");
      return { status, headers, body, text };
    }
  }

  close() {
    this.sock.destroy();
  }
}

// dechunk decodes a chunked body from the start of b: { done, body,
// consumed }; done is false while it is incomplete (body is what arrived).
function dechunk(b) {
  const chunks = [];
  let off = 0;
  for (;;) {
    const lineEnd = b.indexOf("\r\n", off);
    if (lineEnd < 0) return { done: false, body: Buffer.concat(chunks), consumed: b.length };
    const size = parseInt(b.subarray(off, lineEnd).toString("latin1"), 16);
    if (!(size >= 0)) return { done: true, body: Buffer.concat(chunks), consumed: b.length };
    if (size === 0) {
      // The trailer section ends with an empty line.
      const t = b.indexOf("\r\n\r\n", lineEnd);
      if (t < 0) return { done: false, body: Buffer.concat(chunks), consumed: b.length };
      return { done: true, body: Buffer.concat(chunks), consumed: t + 4 };
    }
    if (b.length < lineEnd + 2 + size + 2) {
      chunks.push(b.subarray(lineEnd + 2));
      return { done: false, body: Buffer.concat(chunks), consumed: b.length };
    }
    chunks.push(b.subarray(lineEnd + 2, lineEnd + 2 + size));
    off = lineEnd + 2 + size + 2;
  }
}

// request builds the bytes of an HTTP/1.1 request. headers is a list of
// [name, value] lines, sent in order, repeated names included; a body
// (Buffer or string) gets a Content-Length unless a Transfer-Encoding line
// is given, in which case it is sent as one chunk followed by trailers.
export function request(method, path, headers, body, trailers) {
  const lines = [`${method} ${path} HTTP/1.1`];
  const has = (n) => headers.some(([k]) => k.toLowerCase() === n);
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const chunked = has("transfer-encoding");
  if (b !== undefined && !chunked && !has("content-length")) lines.push(`Content-Length: ${b.length}`);
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
  if (!chunked) return b ? Buffer.concat([head, b]) : head;
  const parts = [head];
  if (b && b.length) parts.push(Buffer.from(b.length.toString(16) + "\r\n"), b, Buffer.from("\r\n"));
  parts.push(Buffer.from("0\r\n"));
  for (const [k, v] of trailers ?? []) parts.push(Buffer.from(`${k}: ${v}\r\n`, "latin1"));
  parts.push(Buffer.from("\r\n"));
  return Buffer.concat(parts);
}

// exchange sends one request on a new connection and reads its response.
export async function exchange(port, bytes, ms = 10000) {
  const c = await RawConn.open(port);
  try {
    c.write(bytes);
    return await c.readResponse(ms);
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------- HTTP/2

// h2 sends one HTTP/2 request (prior knowledge, cleartext) and resolves to
// { status, headers, text }. body undefined: HEADERS with END_STREAM; a
// Buffer or string: HEADERS without END_STREAM, then DATA with END_STREAM
// (an empty one for ""). ms bounds the wait; a response still streaming
// then (an SSE stream) is cut and returned as it stands.
//
// trailers (an object) are sent in a HEADERS frame after the body.
export function h2(port, headers, body, ms = 5000, trailers) {
  return new Promise((resolveP) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    let status = 0;
    let resHeaders = {};
    const chunks = [];
    let done = false;
    const finish = (extra = {}) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.destroy();
      resolveP({ status, headers: resHeaders, text: Buffer.concat(chunks).toString("utf8"), ...extra });
    };
    const timer = setTimeout(() => finish({ cut: true }), ms);
    client.on("error", (e) => finish({ error: e.message }));
    const req = client.request({ ":path": "/mcp", ...headers }, { endStream: body === undefined, waitForTrailers: !!trailers });
    if (trailers) req.on("wantTrailers", () => req.sendTrailers(trailers));
    req.on("response", (h) => {
      status = h[":status"];
      resHeaders = h;
    });
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => finish());
    req.on("error", (e) => finish({ error: e.message }));
    if (body !== undefined) req.end(body);
  });
}

// ---------------------------------------------------------------- backends

async function json(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

let goBuilt;

// goBackend builds the Go SDK backend once per test process (or takes
// $GOSDK_BIN) and returns its path.
export async function goBackend(dir) {
  if (process.env.GOSDK_BIN) return resolve(process.env.GOSDK_BIN);
  goBuilt ??= (async () => {
    const out = join(dir, "gosdk");
    await promisify(execFile)("go", ["build", "-o", out, "./e2e/backends/gosdk"], { cwd: repoRoot, timeout: 300000 });
    return out;
  })();
  return goBuilt;
}

// startBackend starts one backend in stack and waits until it answers. It
// returns { name, port, recordPort, proc, record() }; record() is null for
// server-everything, which keeps none (its get-env tool returns its
// environment, SECRET included).
export async function startBackend(stack, name, secret) {
  const port = await freePort();
  const recordPort = await freePort();
  const env = { ...process.env, PORT: String(port), RECORD_PORT: String(recordPort), SECRET: secret };
  let proc;
  switch (name) {
    case "ts-v1":
    case "ts-v2":
      proc = stack.spawn(name, process.execPath, [join(backendsDir, `${name}.mjs`)], { env, cwd: e2eDir });
      break;
    case "go-sdk":
      proc = stack.spawn(name, await goBackend(stack.dir), [], { env });
      break;
    case "server-everything": {
      if (!existsSync(everythingMain)) throw new Error(`no server-everything at ${everythingMain}: run \`npm ci\` in e2e/`);
      // It binds every interface; the suite only ever talks to 127.0.0.1.
      proc = stack.spawn(name, process.execPath, [everythingMain, "streamableHttp"], {
        env: { ...process.env, PORT: String(port), DIFF_SECRET: secret },
      });
      await stack.waitFor(`${name} to listen`, async () => (await post(`http://127.0.0.1:${port}/mcp`, ping)).status === 400);
      return { name, port, recordPort: null, proc, record: null };
    }
    default:
      throw new Error(`unknown backend ${name}`);
  }
  const recordURL = `http://127.0.0.1:${recordPort}/record`;
  await stack.waitFor(`${name} to listen`, async () => {
    await json(recordURL);
    const r = await post(`http://127.0.0.1:${port}/mcp`, ping);
    return r.status < 500;
  });
  return { name, port, recordPort, proc, record: () => json(recordURL) };
}

// startUpgradeProxy starts upgrade-proxy.mjs in front of upstreamPort.
export async function startUpgradeProxy(stack, upstreamPort) {
  const port = await freePort();
  const proc = stack.spawn("upgrade-proxy", process.execPath, [join(backendsDir, "upgrade-proxy.mjs")], {
    env: { ...process.env, PORT: String(port), UPSTREAM_PORT: String(upstreamPort) },
  });
  await stack.waitFor("the upgrade proxy to listen", () => proc.output.includes("upgrade proxy on"));
  return { port, proc };
}
