#!/usr/bin/env bash
# Ad-hoc: CPU profiles of a live Caddy (plain, mcp_auth static token, mcp_auth JWT) under wrk, not pinned.
# Needs pinned.sh to have run first with the same $W (it builds the backend, the JWT and the Caddyfiles).
# Writes $W/${TAG}cpu.<config>.<script>.pprof; read with go tool pprof -top -cum <caddy binary> <file>.
set -euo pipefail
W=${W:-/tmp/bench/pin}; mkdir -p "$W"
CADDY=${CADDY:?CADDY=<a caddy with mcp_auth>}
export XDG_CONFIG_HOME=$W/xdg XDG_DATA_HOME=$W/xdg
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
$W/backend -addr 127.0.0.1:18400 2>$W/backend.log & pids+=($!)
i=0
for c in plain mcp jwt; do
  i=$((i+1))
  sed "s/^admin off/admin 127.0.0.1:1841$i/" $W/Caddyfile.$c > $W/Caddyfile.$c.admin
  $CADDY run --config $W/Caddyfile.$c.admin --adapter caddyfile >$W/caddy.$c.prof.log 2>&1 & pids+=($!)
done
sleep 2
prof() { # cfg port adminport script
  timeout 60 wrk -t1 -c32 -d12s -s $W/$4.lua http://127.0.0.1:$2/mcp > $W/${TAG:-}wrk.$1.$4.prof.txt 2>&1 &
  local wp=$!
  sleep 2
  curl -s -o $W/${TAG:-}cpu.$1.$4.pprof "http://127.0.0.1:$3/debug/pprof/profile?seconds=8"
  wait $wp
  grep -E 'Requests/sec|Non-2xx' $W/${TAG:-}wrk.$1.$4.prof.txt | sed "s/^/$1 $4: /"
}
prof plain 18401 18411 post
prof mcp 18402 18412 post
prof jwt 18403 18413 postjwt
prof plain 18401 18411 get
prof mcp 18402 18412 get
