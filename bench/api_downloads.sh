#!/usr/bin/env bash
# bench/api_downloads.sh - .torrent download throughput of a running nginx
# (`make run`, or PORT and DATABASE_URL of your own), next to pgbench
# running the same SQL function at the same concurrency: the module's
# overhead over its one query.
#
#   bench/api_downloads.sh [SECONDS] [CONNECTIONS] [BULK_CONNECTIONS]
#
# Single: GET /torrents/<id>/download, anonymous.  Bulk: GET
# /torrents/bulk/download with up to 500 ids (as many approved torrents
# with a file as the database has; long id lists need
# large_client_header_buffers 4 16k in nginx).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10} conns=${2:-64} bulk_conns=${3:-4}

if [ -z "${DATABASE_URL:-}" ] && [ -f "$top/build/run/demo.env" ]; then
    . "$top/build/run/demo.env"
fi
: "${DATABASE_URL:?no DATABASE_URL (make run writes build/run/demo.env)}"
port=${PORT:-8080}
base=http://127.0.0.1:$port/api/v1

q() { psql -X -At -d "$DATABASE_URL" -c "$1"; }
listed="status = 1 AND deleted IS NULL AND torrent_data IS NOT NULL"
id=$(q "SELECT id FROM torrents WHERE $listed ORDER BY id LIMIT 1")
ids=$(q "SELECT string_agg(id::text, ',')
         FROM (SELECT id FROM torrents WHERE $listed ORDER BY id LIMIT 500) x")
n=$(echo "$ids" | tr ',' '\n' | wc -l)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cols="status, content_type, disposition, body, announce, tracker, name"
# pgbench takes :word for a variable: no JSON text with colons here
echo "SELECT $cols FROM api_torrent_download(NULL,
      jsonb_build_object('id', '$id', 'public', false));" > "$tmp/one.sql"
echo "SELECT $cols FROM api_torrents_bulk_download(NULL,
      jsonb_build_object('ids', to_jsonb(string_to_array('$ids', ',')),
                         'public', false));" > "$tmp/bulk.sql"

wrk_rps() {
    wrk -t2 -c"$2" -d"${secs}s" "$1" \
        | awk '/Non-2xx/ { bad = 1 } /Requests\/sec/ { r = $2 }
               END { print bad ? "errors" : r }'
}

pgb_tps() {
    pgbench -n -M prepared -c "$2" -j 2 -T "$secs" -f "$1" "$DATABASE_URL" \
        2>/dev/null | awk '/^tps/ { print $3 }'
}

row() {
    printf '| %s | %s req/s | %s tps | %s |\n' "$1" "$2" "$3" \
        "$(awk -v a="$2" -v b="$3" 'BEGIN { if (b > 0) printf "%.2fx", a / b }')"
}

echo "| what | nginx (wrk) | pgbench, same SQL | ratio |"
echo "|---|---|---|---|"
row "single download, $conns connections" \
    "$(wrk_rps "$base/torrents/$id/download" "$conns")" \
    "$(pgb_tps "$tmp/one.sql" "$conns")"
row "ZIP of $n, $bulk_conns connections" \
    "$(wrk_rps "$base/torrents/bulk/download?ids=$ids" "$bulk_conns")" \
    "$(pgb_tps "$tmp/bulk.sql" "$bulk_conns")"
