// The MCP Inspector's CLI through Caddy, invoked as scripts/demo tells users
// to: --cli <url> --transport http --header "Authorization: Bearer …".
//
// inspector-cli 1.0.3 imports its package.json from a path it checks
// against the working directory (../package.json); it only works when the
// parent of the working directory has a package.json. So it runs here with
// cwd e2e/test, as the demo's instructions say.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";

import { e2eDir } from "../lib/procs.mjs";
import { startStack, tokens } from "../lib/tokens.mjs";

const run = promisify(execFile);
const cli = join(e2eDir, "node_modules", "@modelcontextprotocol", "inspector-cli", "build", "cli.js");

function inspector(url, token, ...args) {
  return run(
    process.execPath,
    [cli, "--cli", url, "--transport", "http", "--header", `Authorization: Bearer ${token}`, ...args],
    { cwd: join(e2eDir, "test"), timeout: 30000 },
  );
}

describe("inspector-cli", () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test("tools/list as the reader", async () => {
    const { stdout } = await inspector(stack.url, tokens.reader, "--method", "tools/list");
    const names = JSON.parse(stdout).tools.map((t) => t.name);
    assert.ok(names.includes("echo"), names.join(", "));
  });

  test("tools/call: allowed and denied", async () => {
    const ok = await inspector(stack.url, tokens.reader, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=hi");
    assert.equal(JSON.parse(ok.stdout).content[0].text, "Echo: hi");

    await assert.rejects(
      inspector(stack.url, tokens.reader, "--method", "tools/call", "--tool-name", "get-env"),
      (err) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr + err.stdout, /MCP error -32030: permission denied: tools\/call "get-env"/);
        return true;
      },
    );
  });
});
