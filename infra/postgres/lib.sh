# shellcheck shell=bash
# Helpers shared by start.sh and stop.sh (sourced, not run).

# pg_bin: the newest installed PostgreSQL server's bin directory (Debian: /usr/lib/postgresql/<v>/bin).
pg_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$dir" && -x "$dir/initdb" ]] || return 1
    echo "$dir"
}

# as_owner CMD...: PostgreSQL refuses to run as root, so under root its commands run as the
# `postgres` system user that Debian's package creates; otherwise as the caller.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# data_dir STATE_DIR: where the cluster lives. Normally STATE_DIR/data; under root, when the
# postgres user cannot reach STATE_DIR (a clone under /root, say), a directory in /tmp named
# after STATE_DIR, recorded in STATE_DIR/datadir so stop.sh finds it.
data_dir() {
    local state="$1"
    if [[ -f "$state/datadir" ]]; then cat "$state/datadir"; return; fi
    if [[ $(id -u) -ne 0 ]] || runuser -u postgres -- test -w "$state" 2>/dev/null; then
        echo "$state/data"
    else
        echo "/tmp/careerloop-postgres-$(echo -n "$state" | sha256sum | cut -c1-12)/data"
    fi
}
