#!/usr/bin/env bash
# bench/limit.sh - announce throughput with the rate limiter on and off,
# same nginx (2 workers, open mode), same load (../shared/bench
# announce-bench.sh: wrk + announce.lua, every reply checked).  Runs
# alternate off/on so that drift of a shared machine hits both alike;
# prints each run and the ratio of the medians (bar: 0.95).
#
#   bench/limit.sh [seconds=10] [connections=64] [runs=3]
#   LIMIT_KEY='$binary_remote_addr' bench/limit.sh   # one key: worst case
#                                                    # for the zone's lock
#
# The limited location keys the bucket by peer_id: each simulated peer is
# one key, and at 1r/m every key stays in the zone (its TAT is in the
# future), so the tree holds all 20000+ keys: lookups, inserts and LRU
# moves as in production, in a larger tree than production's (where most
# keys have gone stale between announces).  The burst is so large that
# none is refused (a refusal would count as an error).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
harness=${HARNESS:-$top/../shared/bench}
port=${BENCH_PORT:-18182}
secs=${1:-10} conns=${2:-64} runs=${3:-3}
prefix=$top/build/bench-limit
key=${LIMIT_KEY:-'$arg_peer_id'}

[ -x "$harness/announce-bench.sh" ] || { echo "no harness at $harness" >&2; exit 1; }
make -s -C "$top" all >/dev/null
trap '"$top/bench/nginx.sh" stop "$prefix"' EXIT

run() { # off|on -> rps
    if [ "$1" = on ]; then
        export BENCH_HTTP_EXTRA="tracker_limit_zone lim:64m ban_after=20;"
        export BENCH_ANNOUNCE_EXTRA="tracker_limit zone=lim bucket=announce key=$key rate=1r/m burst=1000000;"
    else
        unset BENCH_HTTP_EXTRA BENCH_ANNOUNCE_EXTRA
    fi
    "$top/bench/nginx.sh" start "$prefix" "$port" 256m
    line=$("$harness/announce-bench.sh" "http://127.0.0.1:$port/announce" \
               "$secs" "$conns" | grep '^RESULT')
    echo "$line" >&2
    # proof that the limiter ran: its keys and counters
    [ "$1" = off ] || curl -s "http://127.0.0.1:$port/status" \
        | grep -o '"buckets":{[^]]*' >&2
    "$top/bench/nginx.sh" stop "$prefix" 2>/dev/null
    sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<< "$line"
}

off=() on=()
for r in $(seq "$runs"); do
    echo "== run $r: limiter off" >&2; off+=("$(run off)")
    echo "== run $r: limiter on (key=$key)" >&2; on+=("$(run on)")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
moff=$(median "${off[@]}") mon=$(median "${on[@]}")
echo "limiter off: ${off[*]} rps (median $moff)"
echo "limiter on:  ${on[*]} rps (median $mon)"
awk -v a="$mon" -v b="$moff" 'BEGIN { printf "ratio on/off: %.3f (bar 0.95)\n", a / b }'
