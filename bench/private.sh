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

for r in $(seq "$runs"); do
    for mode in open private; do
        url=$open_url
        [ $mode = private ] && url=$private_url
        line=$("$harness/announce-bench.sh" "$url" "$secs" "$conns" \
               | grep '^RESULT')
        echo "run $r $mode: $line"
    done
done | tee "$prefix/private-runs.txt"

# let the flusher finish, then show what the journal did
for _ in $(seq 100); do
    pending=$(curl -fs "http://127.0.0.1:$port/status" \
              | python3 -c 'import json,sys; print(json.load(sys.stdin)["private"]["journal"]["pending"])')
    [ "$pending" = 0 ] && break
    sleep 0.2
done

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
for line in open(sys.argv[1]):
    m = re.search(r"run \d+ (\w+): RESULT rps=(\d+)", line)
    if m:
        rps[m.group(1)].append(int(m.group(2)))
o, p = statistics.median(rps["open"]), statistics.median(rps["private"])
print("| mode | rps (median) | runs |")
print("|---|---|---|")
print("| open | %d | %s |" % (o, " ".join(map(str, rps["open"]))))
print("| private | %d | %s |" % (p, " ".join(map(str, rps["private"]))))
print("private / open = %.2f" % (p / o))
PY
