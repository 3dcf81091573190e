#!/usr/bin/env bash
# bench/api_upload.sh - upload endpoints of a running nginx (`make run`, or
# PORT, DATABASE_URL and KEY of your own): POST /upload (a new small v1
# .torrent per request: decode, strict parse, SHA-1, rules, one insert
# transaction), PUT /upload/checks (title parsing, media match, rules) and
# PUT /upload/mediainfo (text parsing), each with wrk for SECONDS.
#
#   bench/api_upload.sh [SECONDS] [CONNECTIONS]
#
# POST /upload writes rows: run it against a scratch database.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10} conns=${2:-16}

if [ -z "${DATABASE_URL:-}" ] && [ -f "$top/build/run/demo.env" ]; then
    . "$top/build/run/demo.env"
fi
: "${DATABASE_URL:?no DATABASE_URL (make run writes build/run/demo.env)}"
port=${PORT:-8080}
key=${KEY:-${DEMO_API_KEY:?no KEY}}

rps() {
    WHAT=$1 KEY=$key wrk -t2 -c"$conns" -d"${secs}s" \
        -s "$top/bench/api_upload.lua" "http://127.0.0.1:$port" \
        | awk '/Non-2xx/ { bad = $NF } /Requests\/sec/ { r = $2 }
               END { print r (bad ? " (" bad " not 2xx)" : "") }'
}

echo "| endpoint | req/s, $conns connections |"
echo "|---|---|"
for w in mediainfo checks upload; do
    echo "| $w | $(rps $w) |"
done
