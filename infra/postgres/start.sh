#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for FerretDB's PostgreSQL backend (tests, benchmarks, faults)
# and wait until it accepts connections; prints the URL of its `ferretdb` database on stdout.
#
# Usage: infra/postgres/start.sh <state-dir>
#   env POSTGRES_PORT   TCP port on 127.0.0.1 (default 5432)
#       POSTGRES_FRESH  1: delete an existing cluster first (what the test runs want)
#
# Debian's PostgreSQL server (package `postgresql`, installed by infra/tools.sh when missing).
# The cluster is created on first start (trust authentication, loopback only: nothing but the
# local FerretDB talks to it) and kept under <state-dir> (see lib.sh data_dir); its log is
# postgres.log beside the data directory.
# Settings are PostgreSQL's defaults (fsync and synchronous commit on), so the figures measured on
# it are those of a durable server. Stop it with infra/postgres/stop.sh <state-dir>.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
log() { echo "postgres/start.sh: $*" >&2; }

if [[ $# -ne 1 ]]; then
    echo "usage: $0 <state-dir>" >&2
    exit 2
fi
mkdir -p "$1"
state="$(cd "$1" && pwd)"
port="${POSTGRES_PORT:-5432}"
bin="$(pg_bin)" || { log "no PostgreSQL server installed; run infra/tools.sh (Debian package postgresql)"; exit 1; }
data="$(data_dir "$state")"
echo "$data" >"$state/datadir"
logfile="$(dirname "$data")/postgres.log"
if [[ "${POSTGRES_FRESH:-0}" == 1 ]]; then
    as_owner "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$data"
fi

if [[ ! -f "$data/PG_VERSION" ]]; then
    mkdir -p "$data"
    [[ $(id -u) -ne 0 ]] || chown -R postgres: "$(dirname "$data")" "$data"
    as_owner "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-instructions >"$state/initdb.log" 2>&1 \
        || { log "initdb failed:"; cat "$state/initdb.log" >&2; exit 1; }
fi
# -k: the Unix socket in the data directory's parent, never /var/run/postgresql (may not exist).
as_owner "$bin/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $(dirname "$data")" start >/dev/null \
    || { log "PostgreSQL did not start; last lines of $logfile:"; tail -n 20 "$logfile" >&2; exit 1; }
echo "$port" >"$state/postgres.port"
if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc "select 1 from pg_database where datname = 'ferretdb'" postgres | grep -q 1; then
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres ferretdb
fi
log "ready on 127.0.0.1:$port (data $data)"
echo "postgres://postgres@127.0.0.1:$port/ferretdb"
