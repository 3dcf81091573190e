#!/usr/bin/env bash
# bench/announce.sh - ngx_tracker's announce throughput, side by side with
# opentracker, the npm bittorrent-tracker and an nginx `return 200` ceiling,
# using the shared harness (../shared/bench: wrk + announce.lua, every reply
# checked).  Starts its own nginx with the module on BENCH_PORT (18181),
# 2 workers, open mode.
#
#   bench/announce.sh [seconds=10] [connections=64] [runs=3]
#   ONLY_OURS=1 bench/announce.sh 10 64     # just ngx_tracker, no references
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
harness=${HARNESS:-$top/../shared/bench}
port=${BENCH_PORT:-18181}
secs=${1:-10} conns=${2:-64} runs=${3:-3}
prefix=$top/build/bench-nginx

[ -x "$harness/compare.sh" ] || { echo "no harness at $harness" >&2; exit 1; }
make -s -C "$top" all >/dev/null

"$top/bench/nginx.sh" start "$prefix" "$port" 256m
trap '"$top/bench/nginx.sh" stop "$prefix"' EXIT

url=http://127.0.0.1:$port/announce
if [ "${ONLY_OURS:-0}" = 1 ]; then
    for r in $(seq "$runs"); do
        "$harness/announce-bench.sh" "$url" "$secs" "$conns" | grep '^RESULT'
    done
else
    EXTRA="ngx_tracker=$url" "$harness/compare.sh" "$secs" "$conns" "$runs"
fi
