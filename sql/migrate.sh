#!/usr/bin/env bash
# sql/migrate.sh - apply the pending numbered migrations (sql/NNN_*.sql).
#
#   sql/migrate.sh ["host=/path/to/socketdir port=5432 dbname=tracker user=..."]
#   PGHOST=... PGPORT=... PGDATABASE=... sql/migrate.sh
#
# Each file runs once, inside one transaction together with its row in
# schema_migrations (version = file name without .sql), so a failing
# migration leaves nothing behind.  A transaction-level advisory lock makes
# concurrent runs wait for each other instead of applying a file twice.
# Running it again when everything is applied changes nothing.
set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
conn=${1:-}
psql=(psql -X -q -v ON_ERROR_STOP=1)
[ -n "$conn" ] && psql+=(-d "$conn")

shopt -s nullglob
files=("$dir"/[0-9][0-9][0-9]_*.sql)
[ ${#files[@]} -gt 0 ] || { echo "migrate: no migrations in $dir" >&2; exit 1; }

applied=0
for f in "${files[@]}"; do
    v=$(basename "$f" .sql)
    out=$("${psql[@]}" -v v="$v" -v f="$f" 2>&1 <<'SQL'
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('ngx_tracker schema_migrations')) \gset
SET LOCAL client_min_messages = warning;
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = :'v')
    AS pending \gset
\if :pending
\i :f
INSERT INTO schema_migrations (version) VALUES (:'v');
\echo applied :v
\endif
COMMIT;
SQL
    ) || { echo "$out" >&2; echo "migrate: $v failed, nothing of it applied" >&2;
           exit 1; }
    [ -z "$out" ] || echo "$out"
    case $out in *"applied $v"*) applied=$((applied + 1)) ;; esac
done
[ $applied -gt 0 ] || echo "migrations: up to date (${#files[@]} applied)"
