#!/usr/bin/env bash
# sql/pg.sh - a throwaway PostgreSQL 15 cluster for development and tests.
#
#   sql/pg.sh start  DIR PORT        initdb if needed, start, create the
#                                    database (tracker, or $PG_DB) and
#                                    apply the migrations
#   sql/pg.sh stop   DIR             fast shutdown (no-op when not running)
#   sql/pg.sh status DIR             exit 0 when running
#   sql/pg.sh newdb  DIR PORT NAME   (re)create database NAME, migrated
#   sql/pg.sh psql   DIR PORT [psql args...]   psql into $PG_DB (tracker)
#   sql/pg.sh conninfo DIR PORT      print the libpq conninfo
#
# Layout: DIR/data is the cluster, DIR itself holds the unix socket
# (.s.PGSQL.PORT) and postgres.log, so that DIR can stay world-searchable
# (nginx workers connect through the socket) while data stays 0700.  The
# server listens on that socket and on 127.0.0.1:PORT only.  Superuser:
# "postgres", trust authentication (local socket and loopback only).
# Durability is traded for speed (fsync off): this cluster is disposable.
# Run as root, the cluster belongs to the postgres user (the server refuses
# to run as root); otherwise to the calling user.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DBUSER=postgres
DB=${PG_DB:-tracker}

die() { echo "pg.sh: $*" >&2; exit 1; }
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ -x "$PGBIN/pg_ctl" ] || die "no PostgreSQL 15 server in $PGBIN (apt-get install postgresql)"

# run a server-side command as the cluster's owner
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

absdir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

conninfo() { echo "host=$1 port=$2 dbname=${3:-$DB} user=$DBUSER"; }

q() {   # q DIR PORT DB SQL: one value, no alignment
    PGOPTIONS="-c client_min_messages=warning" \
        psql -X -q -At -v ON_ERROR_STOP=1 -d "$(conninfo "$1" "$2" "$3")" -c "$4"
}

running() { as_owner "$PGBIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1; }

ensure_db() {   # ensure_db DIR PORT NAME: create if missing, migrate
    local dir=$1 port=$2 name=$3
    if [ -z "$(q "$dir" "$port" postgres \
              "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
        q "$dir" "$port" postgres "CREATE DATABASE \"$name\"" >/dev/null
    fi
    "$here/migrate.sh" "$(conninfo "$dir" "$port" "$name")"
}

cmd_start() {
    local dir port
    [ $# -eq 2 ] || usage
    dir=$(absdir "$1") port=$2
    case $port in ''|*[!0-9]*) die "bad port: $port" ;; esac

    # a unix socket path has at most 107 bytes
    [ ${#dir} -le 90 ] || die "$dir: too long a path for the socket in it"

    if [ ! -s "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir/data"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir" "$dir/data"
        as_owner test -w "$dir" || die "$dir: the cluster's owner" \
            "($( [ "$(id -u)" = 0 ] && echo postgres || id -un)) cannot" \
            "write there (is a parent directory not searchable?)"
        chmod 755 "$dir"
        chmod 700 "$dir/data"
        echo "initdb $dir/data"
        as_owner "$PGBIN/initdb" -D "$dir/data" -U "$DBUSER" --auth=trust \
            -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi

    if running "$dir"; then
        echo "postgres already running in $dir"
    else
        # settings on the command line: the data dir stays initdb's own
        local opts="-p $port -c listen_addresses=127.0.0.1"
        opts+=" -c unix_socket_directories='$dir'"
        opts+=" -c fsync=off -c synchronous_commit=off"
        opts+=" -c full_page_writes=off -c max_connections=200"
        opts+=" -c shared_buffers=256MB"
        opts+=" -c log_min_messages=warning"
        if ! as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
                -w -t 60 -o "$opts" start >/dev/null; then
            tail -n 20 "$dir/postgres.log" >&2 || true
            die "postgres did not start (port $port taken?)"
        fi
        echo "postgres started: $(conninfo "$dir" "$port")"
    fi
    ensure_db "$dir" "$port" "$DB"
}

cmd_stop() {
    local dir
    [ $# -eq 1 ] || usage
    [ -d "$1/data" ] || { echo "no cluster in $1"; return 0; }
    dir=$(absdir "$1")
    if running "$dir"; then
        as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop \
            >/dev/null
        echo "postgres stopped ($dir)"
    else
        echo "postgres not running ($dir)"
    fi
}

cmd_status() {
    [ $# -eq 1 ] || usage
    [ -d "$1/data" ] || { echo "no cluster in $1"; return 3; }
    as_owner "$PGBIN/pg_ctl" -D "$(absdir "$1")/data" status
}

cmd_newdb() {
    local dir
    [ $# -eq 3 ] || usage
    dir=$(absdir "$1")
    q "$dir" "$2" postgres "DROP DATABASE IF EXISTS \"$3\" WITH (FORCE)" \
        >/dev/null
    ensure_db "$dir" "$2" "$3"
}

cmd_psql() {
    local dir port
    [ $# -ge 2 ] || usage
    dir=$(absdir "$1") port=$2
    shift 2
    exec psql -X -d "$(conninfo "$dir" "$port")" "$@"
}

[ $# -ge 1 ] || usage
c=$1
shift
case $c in
    start)    cmd_start "$@" ;;
    stop)     cmd_stop "$@" ;;
    status)   cmd_status "$@" ;;
    newdb)    cmd_newdb "$@" ;;
    psql)     cmd_psql "$@" ;;
    conninfo) [ $# -eq 2 ] || usage; conninfo "$(absdir "$1")" "$2" ;;
    *)        usage ;;
esac
