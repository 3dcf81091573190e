#!/usr/bin/env bash
# bench/udp.sh - UDP tracker (BEP 15) throughput of ngx_tracker side by side
# with opentracker's UDP, the same load for both (bench/udp_load.c: connect
# + announce mix, numwant 30, 80% seeders, Zipf-like torrents, every reply
# checked).  ngx_tracker runs 2 workers in open mode; opentracker is the
# Debian build started by ../shared/bench/peers.sh.
#
#   bench/udp.sh [seconds=10] [runs=3] [udp_load options...]
#   ONLY_OURS=1 bench/udp.sh 10 1
#   UDP_PRIVATE=1 bench/udp.sh 10 3
#
# UDP_PRIVATE=1 compares ngx_tracker with itself instead: open mode against
# a tracker_udp_private server on the same nginx and swarm zone, the
# announces carrying /announce/<passkey> as BEP 41 URL data.  It starts a
# throwaway PostgreSQL (build/bench-udp-pg, BENCH_PG_PORT, 15436) with the
# load's 10,000 torrents and one user registered; every private announce
# is checked against the cache and appends an accounting delta.
#
# BENCH_UDP_EXTRA adds directives to the stream server (e.g.
# "tracker_udp_batch 0;" for nginx's one-session-per-datagram path).
#
# Ports: BENCH_UDP_PORT (19360) for ngx_tracker (HTTP status one above),
# OT_PORT (19350) for opentracker.  Runs alternate between the two; prints
# the median of each.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
harness=${HARNESS:-$top/../shared/bench}
port=${BENCH_UDP_PORT:-19360}
ot_port=${OT_PORT:-19350}
secs=${1:-10} runs=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
load_opts=("$@")
prefix=$top/build/bench-udp
private=${UDP_PRIVATE:-0}
passkey=0123456789abcdef0123456789abcdef
pgdir=$top/build/bench-udp-pg pgport=${BENCH_PG_PORT:-15436}
http_private= stream_private=
ours_name=ngx_tracker
[ "$private" = 1 ] && ONLY_OURS=0 ours_name=open
export PEERS_DIR=${PEERS_DIR:-$top/build/peers}

make -s -C "$top" all >/dev/null
mkdir -p "$top/build"
gcc -O2 -Wall -Wextra -Werror -o "$top/build/udp_load" \
    "$top/bench/udp_load.c" -lcrypto -lm -pthread

start_ours() {
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/tmp"
    cat > "$prefix/conf/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $top/build/modules/ngx_http_tracker_module.so;
load_module $top/build/modules/ngx_stream_tracker_module.so;
worker_processes ${BENCH_WORKERS:-2};
worker_rlimit_nofile 65536;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
    access_log off;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    tracker_swarm_zone swarm:256m;
    $http_private
    server {
        listen 127.0.0.1:$((port + 1));
        location = /status { tracker_status swarm; }
    }
}
stream {
    server {
        listen 127.0.0.1:$port udp ${BENCH_REUSEPORT-reuseport};
        tracker_udp swarm;
        ${BENCH_UDP_EXTRA:-}
    }
    $stream_private
}
CONF
    stop_ours
    /usr/sbin/nginx -p "$prefix/" -c conf/nginx.conf
    for _ in $(seq 50); do
        curl -fs "http://127.0.0.1:$((port + 1))/status" >/dev/null && return 0
        sleep 0.1
    done
    echo "bench nginx did not start" >&2; exit 1
}

stop_ours() {
    [ -f "$prefix/logs/nginx.pid" ] || return 0
    /usr/sbin/nginx -p "$prefix/" -c conf/nginx.conf -s stop 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$prefix/logs/nginx.pid" ] || return 0; sleep 0.1; done
}

cleanup() {
    stop_ours
    if [ "$private" = 1 ]; then
        "$top/sql/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
    elif [ "${ONLY_OURS:-0}" != 1 ]; then
        "$harness/peers.sh" stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# CPU ticks (user + system) of a process and its children (nginx workers)
ticks() {
    local pid=$1 t=0 c
    for c in $pid $(ps -o pid= --ppid "$pid"); do
        t=$(( t + $(awk '{ print $14 + $15 }' /proc/"$c"/stat 2>/dev/null || echo 0) ))
    done
    echo $t
}

# one run: prints its RESULT line with the server's CPU time per request
# (a figure that a busy machine disturbs less than requests per second);
# fails on malformed replies
one() {
    local name=$1 host=$2 p=$3 pid=$4 line t0 t1 reqs
    shift 4
    t0=$(ticks "$pid")
    line=$("$top/build/udp_load" -d "$secs" -W 0 "$@" "${load_opts[@]}" "$host" "$p" \
           | grep '^RESULT') || { echo "$name: malformed replies: $line" >&2; exit 1; }
    t1=$(ticks "$pid")
    reqs=$(echo "$line" | awk '{ split($2, a, "="); split($3, b, "=");
                                 print (a[2] + b[2]) }')
    line="$line cpu_us_per_req=$(awk -v t=$(( t1 - t0 )) -v r="$reqs" \
        -v s="$secs" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / (r * s) }')"
    echo "  $name: $line" >&2
    echo "$line"
}

# median by announce_rps
median() {
    sort -t= -k2 -n | sed -n "$(( (runs + 1) / 2 ))p"
}

# Both trackers run side by side (an idle one costs nothing) and the runs
# alternate, so a change in the machine's background load hits both.
if [ "$private" = 1 ]; then
    "$top/sql/pg.sh" start "$pgdir" "$pgport" >/dev/null
    db=$("$top/sql/pg.sh" conninfo "$pgdir" "$pgport")
    python3 "$harness/announce_check.py" hashes 10000 > "$pgdir/hashes"
    psql "$db" -X -q -v ON_ERROR_STOP=1 <<SQL
TRUNCATE user_torrents, peers, snatches, tracker_batches;
DELETE FROM torrents WHERE title LIKE 'bench %';
DELETE FROM users WHERE username = 'bench';
INSERT INTO users (username, torrent_key) VALUES ('bench', '$passkey');
CREATE TEMP TABLE h (hex text);
\copy h FROM '$pgdir/hashes'
INSERT INTO torrents (info_hash, title)
    SELECT decode(hex, 'hex'), 'bench ' || hex FROM h;
SQL
    http_private="tracker_database \"$db\" pool=4;
    tracker_private_zone priv:64m;"
    stream_private="server {
        listen 127.0.0.1:$((port + 2)) udp ${BENCH_REUSEPORT-reuseport};
        tracker_udp swarm;
        tracker_udp_private on;
        ${BENCH_UDP_EXTRA:-}
    }"
    other=(private 127.0.0.1 $((port + 2)))
    other_opts=(-u "/announce/$passkey")
else
    other=(opentracker 127.0.0.1 "$ot_port")
    other_opts=()
fi

start_ours
ngx_pid=$(cat "$prefix/logs/nginx.pid")
if [ "$private" = 1 ]; then
    other_pid=$ngx_pid
elif [ "${ONLY_OURS:-0}" != 1 ]; then
    "$harness/peers.sh" start "$ot_port" 0 0 >&2
    other_pid=$(cat "$PEERS_DIR/opentracker.pid")
fi

# a warm-up: every simulated peer announces "started" once (private: and
# the cache learns the passkey and the torrents)
"$top/build/udp_load" -d 2 -W 3 "${load_opts[@]}" 127.0.0.1 "$port" >/dev/null
if [ "${ONLY_OURS:-0}" != 1 ]; then
    "$top/build/udp_load" -d 2 -W 3 "${other_opts[@]}" "${load_opts[@]}" \
        "${other[1]}" "${other[2]}" >/dev/null
fi

ours=() theirs=()
for r in $(seq "$runs"); do
    ours+=("$(one "$ours_name" 127.0.0.1 "$port" "$ngx_pid")")
    if [ "${ONLY_OURS:-0}" != 1 ]; then
        theirs+=("$(one "${other[@]}" "$other_pid" "${other_opts[@]}")")
    fi
done
curl -fs "http://127.0.0.1:$((port + 1))/status" \
    | grep -o '"udp":{.*' >&2 || true

results=("$(printf '%s\n' "${ours[@]}" | median | sed "s/^RESULT/$ours_name/")")
if [ "${ONLY_OURS:-0}" != 1 ]; then
    results+=("$(printf '%s\n' "${theirs[@]}" | median | sed "s/^RESULT/${other[0]}/")")
fi

echo
printf '%-12s %12s %11s %7s %10s %6s %16s\n' tracker announce/s \
    connect/s errors malformed lost "CPU us/request"
for r in "${results[@]}"; do
    set -- $r
    printf '%-12s %12s %11s %7s %10s %6s %16s\n' "$1" "${2#*=}" "${3#*=}" \
        "${4#*=}" "${5#*=}" "${6#*=}" "${7#*=}"
done
if [ ${#results[@]} = 2 ]; then
    a=$(set -- ${results[0]}; echo "${2#*=}")
    b=$(set -- ${results[1]}; echo "${2#*=}")
    awk -v a="$a" -v b="$b" -v n="$ours_name" -v o="${other[0]}" \
        'BEGIN { printf "%s / %s announce/s: %.2fx\n", n, o, a / b }'
fi
if [ "$private" = 1 ]; then
    curl -fs "http://127.0.0.1:$((port + 1))/status" \
        | grep -o '"journal":{[^}]*}' >&2 || true
    psql "$db" -X -q -t -A -c "SELECT 'db: user_torrents=' || count(*)
        FROM user_torrents" >&2
fi
