// The static-token stack most test files use: server-everything (see
// everything.mjs for the names) behind a Caddy whose mcp_auth knows two
// bearer tokens, admin and reader, with the roles below.

import { globalOptions, startCaddy } from "./caddy.mjs";
import { startEverything } from "./everything.mjs";
import { freePort, Stack } from "./procs.mjs";

export const tokens = {
  admin: "e2e-admin-token",
  reader: "e2e-reader-token",
};

// The roles under test. get-env is the tool both roles are denied.
// logging/setLevel is allowed to the reader because the Inspector CLI sets
// the log level right after connecting and gives up when refused.
// extra is inserted into the mcp_auth block (e.g. "hide_denied typescript").
export function caddyfile(port, upstreamPort, extra = "") {
  return `${globalOptions}
http://127.0.0.1:${port} {
	bind 127.0.0.1
	mcp_auth {
		token admin-user ${tokens.admin} admin
		token reader-user ${tokens.reader} reader
		role admin {
			allow *
			deny tools/call get-env
		}
		role reader {
			allow tools/list
			allow tools/call echo get-sum trigger-long-running-operation
			allow resources/list
			allow resources/read demo://resource/static/*
			allow prompts/list
			allow prompts/get simple-prompt
			allow logging/setLevel
		}
		${extra}
	}
	reverse_proxy 127.0.0.1:${upstreamPort}
}
`;
}

// startStack starts server-everything and Caddy in front of it. It returns
// { url, upstreamUrl, stop(), procs }: url is Caddy's MCP endpoint,
// upstreamUrl server-everything's own.
export async function startStack({ extra = "" } = {}) {
  const stack = await Stack.create("mcp-auth-e2e-");
  return stack.build(async () => {
    const upstream = await startEverything(stack);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    await startCaddy(stack, caddyfile(port, upstream.port, extra), [url]);
    return { url, upstreamUrl: upstream.url, stop: () => stack.stop(), procs: stack.procs };
  });
}
