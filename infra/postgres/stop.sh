#!/usr/bin/env bash
# Stop the PostgreSQL server started by start.sh for <state-dir> (fast shutdown). Idempotent.
#
# Usage: infra/postgres/stop.sh <state-dir>
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

if [[ $# -ne 1 ]]; then
    echo "usage: $0 <state-dir>" >&2
    exit 2
fi
state="$1"
[[ -f "$state/datadir" ]] || { echo "postgres/stop.sh: not running ($state)" >&2; exit 0; }
data="$(cat "$state/datadir")"
bin="$(pg_bin)"
if as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    echo "postgres/stop.sh: stopped ($data)" >&2
fi
