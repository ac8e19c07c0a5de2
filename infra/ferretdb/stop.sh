#!/usr/bin/env bash
# Stop the FerretDB started by start.sh for <state-dir>: SIGTERM (clean
# shutdown: connections and SQLite files closed), wait, then SIGKILL.
# Idempotent: no pid file, a stale one, or a dead process is not an error.
#
# Usage: infra/ferretdb/stop.sh <state-dir>
#   env FERRETDB_STOP_TIMEOUT  seconds to wait after SIGTERM (default 15)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

log() { echo "ferretdb/stop.sh: $*" >&2; }

if [[ $# -ne 1 ]]; then
    echo "usage: $0 <state-dir>" >&2
    exit 2
fi
state="$1"
timeout="${FERRETDB_STOP_TIMEOUT:-15}"

if ! pid="$(ferretdb_pid "$state")"; then
    rm -f "$state/ferretdb.pid" "$state/ferretdb.port"
    log "not running ($state)"
    exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
# Poll in 0.1 s steps: we are not the server's parent, so `wait` cannot be used.
for ((i = 0; i < timeout * 10; i++)); do
    ferretdb_alive "$pid" || break
    sleep 0.1
done
if ferretdb_alive "$pid"; then
    log "pid $pid still running after ${timeout} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        ferretdb_alive "$pid" || break
        sleep 0.1
    done
fi
rm -f "$state/ferretdb.pid" "$state/ferretdb.port"
log "stopped pid $pid ($state)"
