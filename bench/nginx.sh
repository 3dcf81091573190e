#!/usr/bin/env bash
# bench/nginx.sh start PREFIX PORT ZONE_SIZE | stop PREFIX
# A benchmark nginx: the module in open mode (/announce), 2 workers, logs
# off.  With BENCH_DB=<conninfo> also the private tracker on
# /<passkey>/announce (same swarm zone; BENCH_PRIVATE=0: not that) and
# the JSON API on /api/v1/ with a 1m answer cache, Torznab on
# /api/torznab/ and the RSS feeds on /api/rss/.
# BENCH_HTTP_EXTRA and BENCH_ANNOUNCE_EXTRA: directives added to the http
# block and to location /announce (bench/limit.sh uses them).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
cmd=$1 prefix=$2

case $cmd in
start)
    port=$3 zone=$4
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    workers=${BENCH_WORKERS:-2}
    private= private_loc= api_loc=
    if [ -n "${BENCH_DB:-}" ]; then
        private="tracker_database \"$BENCH_DB\" pool=${BENCH_POOL:-4} queue=4096;
    tracker_api_cache_zone bench_api:1m;"
        api_loc="location /api/v1/ { tracker_api; }
        location /api/torznab/ { tracker_torznab; }
        location /api/rss/ { tracker_rss; }"
    fi
    if [ -n "${BENCH_DB:-}" ] && [ "${BENCH_PRIVATE:-1}" = 1 ]; then
        private="$private
    tracker_private_zone priv:${BENCH_PRIVATE_ZONE:-512m} journal=${BENCH_JOURNAL:-2097152} ${BENCH_PRIVATE_EXTRA:-};"
        private_loc="location ~ ^/[^/]+/announce\$ { tracker_announce swarm; tracker_private on; }"
    fi
    cat > "$prefix/conf/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module $top/build/modules/ngx_http_tracker_module.so;
worker_processes $workers;
worker_rlimit_nofile 65536;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    tracker_swarm_zone swarm:$zone;
    $private
    ${BENCH_HTTP_EXTRA:-}
    server {
        listen 127.0.0.1:$port reuseport backlog=4096;
        keepalive_requests 100000;
        location /announce { tracker_announce swarm; ${BENCH_ANNOUNCE_EXTRA:-} }
        $private_loc
        $api_loc
        location /scrape { tracker_scrape swarm; }
        location = /status { tracker_status swarm; }
    }
}
CONF
    "$0" stop "$prefix" 2>/dev/null || true
    "$nginx" -p "$prefix/" -c conf/nginx.conf
    for _ in $(seq 50); do
        curl -fs "http://127.0.0.1:$port/status" >/dev/null && exit 0
        sleep 0.1
    done
    echo "bench nginx did not start" >&2; exit 1 ;;
stop)
    [ -f "$prefix/logs/nginx.pid" ] || exit 0
    "$nginx" -p "$prefix/" -c conf/nginx.conf -s stop
    for _ in $(seq 50); do [ -f "$prefix/logs/nginx.pid" ] || exit 0; sleep 0.1; done ;;
esac
