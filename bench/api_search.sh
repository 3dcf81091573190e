#!/usr/bin/env bash
# bench/api_search.sh - GET /api/v1/torrents/search (and, with
# ENDPOINT=torrent, GET /api/v1/torrents/<random id>) throughput and p99 at
# 100k torrents (10k media, 1k groups, 5k users: bench/api_search_data.sql),
# next to pgbench running the same SQL function at the same concurrency.
#
#   bench/api_search.sh [seconds=10] [connections=64] [runs=3]
#   ENDPOINT=torrent bench/api_search.sh 10 64 3
#
# Starts a throwaway PostgreSQL (build/bench-pg-search, BENCH_PG_PORT,
# default 15439; the data is generated once, FRESH_DATA=1 rebuilds it) and
# the bench nginx (bench/nginx.sh, 2 workers, BENCH_POOL connections per
# worker, default 8) on BENCH_PORT (19518).  The load cycles through five
# searches: the default listing, one word, two words sorted by seeders, a
# media filter, and a codec hint.  wrk checks every answer (200 with
# results); pgbench runs the SQL the module sends for the same five, with
# as many clients as wrk has connections and with as many as nginx's pools
# have database sessions.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-19518}
pgdir=$top/build/bench-pg-search pgport=${BENCH_PG_PORT:-15439}
secs=${1:-10} conns=${2:-64} runs=${3:-3}
prefix=$top/build/bench-nginx-search
threads=2

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

pool=$((2 * ${BENCH_POOL:-8}))     # 2 workers
BENCH_DB="$db" BENCH_POOL=${BENCH_POOL:-8} BENCH_PRIVATE=0 \
    "$top/bench/nginx.sh" start "$prefix" "$port" 64m

# the searches, as URLs and as the arguments the module passes to SQL
defaults='"limit":50,"offset":0,"sort_by":"best","category":0,'
defaults+='"episode_match_any":false,"group_primary":true,'
defaults+='"group_secondary":false,"group_childs":true,"group_parents":false,'
defaults+='"uploader_uploads":true,"uploader_contributions":false'
paths=(
    "/api/v1/torrents/search"
    "/api/v1/torrents/search?query=dragon"
    "/api/v1/torrents/search?query=star%20garden&sort_by=seeders"
    "/api/v1/torrents/search?media_id=s77"
    "/api/v1/torrents/search?query=hevc&sort_by=latest"
)
args=(
    "{$defaults}"
    "{\"query\":\"dragon\",$defaults}"
    "{\"query\":\"star garden\",${defaults/\"best\"/\"seeders\"}}"
    "{\"media_id\":\"s77\",$defaults}"
    "{\"query\":\"hevc\",${defaults/\"best\"/\"latest\"}}"
)

scripts=()
if [ "${ENDPOINT:-search}" = torrent ]; then
    # one random torrent of the 100k per request (ids 1..100000)
    paths=("/api/v1/torrents/{id}")
    f=$prefix/pgbench-torrent.sql
    printf '%s\n' '\set i random(1, 100000)' \
        "SELECT status, content_type, disposition, body FROM" \
        "api_torrent(NULL, jsonb_build_object('id', :i::text));" > "$f"
    scripts=(-f "$f")
    export ID_MAX=100000 CHECK='"infohash"'
else
for i in "${!args[@]}"; do
    f=$prefix/pgbench-$i.sql
    # a space after each colon: pgbench would take ":name" for a variable
    echo "SELECT status, content_type, disposition, body FROM" \
         "api_torrents_search(NULL, '${args[$i]//\":/\": }');" > "$f"
    scripts+=(-f "$f")
done
fi

base=http://127.0.0.1:$port
for p in "${paths[@]}"; do      # warm up, and fail early on a bad answer
    curl -fsS "$base${p/\{id\}/1}" | grep -Eq "${CHECK:-\"results\" ?: ?\[}" \
        || { echo "bad answer from $p" >&2; exit 1; }
done

for r in $(seq "$runs"); do
    line=$(SEARCH_PATHS=$(IFS='|'; echo "${paths[*]}") \
           wrk -t$threads -c"$conns" -d"${secs}s" --latency \
               -s "$top/bench/api_search.lua" "$base/" | grep '^RESULT')
    echo "run $r nginx:   $line"
    # at the same concurrency, and with as many sessions as nginx's pools
    for c in "$conns" "$pool"; do
        out=$prefix/pgbench-run-$r-$c.txt
        pgbench -n -M extended -c "$c" -j $threads -T "$secs" \
                "${scripts[@]}" "$db" > "$out" 2>&1 || true
        tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out")
        lat=$(sed -n 's/^latency average = \([0-9.]*\).*/\1/p' "$out")
        if [ -n "$tps" ]; then
            echo "run $r pgbench -c $c: tps=$tps latency_avg_ms=$lat"
        else
            echo "run $r pgbench -c $c: failed: $(grep -m1 error "$out")"
        fi
    done
done | tee "$prefix/runs.txt"
