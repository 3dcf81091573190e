#!/usr/bin/env bash
# bench/torznab.sh - Torznab t=search and RSS-mode throughput at 100k
# torrents (bench/api_search_data.sql), next to the JSON API's
# /torrents/search for the same query, page size and order, and the Atom
# feed /api/rss/latest.
#
#   bench/torznab.sh [seconds=10] [connections=64] [runs=1]
#
# Same throwaway PostgreSQL and data as bench/api_search.sh (build/
# bench-pg-search; generated once, FRESH_DATA=1 rebuilds it) on
# BENCH_PG_PORT (default 15449), the bench nginx (bench/nginx.sh, 2
# workers, BENCH_POOL connections per worker, default 8) on BENCH_PORT
# (19528).  Every search runs with the same API key (Torznab's apikey=,
# the JSON API's Bearer) and the same order ("rss": newest first), 50 per
# page; wrk checks every answer (200, with results).  Prints each pair's
# requests per second and the Torznab/JSON ratio.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-19528}
pgdir=$top/build/bench-pg-search pgport=${BENCH_PG_PORT:-15449}
secs=${1:-10} conns=${2:-64} runs=${3:-1}
prefix=$top/build/bench-nginx-torznab
threads=2
key=bench-torznab-key

command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
make -s -C "$top" all >/dev/null
"$top/sql/pg.sh" start "$pgdir" "$pgport" >/dev/null
db=$("$top/sql/pg.sh" conninfo "$pgdir" "$pgport")

trap '"$top/bench/nginx.sh" stop "$prefix"; "$top/sql/pg.sh" stop "$pgdir" >/dev/null' EXIT

have=$(psql "$db" -X -At -c "SELECT count(*) FROM torrents")
if [ "${FRESH_DATA:-0}" = 1 ] || [ "$have" != 100000 ]; then
    echo "generating 100k torrents (about two minutes)..."
    psql "$db" -X -q -v ON_ERROR_STOP=1 -f "$top/bench/api_search_data.sql"
fi

# the caller: user 1 with a known key (the data has no keys)
psql "$db" -X -q -v ON_ERROR_STOP=1 -c "
    DELETE FROM api_keys WHERE key_hash = encode(sha256('$key'), 'hex');
    INSERT INTO api_keys (user_id, key_hash)
    SELECT min(id), encode(sha256('$key'), 'hex') FROM users;"

BENCH_DB="$db" BENCH_POOL=${BENCH_POOL:-8} BENCH_PRIVATE=0 \
    "$top/bench/nginx.sh" start "$prefix" "$port" 64m

base=http://127.0.0.1:$port
# name | path | Bearer key | what every answer contains
cases=(
    "json search|/api/v1/torrents/search?query=dragon&sort_by=rss&limit=50|$key|\"results\""
    "torznab search|/api/torznab/api?t=search&q=dragon&limit=50&apikey=$key||<item>"
    "json rss mode|/api/v1/torrents/search?sort_by=rss&limit=50|$key|\"results\""
    "torznab rss mode|/api/torznab/api?t=search&limit=50&apikey=$key||<item>"
    "atom latest|/api/rss/latest?limit=50||<entry>"
)

declare -A rps
for r in $(seq "$runs"); do
    for c in "${cases[@]}"; do
        IFS='|' read -r name path auth expect <<< "$c"
        # warm up, and fail early on a bad answer
        body=$(curl -fsS ${auth:+-H "Authorization: Bearer $auth"} \
                    "$base$path")
        grep -qF "$expect" <<< "$body" \
            || { echo "bad answer from $path" >&2; exit 1; }
        line=$(BENCH_AUTH=$auth BENCH_EXPECT=$expect \
               wrk -t$threads -c"$conns" -d"${secs}s" --latency \
                   -s "$top/bench/torznab.lua" "$base$path" | grep '^RESULT')
        echo "run $r $name: $line"
        rps[$name]=$(sed 's/.*rps=\([0-9]*\).*/\1/' <<< "$line")
    done
    for p in search "rss mode"; do
        awk -v t="${rps[torznab $p]}" -v j="${rps[json $p]}" -v n="$p" \
            -v r="$r" 'BEGIN { printf "run %s ratio torznab/json %s: %.2f\n",
                               r, n, (j > 0 ? t / j : 0) }'
    done
done | tee "$prefix-runs.txt"
