#!/usr/bin/env bash
# Start a local FerretDB (MongoDB wire protocol, on PostgreSQL or SQLite) in
# the background and wait until it answers ping.
#
# Usage: infra/ferretdb/start.sh <state-dir>
#   env FERRETDB_PORT   TCP port on 127.0.0.1 (default 27017)
#       PYTHON          interpreter with pymongo for wait_ready.py (default: the
#                       repo's .venv/bin/python if present, else python3)
#       FERRETDB_START_TIMEOUT  readiness limit in seconds (default 60)
#       FERRETDB_LOG_LEVEL      debug|info|warn|error (default info; debug logs
#                               every request and reply)
#       FERRETDB_SERIALIZE_WRITES  1 (default) or 0; see main.go: without it,
#                               concurrent updates of one document lose writes
#       FERRETDB_POSTGRESQL_URL postgres://... : use the PostgreSQL backend on
#                               that database (infra/postgres/start.sh prints
#                               one); unset: the SQLite backend under data/
#       CAREERLOOP_CACHE        build cache root (see build.sh)
#
# Layout under <state-dir>: data/ (SQLite files, one per database),
# ferretdb.log (appended to, kept so a failed run can be read), ferretdb.pid,
# ferretdb.port. Prints the MongoDB URI on stdout; messages go to stderr.
# If a server is already running for <state-dir>, it only waits for it.
# Stop it with infra/ferretdb/stop.sh <state-dir>.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

log() { echo "ferretdb/start.sh: $*" >&2; }

if [[ $# -ne 1 ]]; then
    echo "usage: $0 <state-dir>" >&2
    exit 2
fi

mkdir -p "$1"
state="$(cd "$1" && pwd)" # absolute: the SQLite URL must not depend on the cwd
port="${FERRETDB_PORT:-27017}"
timeout="${FERRETDB_START_TIMEOUT:-60}"
log_level="${FERRETDB_LOG_LEVEL:-info}"
case "${FERRETDB_SERIALIZE_WRITES:-1}" in
0 | false | no) serialize=false ;;
*) serialize=true ;;
esac
pidfile="$state/ferretdb.pid"
portfile="$state/ferretdb.port"
logfile="$state/ferretdb.log"

if [[ -z "${PYTHON:-}" ]]; then
    # The system python3 usually lacks pymongo; the project venv has it.
    if [[ -x "$repo/.venv/bin/python" ]]; then PYTHON="$repo/.venv/bin/python"; else PYTHON=python3; fi
fi

# shellcheck source=lib.sh
source "$here/lib.sh"

wait_ready() { # pid port
    "$PYTHON" "$here/wait_ready.py" "mongodb://127.0.0.1:$2/" "$timeout" --pid "$1"
}

show_log_tail() {
    log "$1; last lines of $logfile:"
    tail -n 40 "$logfile" >&2 || true
}

fail() { # pid message: for a server started by this run
    show_log_tail "$2"
    # Do not leave a half-started server behind.
    if ferretdb_alive "$1"; then
        kill -TERM "$1" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            ferretdb_alive "$1" || break
            sleep 0.1
        done
        kill -KILL "$1" 2>/dev/null || true
    fi
    rm -f "$pidfile" "$portfile"
    exit 1
}

# Already running for this state dir: just wait for it (on its own port).
if pid="$(ferretdb_pid "$state")"; then
    running_port="$(cat "$portfile" 2>/dev/null || echo "$port")"
    if [[ "$running_port" != "$port" ]]; then
        log "already running for $state on port $running_port (not $port); using it"
    fi
    if ! wait_ready "$pid" "$running_port"; then
        # Not ours to kill: it was started by an earlier run; stop.sh can.
        show_log_tail "running server (pid $pid) is not ready"
        exit 1
    fi
    echo "mongodb://127.0.0.1:$running_port/"
    exit 0
fi
rm -f "$pidfile" "$portfile" # stale, if any

# Something else on the port would answer the readiness ping in our place
# (and FerretDB would fail to bind), so refuse early with a clear message.
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port on 127.0.0.1 is already in use; set FERRETDB_PORT to a free port"
    exit 1
fi

# Fail before starting anything if the readiness check cannot run.
if ! "$PYTHON" -c 'import pymongo' 2>/dev/null; then
    log "cannot import pymongo with PYTHON=$PYTHON; set PYTHON to an interpreter that has it"
    exit 1
fi

bin="$("$here/build.sh")"
mkdir -p "$state/data"
backend=(-sqlite-url "file:$state/data/")
[[ -z "${FERRETDB_POSTGRESQL_URL:-}" ]] || backend=(-postgresql-url "$FERRETDB_POSTGRESQL_URL")
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) start.sh: $bin port $port ${backend[*]} serialize-writes=$serialize" >>"$logfile"

# DO_NOT_TRACK: belt and braces; the embedded package already disables
# telemetry. nohup + </dev/null: the server must outlive this script and the
# terminal that ran it. Not setsid: killing the caller's process group (a CI
# job being ended) still takes the server down.
DO_NOT_TRACK=1 nohup "$bin" \
    -listen-addr "127.0.0.1:$port" \
    "${backend[@]}" \
    -log-level "$log_level" \
    -serialize-writes="$serialize" \
    >>"$logfile" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pidfile"
echo "$port" >"$portfile"

start=$SECONDS
wait_ready "$pid" "$port" || fail "$pid" "FerretDB (pid $pid) did not become ready on port $port"
log "ready on 127.0.0.1:$port (pid $pid, $((SECONDS - start)) s, state $state)"
echo "mongodb://127.0.0.1:$port/"
