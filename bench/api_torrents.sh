#!/usr/bin/env bash
# bench/api_torrents.sh - GET /api/v1/torrents/<id> and .../comments through
# nginx (wrk) next to the same SQL under pgbench, same concurrency.
#
#   bench/api_torrents.sh [seconds=10] [connections=64] [torrents=10000]
#
# (On a loaded 2-core machine use fewer connections, e.g. 16: the pool's
# connects and pgbench's own 64 backends compete for the same cores.)
#
# A throwaway PostgreSQL (build/bench-pg-api, port $BENCH_PG_PORT or 15435)
# with the demo data plus generated torrents (each with a group, a
# contributor, a foreign tracker, 4 comments with a reply each); an nginx
# with 2 workers and the API on port $BENCH_PORT (18182).  Each endpoint is
# asked for a random generated torrent per request (their ids are
# contiguous, so wrk's Lua and pgbench's \set draw them the same way), with
# the demo user's key.  Prints nginx's requests/s and p99, pgbench's tps and
# the ratio nginx / pgbench (the bar of issue 4 is >= 0.7).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-18182}
pgdir=$top/build/bench-pg-api pgport=${BENCH_PG_PORT:-15435}
secs=${1:-10} conns=${2:-64} n=${3:-10000}
prefix=$top/build/bench-api
nginx=${NGINX:-/usr/sbin/nginx}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
base=100000000000000000   # 1e17: api_id() takes up to 18 digits
key=86ca0245fa5dd60dc56398dfd6a5e0b21153937851a03421e4f93e02b887b236

make -s -C "$top" all >/dev/null
"$top/sql/pg.sh" start "$pgdir" "$pgport" >/dev/null
db=$("$top/sql/pg.sh" conninfo "$pgdir" "$pgport")
mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"

stop_nginx() {
    [ -f "$prefix/logs/nginx.pid" ] \
        && "$nginx" -p "$prefix/" -c conf/nginx.conf -s stop 2>/dev/null
    return 0
}
trap 'stop_nginx; "$top/sql/pg.sh" stop "$pgdir" >/dev/null' EXIT

psql "$db" -X -q -v ON_ERROR_STOP=1 -f "$top/sql/demo.sql" >/dev/null
psql "$db" -X -q -v ON_ERROR_STOP=1 <<SQL
DELETE FROM torrents WHERE title LIKE 'bench %';
INSERT INTO torrents (id, info_hash, title, uploader_id, files,
                      torrent_data)
SELECT $base + g, digest('bench' || g, 'sha1'), 'bench torrent ' || g,
       (SELECT id FROM users WHERE username = 'alice'),
       '[{"path":"dir/file.mkv","length":1000,"offset":0}]',
       convert_to('d8:announce' || length('udp://t' || g || '.example/a')
                  || ':udp://t' || g || '.example/a4:infod4:name1:xee',
                  'UTF8')
FROM generate_series(1, $n) g;
INSERT INTO torrent_groups (torrent_id, group_id, is_primary)
SELECT t.id, g.id, true FROM torrents t, groups g
WHERE t.title LIKE 'bench %' AND g.name = 'aurora-encodes';
INSERT INTO torrent_contributors (torrent_id, group_id, user_id, role, weight)
SELECT t.id, g.id, u.id, 'Encode', 1 FROM torrents t, groups g, users u
WHERE t.title LIKE 'bench %' AND g.name = 'aurora-encodes'
  AND u.username = 'admin';
INSERT INTO comments (torrent_id, user_id, text)
SELECT t.id, u.id, 'comment ' || c
FROM torrents t, users u, generate_series(1, 4) c
WHERE t.title LIKE 'bench %' AND u.username = 'carol';
INSERT INTO comments (torrent_id, user_id, parent_id, text)
SELECT c.torrent_id, c.user_id, c.id, 'reply' FROM comments c
JOIN torrents t ON t.id = c.torrent_id
WHERE t.title LIKE 'bench %' AND c.parent_id IS NULL;
ANALYZE;
SQL
keyhash=$(printf %s "$key" | sha256sum | cut -c1-64)

cat > "$prefix/conf/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module $top/build/modules/ngx_http_tracker_module.so;
worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    tracker_database "$db" pool=$(( (conns + 1) / 2 )) queue=4096
                     connect_timeout=30s;
    server {
        listen 127.0.0.1:$port backlog=4096;
        keepalive_requests 100000;
        location /api/v1/ { tracker_api; }
    }
}
CONF
stop_nginx
sleep 0.5
"$nginx" -p "$prefix/" -c conf/nginx.conf
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

# wrk: a random id per request
cat > "$prefix/ids.lua" <<LUA
wrk.headers["Cookie"] = "ssid=$key"
request = function()
    return wrk.format("GET", "/api/v1/torrents/"
                      -- $base + k as text: Lua numbers are doubles
                      .. string.format("1%017d", math.random($n))
                      .. SUFFIX)
end
LUA

for ep in torrent comments; do
    suffix='""' fn=api_torrent
    [ $ep = comments ] && suffix='"/comments"' fn=api_torrent_comments
    curl -fs -o /dev/null -b "ssid=$key" \
        "http://127.0.0.1:$port/api/v1/torrents/$((base + 1))" \
        || { echo "nginx does not answer" >&2; exit 1; }
    sed "s|SUFFIX|$suffix|" "$prefix/ids.lua" > "$prefix/$ep.lua"
    # warm-up: the pool connects, each connection plans the functions
    wrk -t2 -c"$conns" -d2s -s "$prefix/$ep.lua" "http://127.0.0.1:$port" \
        >/dev/null
    w=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$prefix/$ep.lua" \
            "http://127.0.0.1:$port")
    w_rps=$(awk '/^Requests\/sec/ {print int($2)}' <<<"$w")
    w_p99=$(awk '$1 == "99%" {print $2}' <<<"$w")
    w_err=$(awk '/Non-2xx/ {print $NF}' <<<"$w")
    cat > "$prefix/$ep.sql" <<PGB
\set i random($((base + 1)), $((base + n)))
SELECT status, content_type, disposition, body
FROM $fn('$keyhash', jsonb_build_object('id', :i::text));
PGB
    p=$("$pgbench" -n -h "$pgdir" -p "$pgport" -U postgres -M prepared \
            -c "$conns" -j 2 -T "$secs" -f "$prefix/$ep.sql" tracker 2>&1)
    p_tps=$(awk '/^tps/ {print int($3)}' <<<"$p")
    [ -n "$p_tps" ] || { echo "pgbench failed: $p" >&2; exit 1; }
    p_lat=$(awk '/^latency average/ {print $4 $5}' <<<"$p")
    echo "$ep: nginx $w_rps req/s (p99 $w_p99, non-2xx ${w_err:-0});" \
         "pgbench $p_tps tps (latency avg $p_lat);" \
         "ratio $(awk -v a="$w_rps" -v b="$p_tps" \
                      'BEGIN { printf "%.2f", a / b }')"
done
