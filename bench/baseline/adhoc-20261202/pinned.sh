#!/usr/bin/env bash
# Ad hoc (2026-12-02, not part of bench/run): plain reverse_proxy vs mcp_auth (static token, cached
# ES256 JWT) with the Caddy processes pinned to CPU 1 and the backend + wrk pinned to CPU 0, to see
# whether pinning lets the CPU µs/req column resolve a few µs (it did not). The working files go to $W
# (default /tmp/bench/pin). Output: one line per measurement (round, config, script, requests/s,
# CPU µs/req of that Caddy) on stdout, after three lines of curl status checks.
set -euo pipefail
W=${W:-/tmp/bench/pin}; mkdir -p "$W"
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
CADDY=${CADDY:?CADDY=<a caddy with mcp_auth>}
ROUNDS=${ROUNDS:-6}
DUR=${DUR:-6}
TOKEN="mcp_bench_7f3a9c1e5b2d4f608a1c3e5f7b9d0a2c"
export XDG_CONFIG_HOME=$W/xdg XDG_DATA_HOME=$W/xdg
go build -o $W/backend ./bench/backend
go build -o $W/jwtgen ./bench/jwtgen
mkdir -p $W/jwt && $W/jwtgen -dir $W/jwt -iss https://auth.bench.invalid -aud https://mcp.bench.invalid/mcp -scope mcp:call -n 1
head='{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo","note":"'
tail='"}}}'
padn=$((1024 - ${#head} - ${#tail}))
body="$head$(printf '%*s' "$padn" '' | tr ' ' x)$tail"
lua() { { printf 'wrk.method = "%s"\nwrk.path = "/mcp"\n' "$2"; printf 'wrk.headers["Accept"] = "application/json, text/event-stream"\nwrk.headers["MCP-Protocol-Version"] = "2025-11-25"\n'
  printf 'wrk.headers["Authorization"] = "%s"\n' "$3"
  if [ "$2" = POST ]; then printf 'wrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[%s]==]\n' "$body"; fi; } >$W/$1.lua; }
lua get GET "Bearer $TOKEN"; lua post POST "Bearer $TOKEN"; lua postjwt POST "Bearer $(cat $W/jwt/es256.jwt)"
g='{
admin off
auto_https off
persist_config off
skip_install_trust
}'
printf '%s\nhttp://127.0.0.1:18401 {\n\treverse_proxy 127.0.0.1:18400\n}\n' "$g" >$W/Caddyfile.plain
printf '%s\nhttp://127.0.0.1:18402 {\n\tmcp_auth {\n\t\ttoken bench %s caller\n\t\trole caller {\n\t\t\tallow tools/call get_*\n\t\t\tallow tools/list\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:18400\n}\n' "$g" "$TOKEN" >$W/Caddyfile.mcp
printf '%s\nhttp://127.0.0.1:18403 {\n\tmcp_auth {\n\t\tjwt {\n\t\t\tissuer https://auth.bench.invalid\n\t\t\tjwks_file %s\n\t\t\taudience https://mcp.bench.invalid/mcp\n\t\t\talgorithms ES256\n\t\t\tscope_role mcp:call caller\n\t\t}\n\t\trole caller {\n\t\t\tallow tools/call get_*\n\t\t\tallow tools/list\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:18400\n}\n' "$g" "$W/jwt/jwks.json" >$W/Caddyfile.jwt
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
taskset -c 0 $W/backend -addr 127.0.0.1:18400 2>$W/backend.log & pids+=($!)
declare -A pid port
for c in plain mcp jwt; do taskset -c 1 $CADDY run --config $W/Caddyfile.$c --adapter caddyfile >$W/caddy.$c.log 2>&1 & pids+=($!); pid[$c]=$!; done
port[plain]=18401; port[mcp]=18402; port[jwt]=18403
sleep 2
for c in plain mcp jwt; do curl -s -o /dev/null -w "$c %{http_code}\n" -H "Authorization: Bearer $TOKEN" -H 'Accept: application/json, text/event-stream' http://127.0.0.1:${port[$c]}/mcp || true; done
ticks() { sed 's/^.*) //' /proc/$1/stat | awk '{ print $12 + $13 }'; }
one() { # cfg script
  local t0 t1 rps n
  t0=$(ticks ${pid[$1]})
  taskset -c 0 timeout 60 wrk -t1 -c32 -d${DUR}s -s $W/$2.lua http://127.0.0.1:${port[$1]}/mcp >$W/wrk.out 2>&1
  t1=$(ticks ${pid[$1]})
  rps=$(awk '/Requests\/sec:/ {print $2}' $W/wrk.out)
  n=$(awk '/requests in/ {print $1}' $W/wrk.out)
  grep -q 'Non-2xx' $W/wrk.out && echo "NON-2xx in $1 $2" >&2
  awk -v a=$t0 -v b=$t1 -v n=$n -v r=$rps -v c=$1 -v s=$2 'BEGIN{ printf "%s\t%s\t%.0f\t%.2f\n", c, s, r, (b-a)*10000/n }'
}
for c in plain mcp jwt; do one $c get >/dev/null; one $c post >/dev/null; done  # warm-up
for ((r=1; r<=ROUNDS; r++)); do
  if ((r % 2)); then
    one plain get; one mcp get; one mcp post; one plain post; one plain post; one jwt postjwt
  else
    one jwt postjwt; one plain post; one plain post; one mcp post; one mcp get; one plain get
  fi | sed "s/^/$r\t/"
done
