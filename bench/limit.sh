#!/usr/bin/env bash
# bench/limit.sh - announce throughput with the rate limiter on and off,
# same nginx (2 workers, open mode), same load (../shared/bench
# announce-bench.sh: wrk + announce.lua, every reply checked).  Runs
# alternate off/on so that drift of a shared machine hits both alike.
#
#   bench/limit.sh [seconds=10] [connections=64] [runs=3]
#   LIMIT_KEY='$binary_remote_addr' bench/limit.sh   # one key: every request
#                                                    # on the same record
#   PAIRED=1 bench/limit.sh 10 64 5   # both at once, see below
#   LIMIT_HTTP_EXTRA='tracker_ban 192.0.2.0/24; tracker_ban 198.51.100.7;' \
#       bench/limit.sh                # with bans to look up on every request
#
# PAIRED=1: two nginx instances of one worker each, limiter off and on,
# loaded at the same time by two harness runs (half the connections each),
# so that whatever else the machine does hits both alike; the figure is
# the median of the per-pair ratios.  For shared, busy machines.  The two
# swap ports and start order every pair (use an even number of pairs, or
# an odd one large enough for one pair not to matter).
#
# Two figures per run: requests per second (wrk), and the nginx workers'
# CPU time per announce (utime + stime from /proc over the whole run,
# divided by the announces the status page counted).  On a machine shared
# with other work the second is the steadier one: others' load changes how
# much CPU nginx gets, not how much an announce costs.  The ratios printed
# at the end are on/off of the median rps and off/on of the median CPU
# cost (bar: 0.95 for both).
#
# The zone is 8m (LIMIT_ZONE), sized like a deployment would size it for
# the ~20k keys of the run (room for ~60k); a much larger zone spreads the
# same keys over more pages and costs more TLB and cache misses.
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
hz=$(getconf CLK_TCK)

[ -x "$harness/announce-bench.sh" ] || { echo "no harness at $harness" >&2; exit 1; }
make -s -C "$top" all >/dev/null
trap '"$top/bench/nginx.sh" stop "$prefix" 2>/dev/null' EXIT

worker_ticks() { # utime + stime of the workers of the bench nginx
    local master t=0 pid
    master=$(cat "$prefix/logs/nginx.pid")
    for pid in $(pgrep -P "$master"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$t"
}

announces() {
    # the swarm's count, the first one (the UDP section has its own)
    curl -s "http://127.0.0.1:$port/status" \
        | grep -o '"announces":[0-9]*' | head -1 | cut -d: -f2
}

run() { # off|on -> "rps cpu_us_per_announce"
    local line t0 t1 a0 a1
    if [ "$1" = on ]; then
        limit_conf
    else
        unset BENCH_HTTP_EXTRA BENCH_ANNOUNCE_EXTRA
    fi
    "$top/bench/nginx.sh" start "$prefix" "$port" 256m
    t0=$(worker_ticks) a0=$(announces)
    line=$("$harness/announce-bench.sh" "http://127.0.0.1:$port/announce" \
               "$secs" "$conns" | grep '^RESULT')
    t1=$(worker_ticks) a1=$(announces)
    echo "$line" >&2
    # proof that the limiter ran: its keys and counters
    [ "$1" = off ] || curl -s "http://127.0.0.1:$port/status" \
        | grep -o '"buckets":{[^]]*' >&2
    "$top/bench/nginx.sh" stop "$prefix" 2>/dev/null
    awk -v l="$line" -v t="$((t1 - t0))" -v a="$((a1 - a0))" -v hz="$hz" \
        'BEGIN { match(l, /rps=[0-9.]+/); printf "%s %.2f\n",
                 substr(l, RSTART + 4, RLENGTH - 4), t * 1e6 / hz / a }'
}

limit_conf() { # the limiter directives, through nginx.sh's environment
    export BENCH_HTTP_EXTRA="tracker_limit_zone lim:${LIMIT_ZONE:-8m} ban_after=20; ${LIMIT_HTTP_EXTRA:-}"
    export BENCH_ANNOUNCE_EXTRA="tracker_limit zone=lim bucket=announce key=$key rate=1r/m burst=1000000;"
}

if [ "${PAIRED:-0}" = 1 ]; then
    half=$((conns / 2)) ratios=()
    trap '"$top/bench/nginx.sh" stop "$prefix-off" 2>/dev/null;
          "$top/bench/nginx.sh" stop "$prefix-on" 2>/dev/null' EXIT
    declare -A at
    for r in $(seq "$runs"); do
        # the two places (port, load started first) are not alike: an
        # A/A pair measured a few % between them, so they swap every pair
        if [ $((r % 2)) = 1 ]; then first=off second=on; else first=on second=off; fi
        at[$first]=$port at[$second]=$((port + 1))
        unset BENCH_HTTP_EXTRA BENCH_ANNOUNCE_EXTRA
        BENCH_WORKERS=1 "$top/bench/nginx.sh" start "$prefix-off" "${at[off]}" 256m
        limit_conf
        BENCH_WORKERS=1 "$top/bench/nginx.sh" start "$prefix-on" "${at[on]}" 256m
        "$harness/announce-bench.sh" "http://127.0.0.1:${at[$first]}/announce" "$secs" "$half" \
            > "$prefix-$first.out" 2>&1 &
        "$harness/announce-bench.sh" "http://127.0.0.1:${at[$second]}/announce" "$secs" "$half" \
            > "$prefix-$second.out" 2>&1
        wait
        off=$(sed -n 's/^RESULT rps=\([0-9.]*\).*errors=0 .*/\1/p' "$prefix-off.out")
        on=$(sed -n 's/^RESULT rps=\([0-9.]*\).*errors=0 .*/\1/p' "$prefix-on.out")
        [ -n "$off" ] && [ -n "$on" ] || { cat "$prefix-off.out" "$prefix-on.out" >&2; exit 1; }
        curl -s "http://127.0.0.1:${at[on]}/status" | grep -o '"buckets":{[^]]*' >&2
        "$top/bench/nginx.sh" stop "$prefix-off" 2>/dev/null
        "$top/bench/nginx.sh" stop "$prefix-on" 2>/dev/null
        ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')")
        echo "== pair $r: off $off rps, on $on rps, on/off ${ratios[-1]}" >&2
    done
    printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {
        printf "paired throughput on/off: median %.3f of %d pairs (bar 0.95)\n",
               (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2, NR }'
    exit 0
fi

off_rps=() on_rps=() off_cpu=() on_cpu=()
for r in $(seq "$runs"); do
    echo "== run $r: limiter off" >&2
    read -r rps cpu <<< "$(run off)"; off_rps+=("$rps") off_cpu+=("$cpu")
    echo "   cpu per announce: $cpu us" >&2
    echo "== run $r: limiter on (key=$key)" >&2
    read -r rps cpu <<< "$(run on)"; on_rps+=("$rps") on_cpu+=("$cpu")
    echo "   cpu per announce: $cpu us" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mro=$(median "${off_rps[@]}") mrn=$(median "${on_rps[@]}")
mco=$(median "${off_cpu[@]}") mcn=$(median "${on_cpu[@]}")
echo "limiter off: rps ${off_rps[*]} (median $mro); cpu us/announce ${off_cpu[*]} (median $mco)"
echo "limiter on:  rps ${on_rps[*]} (median $mrn); cpu us/announce ${on_cpu[*]} (median $mcn)"
awk -v a="$mrn" -v b="$mro" -v c="$mco" -v d="$mcn" 'BEGIN {
    printf "throughput on/off: %.3f   cpu cost off/on: %.3f   (bar 0.95)\n", a / b, c / d }'
