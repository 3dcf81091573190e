#!/usr/bin/env bash
# bench/flush.sh - how long tracker_apply_batch() takes for 100k deltas:
# one batch of 100k rows and ten batches of 10k, each first for new peers
# (inserts everywhere) and then for the same peers again (updates: the
# steady state of a running tracker).  Batches are sent as psql literals,
# so parsing the 16 text arrays is part of the time, as it is for the
# tracker's flusher.
#
#   bench/flush.sh [users=20000] [torrents=20000]
#   BENCH_PG_PORT=15434 (private cluster under build/pg-bench)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
users=${1:-20000} torrents=${2:-20000}
dir=$top/build/pg-bench port=${BENCH_PG_PORT:-15434}
tmp=$top/build/flush-bench
db=flushbench

"$top/sql/pg.sh" start "$dir" "$port" >/dev/null
trap '"$top/sql/pg.sh" stop "$dir" >/dev/null' EXIT
"$top/sql/pg.sh" newdb "$dir" "$port" "$db" >/dev/null
conn=$("$top/sql/pg.sh" conninfo "$dir" "$port")
conn=${conn/dbname=tracker/dbname=$db}
psql=(psql -X -q -v ON_ERROR_STOP=1 -d "$conn")

echo "populating $users users, $torrents torrents"
"${psql[@]}" <<SQL
INSERT INTO users (id, username)
SELECT g, 'user' || g FROM generate_series(1, $users) g;
INSERT INTO torrents (id, info_hash, title, filesize)
SELECT g, substring(sha256(int8send(g)) FROM 1 FOR 20),
       'Bench torrent ' || g || ' [1080p]', g * 1000
FROM generate_series(1, $torrents) g;
VACUUM ANALYZE;
SQL

rm -rf "$tmp" && mkdir -p "$tmp"
gen() { perl "$top/bench/flush-gen.pl" "$@"; }
gen 1 100000 0 "$users" "$torrents" > "$tmp/big-new.sql"
gen 2 100000 0 "$users" "$torrents" 1764001800 > "$tmp/big-again.sql"
for b in $(seq 0 9); do
    gen $((10 + b)) 10000 $((100000 + b * 10000)) "$users" "$torrents" \
        > "$tmp/small-new-$b.sql"
    gen $((20 + b)) 10000 $((100000 + b * 10000)) "$users" "$torrents" \
        1764001800 > "$tmp/small-again-$b.sql"
done
echo "batch files: $(du -sh "$tmp" | cut -f1) of SQL"

# run SQL files in one session; print the summed server round-trip time
# and the CPU time the server process spent (from /proc: the cluster is
# local), which other load on the machine does not inflate
tck=$(getconf CLK_TCK)
timed() {
    local label=$1
    shift
    {   echo 'SELECT pg_backend_pid() AS pid \gset'
        echo '\setenv BACKEND :pid'
        echo "\\! awk '{ print \"cpu \" \$14 + \$15 }' /proc/\$BACKEND/stat"
        echo '\timing on'
        cat "$@"
        echo '\timing off'
        echo "\\! awk '{ print \"cpu \" \$14 + \$15 }' /proc/\$BACKEND/stat"
    } | "${psql[@]}" -At 2>&1 \
        | awk -v label="$label" -v tck="$tck" '
            /^Time:/ { ms += $2; n++; next }
            /^cpu / { if (c0 == "") c0 = $2; else c1 = $2; next }
            /^-?[0-9]+$/ { rows += $1; next }
            { print "unexpected: " $0 > "/dev/stderr" }
            END { printf "%-34s %6d rows, %2d call(s): %7.1f ms" \
                         " (server CPU %5.0f ms)\n",
                         label, rows, n, ms, (c1 - c0) * 1000 / tck }'
}

timed "1 x 100k, new peers (inserts)" "$tmp/big-new.sql"
timed "1 x 100k, same peers (updates)" "$tmp/big-again.sql"
timed "10 x 10k, new peers (inserts)" "$tmp"/small-new-{0..9}.sql
timed "10 x 10k, same peers (updates)" "$tmp"/small-again-{0..9}.sql
# a batch id seen before: the call returns -1 right after the server has
# parsed the 16 arrays, so this is the cost of sending them as text
timed "1 x 100k again, parse only (-1)" "$tmp/big-new.sql"
"${psql[@]}" -At -c "SELECT 'peers: ' || count(*) FROM peers" \
    -c "SELECT 'user_torrents: ' || count(*) FROM user_torrents"
