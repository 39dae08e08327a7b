// A tiny TCP proxy that accepts protocol upgrades, in front of an MCP
// backend: what makes the Upgrade attack real. It reads the head of the
// first request of each connection; one with an Upgrade header (a POST's
// body is read and dropped first), or a GET with X-Force-101 (to play an
// upstream that switches protocols unasked), is answered "101 Switching
// Protocols" and the connection becomes a raw
// tunnel to the backend, in which the client speaks plain HTTP/1.1 to it:
// nothing in the tunnel is seen by a gateway in front. Every other
// connection is passed to the backend byte for byte.
//
// Environment: PORT (listen, 127.0.0.1), UPSTREAM_PORT (the backend, 127.0.0.1).

import { connect, createServer } from "node:net";

const port = Number(process.env.PORT);
const upstreamPort = Number(process.env.UPSTREAM_PORT);
if (!port || !upstreamPort) throw new Error("PORT and UPSTREAM_PORT must be set");

const maxHead = 64 * 1024;

function pipeTo(client, first) {
  const up = connect(upstreamPort, "127.0.0.1");
  up.on("error", () => client.destroy());
  client.on("error", () => up.destroy());
  up.write(first);
  client.pipe(up);
  up.pipe(client);
}

createServer((client) => {
  let buf = Buffer.alloc(0);
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) {
      if (buf.length > maxHead) client.destroy();
      return;
    }
    const head = buf.subarray(0, end).toString("latin1");
    let rest = buf.subarray(end + 4);
    const [requestLine, ...lines] = head.split("\r\n");
    const headers = new Map(lines.map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
    }));
    const upgrade = headers.has("upgrade") || (requestLine.startsWith("GET ") && headers.has("x-force-101"));
    // An upgrading request with a body (a POST): the body is read and
    // dropped before the switch.
    const length = upgrade ? Number(headers.get("content-length") ?? 0) : 0;
    if (rest.length < length) return;
    rest = rest.subarray(length);
    client.off("data", onData);
    client.pause();
    if (upgrade) {
      const proto = headers.get("upgrade") || "mcp-tunnel";
      console.log(`tunnel: ${requestLine} (Upgrade: ${proto})`);
      client.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${proto}\r\n\r\n`);
      pipeTo(client, rest);
    } else {
      pipeTo(client, buf);
    }
    client.resume();
  };
  client.on("data", onData);
  client.on("error", () => {});
}).listen(port, "127.0.0.1", () => console.log(`upgrade proxy on 127.0.0.1:${port} -> ${upstreamPort}`));
