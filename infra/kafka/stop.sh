#!/usr/bin/env bash
# Stop the Kafka broker started by start.sh from <state-dir>.
#
# usage: infra/kafka/stop.sh <state-dir>
#
# SIGTERM first: Kafka then shuts down cleanly (flushes logs, writes its
# clean-shutdown marker), so the next start skips log recovery. If it has not
# exited after KAFKA_STOP_TIMEOUT seconds (default 30), SIGKILL.
# Idempotent: no pid file, or a pid that is no longer our broker, is success.
# The state dir (data, kafka.log) is kept.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 <state-dir>" >&2
  exit 64
fi
if [[ ! -d "$1" ]]; then
  echo "stop.sh: no state dir $1; nothing to stop" >&2
  exit 0
fi
state="$(cd "$1" && pwd)"
pid_file="$state/kafka.pid"
props="$state/server.properties"
grace_s="${KAFKA_STOP_TIMEOUT:-30}"

if [[ ! -f "$pid_file" ]]; then
  echo "stop.sh: no $pid_file; nothing to stop" >&2
  exit 0
fi
pid="$(cat "$pid_file")"

# Only signal the process if it is still the broker of this state dir: a pid
# file left behind by a crash may now name an unrelated process.
is_our_broker() {
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Read into a variable rather than piping into grep -q: grep exiting early
  # makes the writer die of SIGPIPE, which pipefail turns into a false "no".
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"kafka.Kafka $props"* ]]
}

# Process start time (field 22 of /proc/PID/stat, counted after the ")" that
# closes the command name). Together with the pid it names one process for
# good, so a pid reused after the broker exits is never mistaken for it.
start_time() {
  local stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086 # word splitting is the point here
  set -- $stat
  # After the name, field 3 (state) is $1, so field 22 is ${20}.
  [[ "$1" != Z ]] || return 1   # a zombie has exited; only its entry is left
  echo "${20}"
}

# Still running? Checked by pid + start time, not by the command line: while a
# JVM exits, /proc/PID/cmdline is already empty but the process (and its
# listening sockets) may still be there for a moment.
still_running() {
  [[ "$(start_time || true)" == "$started" ]]
}

if ! is_our_broker; then
  echo "stop.sh: broker (pid $pid) from $state is not running" >&2
  rm -f "$pid_file"
  exit 0
fi
if ! started="$(start_time)"; then
  echo "stop.sh: broker (pid $pid) from $state exited just now" >&2
  rm -f "$pid_file"
  exit 0
fi

echo "stop.sh: stopping Kafka broker pid $pid" >&2
kill -TERM "$pid" 2>/dev/null || true
start_s=$SECONDS
while still_running; do
  if (( SECONDS - start_s >= grace_s )); then
    echo "stop.sh: broker pid $pid still running after ${grace_s}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    # SIGKILL cannot be ignored; give the kernel a moment to tear it down.
    for _ in $(seq 1 100); do
      still_running || break
      sleep 0.1
    done
    break
  fi
  sleep 0.1
done

if still_running; then
  echo "stop.sh: broker pid $pid did not exit" >&2
  exit 1
fi
rm -f "$pid_file"
echo "stop.sh: stopped after $((SECONDS - start_s))s" >&2
