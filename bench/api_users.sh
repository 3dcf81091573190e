#!/usr/bin/env bash
# bench/api_users.sh - throughput and p99 of the users group's API
# endpoints (bench/api_users.sql: 100k torrents, 10k users, 1k groups)
# through nginx with wrk, next to pgbench running the same SQL statement
# at the same concurrency on the same database.
#
#   bench/api_users.sh [connections=64] [seconds=10]
#   BENCH_PG_PORT=15436 (private cluster under build/pg-bench-users)
#   BENCH_PORT=19529 (the benchmark nginx), BENCH_WORKERS=2
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
conns=${1:-64} secs=${2:-10}
dir=$top/build/pg-bench-users port=${BENCH_PG_PORT:-15436}
hport=${BENCH_PORT:-19529} workers=${BENCH_WORKERS:-2}
prefix=$top/build/bench-api-users db=apiusers
nginx=${NGINX:-/usr/sbin/nginx}

for c in wrk pgbench; do
    command -v $c >/dev/null || { echo "$c not installed" >&2; exit 1; }
done

"$top/sql/pg.sh" start "$dir" "$port" >/dev/null
stop() {
    [ -f "$prefix/logs/nginx.pid" ] \
        && "$nginx" -p "$prefix/" -c conf/nginx.conf -s stop || true
    "$top/sql/pg.sh" stop "$dir" >/dev/null
}
trap stop EXIT

conn=$("$top/sql/pg.sh" conninfo "$dir" "$port")
conn=${conn/dbname=tracker/dbname=$db}
if [ -z "$(psql -X -At -d "${conn/dbname=$db/dbname=postgres}" -c \
          "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    "$top/sql/pg.sh" newdb "$dir" "$port" "$db" >/dev/null
    echo "generating data (about a minute)"
    psql -X -q -v ON_ERROR_STOP=1 -d "$conn" -f "$top/bench/api_users.sql"
fi
# keep the server's connection limit above the clients of both tools
psql -X -q -d "$conn" -c "ALTER SYSTEM SET max_connections = 300" \
    >/dev/null
"$top/sql/pg.sh" stop "$dir" >/dev/null
"$top/sql/pg.sh" start "$dir" "$port" >/dev/null

# nginx holds `conns` connections to PostgreSQL in all, like pgbench
mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
cat > "$prefix/conf/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module $top/build/modules/ngx_http_tracker_module.so;
worker_processes $workers;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    tracker_database "$conn" pool=$(( (conns + workers - 1) / workers ));
    server {
        listen 127.0.0.1:$hport;
        keepalive_requests 100000;
        location /api/v1/ { tracker_api; }
    }
}
CONF
"$nginx" -p "$prefix/" -c conf/nginx.conf

printf '%-34s %10s %9s %10s %9s %6s\n' endpoint nginx/s p99 pgbench/s \
    avg ratio
# endpoint, key (or -), SQL function, its arguments
while read -r path key fn args; do
    hdr=()
    sqlkey=NULL
    if [ "$key" != - ]; then
        hdr=(-H "Cookie: ssid=$key")
        sqlkey="encode(sha256('$key'::bytea), 'hex')"
    fi
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "${hdr[@]}" \
          "http://127.0.0.1:$hport/api/v1$path")
    if grep -q 'Non-2xx' <<<"$out"; then
        echo "$path: answers that are not 200" >&2; exit 1
    fi
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    echo "SELECT status, content_type, disposition, body" \
         "FROM $fn($sqlkey, '$args');" > "$prefix/q.sql"
    pb=$(pgbench -n -M prepared -c "$conns" -j 2 -T "$secs" -r \
         -f "$prefix/q.sql" "$conn" 2>&1)
    tps=$(awk '/^tps/ { print $3 }' <<<"$pb")
    lat=$(awk '/latency average/ { print $4 }' <<<"$pb")
    ratio=$(awk -v a="$rps" -v b="$tps" 'BEGIN { print a / b }')
    printf '%-34s %10.0f %9s %10.0f %7sms %6.2f\n' "$path" "$rps" "$p99" \
        "$tps" "$lat" "$ratio"
done <<'LIST'
/users/100001 - api_users_get {"id":"100001"}
/users/@me/groups perf api_users_groups {"id":"@me"}
/users/@me/notifications perf api_users_notifications {"id":"@me"}
/users/@me/peers perf api_users_peers {"id":"@me"}
/users/search?query=user77 perf api_users_search {"query":"user77"}
/groups/200001 - api_groups_get {"id":"200001"}
/groups/search - api_groups_search {"limit":50,"offset":0,"sort":"created","order":"desc"}
/groups/search?sort=uploads - api_groups_search {"limit":50,"offset":0,"sort":"uploads","order":"desc"}
/invites/300001 - api_invites_get {"id":"300001"}
LIST
echo "(pgbench column: average latency, not p99)"
