#!/usr/bin/env bash
# bench/flush.sh - what a flush of 100k deltas costs PostgreSQL: one batch
# of 100k and ten of 10k, first for new peers (inserts everywhere) and then
# for the same peers again (updates: the steady state of a running
# tracker).
#
# The tracker folds a batch (one row per (user, torrent), one per peer) and
# sends it as binary arrays to tracker_flush_totals() and
# tracker_flush_peers(), at once on two connections.  Here the same folded
# batches are parsed into a temporary table first and each function is
# timed alone ("totals", "peers"); "sent as text" times both in one call
# of tracker_apply_flush() including the parsing of text arrays.
# tracker_apply_batch() (one row per announce, folded in SQL: scripts and
# tests) is timed too.
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
again=1764001800
# each set has peers of its own (the same users and torrents), so that its
# "new" batches insert them
gen_set() {     # gen_set FIRST_ID FIRST_PEER PREFIX [env...]
    local id=$1 peer=$2 pre=$3
    shift 3
    env "$@" FLUSH_GEN_NEW=1 perl "$top/bench/flush-gen.pl" $id 100000 \
        $peer "$users" "$torrents" > "$tmp/$pre-big-new.sql"
    env "$@" perl "$top/bench/flush-gen.pl" $((id + 1)) 100000 $peer \
        "$users" "$torrents" $again > "$tmp/$pre-big-again.sql"
    for b in $(seq 0 9); do
        env "$@" FLUSH_GEN_NEW=1 perl "$top/bench/flush-gen.pl" \
            $((id + 10 + b)) 10000 $((peer + 100000 + b * 10000)) \
            "$users" "$torrents" > "$tmp/$pre-small-new-$b.sql"
        env "$@" perl "$top/bench/flush-gen.pl" $((id + 20 + b)) 10000 \
            $((peer + 100000 + b * 10000)) "$users" "$torrents" $again \
            > "$tmp/$pre-small-again-$b.sql"
    done
}
gen_set 1 0 table FLUSH_GEN_FOLD=1 FLUSH_GEN_TABLE=batch
gen_set 100 1000000 text FLUSH_GEN_FOLD=1
gen_set 200 2000000 rows
echo "batch files: $(du -sh "$tmp" | cut -f1) of SQL"

targs=$(seq -s, -f 'a%g' 1 15)
pargs=$(seq -s, -f 'a%g' 16 29)
empty() { local i out=; for i in $(seq "$1"); do out+="${out:+,}'{}'"; done
          echo "$out"; }
empty15=$(empty 15) empty10=$(empty 10) empty3=$(empty 3) warm=$$
tck=$(getconf CLK_TCK)
cpu="\\! awk '{ print \"cpu \" \$14 + \$15 }' /proc/\$BACKEND/stat"

# run batch files in one session; print the summed server round-trip time
# and the CPU time the server process spent (from /proc: the cluster is
# local), which other load on the machine inflates less
timed() {       # timed LABEL MODE FILE...; MODE text, totals or peers
    local label=$1 mode=$2 f
    shift 2
    {   echo 'SELECT pg_backend_pid() AS pid \gset'
        echo '\setenv BACKEND :pid'
        echo 'SET client_min_messages = warning;'
        # the tracker's connections are long-lived: functions compiled and
        # catalogs cached before the first batch (empty calls, untimed)
        echo "SELECT tracker_flush_totals(-$(date +%s%N), $empty15);"
        echo "SELECT tracker_flush_peers(false, $empty10, 0, $empty3);"
        for f in "$@"; do
            if [ "$mode" != text ]; then
                echo '\timing off'
                cat "$f"
                echo "$cpu"
                echo '\timing on'
                if [ "$mode" = totals ]; then
                    echo "SELECT tracker_flush_totals(b, $targs) FROM batch;"
                else
                    echo "SELECT tracker_flush_peers(false, $pargs)" \
                         "FROM batch;"
                fi
            else
                echo "$cpu"
                echo '\timing on'
                cat "$f"
            fi
            echo '\timing off'
            echo "$cpu"
        done
    } | "${psql[@]}" -At 2>&1 \
        | awk -v label="$label" -v tck="$tck" '
            /^Time:/ { ms += $2; n++; next }
            /^cpu / { if (c0 == "") c0 = $2; else { c += $2 - c0; c0 = "" }
                      next }
            /^-?[0-9]+$/ { if (++calls > 2) rows += $1; next }
            /^(DROP|SELECT|CREATE)/ { next }
            { print "unexpected: " $0 > "/dev/stderr" }
            END { printf "%-44s %6d rows, %2d call(s): %7.1f ms" \
                         " (server CPU %5.0f ms)\n",
                         label, rows, n, ms, c * 1000 / tck }'
}

# both functions at once on two connections, as the tracker sends them:
# each session loads the batch, then waits on an advisory lock that is
# released when both wait; the flush takes the longer of the two
together() {    # together LABEL FILE
    local label=$1 f=$2 out=$tmp/together k
    for k in totals peers; do
        {   echo 'SET client_min_messages = warning;'
            echo "SELECT tracker_flush_totals(-$(date +%s%N), $empty15);"
            echo "SELECT tracker_flush_peers(false, $empty10, 0, $empty3);"
            cat "$f"
            [ $k = totals ] && echo "UPDATE batch SET b = b + 900000000;"
            echo 'SELECT pg_advisory_lock_shared(4242);'
            echo '\timing on'
            if [ $k = totals ]; then
                echo "SELECT tracker_flush_totals(b, $targs) FROM batch;"
            else
                echo "SELECT tracker_flush_peers(false, $pargs) FROM batch;"
            fi
        } > "$out.$k.sql"
    done
    # the gate holds the lock until both sessions wait on it
    (   echo 'SELECT pg_advisory_lock(4242);'
        echo 'DO $$ BEGIN WHILE (SELECT count(*) FROM pg_locks WHERE'
        echo "  locktype = 'advisory' AND objid = 4242 AND NOT granted) < 2"
        echo '  LOOP PERFORM pg_sleep(0.05); END LOOP; END $$;'
        echo 'SELECT pg_advisory_unlock(4242);'
    ) | "${psql[@]}" -At >/dev/null &
    sleep 0.5
    "${psql[@]}" -At -f "$out.totals.sql" > "$out.totals.out" 2>&1 &
    "${psql[@]}" -At -f "$out.peers.sql" > "$out.peers.out" 2>&1
    wait
    awk -v label="$label" '/^Time:/ { t[FILENAME ~ /totals/] = $2 }
        END { printf "%-44s totals %.1f ms, peers %.1f ms at once:" \
                     " flush %.1f ms\n", label, t[1], t[0],
                     t[1] > t[0] ? t[1] : t[0] }' \
        "$out.totals.out" "$out.peers.out"
}

# The tracker sends a batch's totals and its peers on two connections at
# once: a flush takes about the longer of the two, and the sum in CPU.
for kind in new again; do
    timed "totals: 1 x 100k deltas, $kind peers" totals \
        "$tmp/table-big-$kind.sql"
    timed "peers:  1 x 100k deltas, $kind peers" peers \
        "$tmp/table-big-$kind.sql"
    timed "totals: 10 x 10k deltas, $kind peers" totals \
        "$tmp"/table-small-$kind-{0..9}.sql
    timed "peers:  10 x 10k deltas, $kind peers" peers \
        "$tmp"/table-small-$kind-{0..9}.sql
    timed "both, one call, sent as text: 1 x 100k, $kind" text \
        "$tmp/text-big-$kind.sql"
    timed "per announce (tracker_apply_batch): 100k, $kind" text \
        "$tmp/rows-big-$kind.sql"
    # a running database has analyzed the tables the first batches filled
    [ $kind = new ] && "${psql[@]}" -c 'ANALYZE'
done
# the same peers once more (a new batch id), both statements at once
together "totals + peers: 1 x 100k, again" "$tmp/table-big-again.sql"
# a batch id seen before: the call returns -1 right after the server has
# parsed the arrays, so this is the cost of sending them as text
timed "folded, sent as text again (-1: parse only)" text \
    "$tmp/text-big-new.sql"
"${psql[@]}" -At -c "SELECT 'peers: ' || count(*) FROM peers" \
    -c "SELECT 'user_torrents: ' || count(*) FROM user_torrents"
