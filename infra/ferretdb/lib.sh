# shellcheck shell=bash
# Helpers shared by start.sh and stop.sh (sourced, not run).

# ferretdb_alive PID: true if PID is a live (not zombie) careerloop-ferretdb.
# Checking the command line guards against a stale pid file whose pid was
# reused by an unrelated process, which we must never signal.
ferretdb_alive() {
    local pid="$1" stat cmd
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != "Z" && "${stat%% *}" != "X" ]] || return 1
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmd" == *careerloop-ferretdb* ]]
}

# ferretdb_pid STATE_DIR: print the pid of the server running for STATE_DIR.
ferretdb_pid() {
    local pid
    pid="$(cat "$1/ferretdb.pid" 2>/dev/null)" || return 1
    ferretdb_alive "$pid" || return 1
    echo "$pid"
}
