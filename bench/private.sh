#!/usr/bin/env bash
# bench/private.sh - private-mode announce throughput next to open mode, on
# the same nginx, swarm zone and load (../shared/bench/announce-bench.sh).
#
#   bench/private.sh [seconds=10] [connections=64] [runs=3]
#
# Starts a throwaway PostgreSQL (build/bench-pg, port 15434), registers the
# benchmark's 10,000 info hashes and one user, starts the bench nginx with
# the private tracker on /<passkey>/announce, and alternates open and
# private runs.  The private runs resolve the passkey and every torrent from
# the shared-memory cache and append one accounting delta per announce to
# the journal, which the flusher writes to PostgreSQL meanwhile; the journal
# figures after the runs show whether the database kept up.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
harness=${HARNESS:-$top/../shared/bench}
port=${BENCH_PORT:-18181}
pgdir=$top/build/bench-pg pgport=${BENCH_PG_PORT:-15434}
secs=${1:-10} conns=${2:-64} runs=${3:-3}
prefix=$top/build/bench-nginx
passkey=0123456789abcdef0123456789abcdef

make -s -C "$top" all >/dev/null
"$top/sql/pg.sh" start "$pgdir" "$pgport" >/dev/null
db=$("$top/sql/pg.sh" conninfo "$pgdir" "$pgport")

trap '"$top/bench/nginx.sh" stop "$prefix"; "$top/sql/pg.sh" stop "$pgdir" >/dev/null' EXIT

# the harness's torrents (sha1 of "bench-torrent-<i>") and one user
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

BENCH_DB="$db" "$top/bench/nginx.sh" start "$prefix" "$port" 256m

open_url=http://127.0.0.1:$port/announce
private_url=http://127.0.0.1:$port/$passkey/announce
hz=$(getconf CLK_TCK)

# CPU per announce: nginx's workers and every PostgreSQL process, over the
# run and the flush it leaves behind (less sensitive than rps to other
# load on the machine, which the throughput ratio also rides on)
ticks() {   # "pid:ticks ..." of nginx's workers (or the cluster: ticks pg)
    local pid procs master
    if [ "${1:-}" = pg ]; then
        master=$(head -1 "$pgdir/data/postmaster.pid")
        procs="$master $(pgrep -P "$master")"
    else
        procs=$(pgrep -P "$(cat "$prefix/logs/nginx.pid")")
    fi
    for pid in $procs; do
        awk -v p="$pid" '{ printf "%s:%d ", p, $14 + $15 }' \
            "/proc/$pid/stat" 2>/dev/null || true
    done
}
used() {    # ticks between two samples: processes in both, or only later
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); for (i = 1; i <= n; i++) {
            split(x[i], kv, ":"); t0[kv[1]] = kv[2] }
        n = split(b, y, " "); for (i = 1; i <= n; i++) {
            split(y[i], kv, ":"); s += kv[2] - t0[kv[1]] }
        print s }'
}
announces() {
    curl -fs "http://127.0.0.1:$port/status" \
        | grep -o '"announces":[0-9]*' | head -1 | cut -d: -f2
}
drain() {   # until the flusher has written the journal
    local pending
    for _ in $(seq 100); do
        pending=$(curl -fs "http://127.0.0.1:$port/status" \
                  | python3 -c 'import json,sys; print(json.load(sys.stdin)["private"]["journal"]["pending"])')
        [ "$pending" = 0 ] && break
        sleep 0.2
    done
}

for r in $(seq "$runs"); do
    for mode in open private; do
        url=$open_url
        [ $mode = private ] && url=$private_url
        n0=$(ticks) p0=$(ticks pg) a0=$(announces)
        line=$("$harness/announce-bench.sh" "$url" "$secs" "$conns" \
               | grep '^RESULT')
        drain
        n1=$(ticks) p1=$(ticks pg) a1=$(announces)
        cpu=$(awk -v n="$(used "$n0" "$n1")" -v p="$(used "$p0" "$p1")" \
                  -v a=$((a1 - a0)) -v hz="$hz" \
              'BEGIN { printf "cpu_us=%.2f nginx_us=%.2f pg_us=%.2f",
                       (n + p) * 1e6 / hz / a, n * 1e6 / hz / a,
                       p * 1e6 / hz / a }')
        echo "run $r $mode: $line $cpu"
    done
done | tee "$prefix/private-runs.txt"

drain

curl -fs "http://127.0.0.1:$port/status" | python3 -c '
import json, sys
p = json.load(sys.stdin)["private"]
print("journal:", json.dumps(p["journal"]))
print("cache:", json.dumps(p["cache"]))'

psql "$db" -X -q -t -A -c "SELECT 'db: user_torrents=' || count(*) ||
    ' uploaded=' || coalesce(sum(uploaded), 0) FROM user_torrents"

python3 - "$prefix/private-runs.txt" <<'PY'
import re, statistics, sys
rps = {"open": [], "private": []}
cpu = {"open": [], "private": []}
for line in open(sys.argv[1]):
    m = re.search(r"run \d+ (\w+): RESULT rps=(\d+).* cpu_us=([\d.]+)", line)
    if m:
        rps[m.group(1)].append(int(m.group(2)))
        cpu[m.group(1)].append(float(m.group(3)))
o, p = statistics.median(rps["open"]), statistics.median(rps["private"])
co, cp = statistics.median(cpu["open"]), statistics.median(cpu["private"])
print("| mode | rps (median) | runs | CPU us per announce (median) |")
print("|---|---|---|---|")
print("| open | %d | %s | %.2f |" % (o, " ".join(map(str, rps["open"])), co))
print("| private | %d | %s | %.2f |" % (p, " ".join(map(str, rps["private"])),
                                       cp))
print("private / open = %.2f (throughput); open / private CPU = %.2f"
      % (p / o, co / cp))
PY
