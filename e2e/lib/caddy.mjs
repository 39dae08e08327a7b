// The Caddy under test (built from this repository, with mcp_auth) and its
// Caddyfile.

import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

import { post, ping } from "./mcp.mjs";
import { e2eDir } from "./procs.mjs";

// The Caddy binary: $CADDY_BIN, or bin/caddy of this repository
// (`go build -o bin/caddy ./cmd/caddy` at the repository root).
export const caddyBin = process.env.CADDY_BIN
  ? resolve(process.env.CADDY_BIN)
  : resolve(e2eDir, "..", "bin", "caddy");

// The global options every test Caddyfile starts with: no admin endpoint,
// nothing persisted.
export const globalOptions = `{
	admin off
	persist_config off
}
`;

// startCaddy writes config (a whole Caddyfile) into stack's directory, runs
// Caddy with it and waits until every URL of ready answers a token-less
// ping with 401: Caddy is up with mcp_auth in front of it. It returns the
// Proc.
export async function startCaddy(stack, config, ready) {
  if (!existsSync(caddyBin)) {
    throw new Error(`no Caddy at ${caddyBin}: run \`go build -o bin/caddy ./cmd/caddy\` at the repository root, or set CADDY_BIN`);
  }
  const file = join(stack.dir, "Caddyfile");
  await writeFile(file, config);
  const proc = stack.spawn("caddy", caddyBin, ["run", "--config", file, "--adapter", "caddyfile"], {
    // Keep Caddy's storage and config out of the user's home.
    env: { ...process.env, XDG_DATA_HOME: join(stack.dir, "data"), XDG_CONFIG_HOME: join(stack.dir, "config") },
  });
  await stack.waitFor("Caddy to listen", async () => {
    for (const url of ready) {
      if ((await post(url, ping)).status !== 401) return false;
    }
    return true;
  });
  return proc;
}
