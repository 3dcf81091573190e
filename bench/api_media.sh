#!/usr/bin/env bash
# bench/api_media.sh - throughput of the media group of the JSON API
# (/stats from the answer cache, /media/<id>, /media/search) with wrk, next
# to pgbench running the same SQL statements at the same concurrency.
#
#   bench/api_media.sh [seconds=10] [connections=64]
#
# Data: 10k users, 1k groups, 10k media with 12 episodes each, 100k
# torrents (one group and one episode each), generated in a database of a
# throwaway PostgreSQL (build/bench-pg-media, BENCH_PG_PORT=15436), or in
# BENCH_DB (a conninfo) when given.  nginx: bench/nginx.sh's (2 workers,
# /api/v1/ with a 1m answer cache) on BENCH_PORT (18183).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-18183}
secs=${1:-10} conns=${2:-64}
prefix=$top/build/bench-api-media
pgdir=$top/build/bench-pg-media pgport=${BENCH_PG_PORT:-15436}

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
make -s -C "$top" all >/dev/null

cleanup() {
    "$top/bench/nginx.sh" stop "$prefix" || true
    [ -n "${BENCH_DB:-}" ] || "$top/sql/pg.sh" stop "$pgdir" >/dev/null
}

if [ -n "${BENCH_DB:-}" ]; then
    db=$BENCH_DB
else
    "$top/sql/pg.sh" start "$pgdir" "$pgport" >/dev/null
    db=$("$top/sql/pg.sh" conninfo "$pgdir" "$pgport")
fi
trap cleanup EXIT

loaded=$(psql "$db" -X -At -c "SELECT count(*) FROM torrents WHERE title LIKE 'bench-media %'")
if [ "$loaded" -lt 100000 ]; then
    echo "generating 100k torrents, 10k media, 10k users, 1k groups ..."
    psql "$db" -X -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO users (username, created_at)
    SELECT 'bench-media-' || i, now() - (i % 90) * interval '1 day'
    FROM generate_series(1, 10000) i;
INSERT INTO groups (name, display_name, tag, display_tag)
    SELECT 'bench-media-' || i, 'Group ' || i, 'bm' || i, 'BM' || i
    FROM generate_series(1, 1000) i;
INSERT INTO media (id, title, alternate_titles)
    SELECT 's' || (500000 + i),
           initcap(md5(i::text)) || ' '
           || (ARRAY['Harbor', 'Garden', 'Ferry', 'Comet', 'Orchard',
                     'Lantern'])[1 + i % 6] || ' ' || i,
           ARRAY['Alt ' || md5((i * 7)::text)]
    FROM generate_series(1, 10000) i;
INSERT INTO episodes (media_id, season, episode, title)
    SELECT 's' || (500000 + m), 1, e, 'Episode ' || e
    FROM generate_series(1, 10000) m, generate_series(1, 12) e;
INSERT INTO torrents (info_hash, title, media_id, level, fsub_lang,
                      uploaded_at, seeders, leechers, completed)
    SELECT digest('bench-media-' || i, 'sha1'), 'bench-media ' || i,
           's' || (500000 + 1 + i % 10000), i % 5, 'en',
           now() - (i % 60) * interval '1 day', i % 50, i % 7, i % 100
    FROM generate_series(1, 100000) i;
INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
    SELECT t.id, g.id, true
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM torrents
          WHERE title LIKE 'bench-media %') t
    JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM groups
          WHERE name LIKE 'bench-media-%') g ON g.n = t.n % 1000;
INSERT INTO torrent_episodes (torrent_id, episode_id)
    SELECT t.id, e.id FROM torrents t
    JOIN episodes e ON e.media_id = t.media_id
        AND e.episode = 1 + t.id % 12
    WHERE t.title LIKE 'bench-media %';
ANALYZE;
SQL
fi

BENCH_DB=$db BENCH_PRIVATE=0 BENCH_POOL=8 \
    "$top/bench/nginx.sh" start "$prefix" "$port" 16m
base=http://127.0.0.1:$port/api/v1

echo "first /stats (computed): $(curl -s -o /dev/null -w '%{time_total}' "$base/stats") s"

run() {
    local name=$1 path=$2 sql=$3 out rps
    curl -fs "$base$path" >/dev/null
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$base$path")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%-14s nginx: %10s req/s  p99 %-8s non-2xx %s\n' "$name" "$rps" \
        "$p99" "${non2xx:-0}"
    if [ -n "$sql" ]; then
        # the arguments without ':' (pgbench would take it for a variable)
        echo "$sql" > "$prefix/pgbench.sql"
        out=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" \
                  -f "$prefix/pgbench.sql" "$db" 2>&1)
        printf '%-14s pgbench: %8s tps\n' "$name" \
            "$(awk '/^tps/ {print $3; exit}' <<<"$out")"
    fi
}

run stats-cached /stats ''
run media "/media/s500077" \
    "SELECT status, content_type, disposition, body FROM api_media(NULL, jsonb_build_object('id', 's500077', 'force', false));"
run media-search "/media/search?query=lantern%201234" \
    "SELECT status, content_type, disposition, body FROM api_media_search(NULL, jsonb_build_object('query', 'lantern 1234', 'limit', 50, 'offset', 0));"
