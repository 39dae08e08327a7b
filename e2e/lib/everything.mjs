// server-everything (@modelcontextprotocol/server-everything 2026.8.31), the
// MCP reference server, over Streamable HTTP.
//
// Names the tests rely on:
//   tools      echo {message} -> "Echo: <message>"; get-sum {a,b} -> "The sum
//              of a and b is a+b."; get-env (dumps the server's environment);
//              get-tiny-image; trigger-long-running-operation {duration s,
//              steps} sends notifications/progress per step when the request
//              has a progress token, then returns.
//   resources  demo://resource/static/document/<file> (files of its docs/,
//              e.g. features.md); demo://resource/dynamic/text/{id} (template).
//   prompts    simple-prompt (no arguments); args-prompt {city, state?}.

import { existsSync } from "node:fs";
import { join } from "node:path";

import { post, ping } from "./mcp.mjs";
import { e2eDir, freePort } from "./procs.mjs";

export const everythingMain = join(
  e2eDir,
  "node_modules",
  "@modelcontextprotocol",
  "server-everything",
  "dist",
  "index.js",
);

// startEverything starts server-everything in stack on a free port and waits
// until it answers. It returns { port, url, proc }; url is its /mcp endpoint.
export async function startEverything(stack) {
  if (!existsSync(everythingMain)) {
    throw new Error(`no server-everything at ${everythingMain}: run \`npm ci\` in e2e/`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  // server-everything listens on PORT (all interfaces) and serves /mcp.
  const proc = stack.spawn("server-everything", process.execPath, [everythingMain, "streamableHttp"], {
    env: { ...process.env, PORT: String(port) },
  });
  // Without a session it answers 400: it is up.
  await stack.waitFor("server-everything to listen", async () => (await post(url, ping)).status === 400);
  return { port, url, proc };
}
