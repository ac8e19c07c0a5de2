#!/usr/bin/env bash
# Start a real single-node Apache Kafka broker (KRaft, combined broker +
# controller) on 127.0.0.1, without Docker, and wait until it serves metadata.
#
# usage: infra/kafka/start.sh <state-dir>
#
# <state-dir> holds everything of this broker: server.properties and
# log4j2.properties (rewritten on every start), data/ (the log dirs, formatted
# on first start and kept across restarts), kafka.log (stdout/stderr of the
# JVM, appended to, so a failed run can be read afterwards) and kafka.pid.
#
# If a broker started from this state dir is still running, nothing is started;
# the script only waits for it to be ready. Stop it with infra/kafka/stop.sh.
#
# Environment:
#   KAFKA_PORT             client listener port        (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port       (default 9093)
#   KAFKA_READY_TIMEOUT    seconds to wait for ready   (default 90)
#   KAFKA_HEAP_OPTS        JVM heap flags    (default -Xms256m -Xmx512m)
#   KAFKA_JVM_OPTS         extra JVM flags   (default none)
#   PYTHON                 python with kafka-python, for wait_ready.py (default python3)
#   JAVA_HOME / JAVA       Java 17+ to run the broker (default: java on PATH)
#   KAFKA_EXTRA_PROPERTIES a file appended to server.properties (a later key wins):
#                          more listeners, TLS, SASL, an authorizer (tests of a
#                          secured broker: tests/integration/test_kafka_secured.py)
#   KAFKA_SCRAM_USERS      SCRAM credentials created when the log dir is formatted,
#                          one per line: SCRAM-SHA-512=[name=<user>,password=<pw>]
#   CAREERLOOP_CACHE       see fetch.sh
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 <state-dir>" >&2
  exit 64
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
state="$(cd "$1" && pwd)"   # absolute: it is written into server.properties

host=127.0.0.1
port="${KAFKA_PORT:-9092}"
ctrl_port="${KAFKA_CONTROLLER_PORT:-9093}"
timeout_s="${KAFKA_READY_TIMEOUT:-90}"
python="${PYTHON:-python3}"
if [[ -n "${JAVA:-}" ]]; then
  java="$JAVA"
elif [[ -n "${JAVA_HOME:-}" ]]; then
  java="$JAVA_HOME/bin/java"
else
  java=java
fi

props="$state/server.properties"
log4j_conf="$state/log4j2.properties"
data="$state/data"
log_file="$state/kafka.log"
pid_file="$state/kafka.pid"

# Print the end of the broker log; the reason for a failed start is there.
show_log_tail() {
  if [[ -f "$log_file" ]]; then
    echo "----- last 80 lines of $log_file -----" >&2
    tail -n 80 "$log_file" >&2
    echo "----- end of $log_file -----" >&2
  fi
}

# A pid is only "our broker" if that process is alive and is a kafka.Kafka JVM
# started with this state dir's server.properties: after a reboot or a crash
# the pid in the file may belong to an unrelated process.
broker_pid() {
  local pid cmdline
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Read into a variable rather than piping into grep -q: grep exiting early
  # makes the writer die of SIGPIPE, which pipefail turns into a false "no".
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"kafka.Kafka $props"* ]] || return 1
  echo "$pid"
}

cluster_id() {
  sed -n 's/^cluster\.id=//p' "$data/meta.properties" 2>/dev/null
}

# $2 = "stop-on-failure": the broker was started by this run, so a failed
# start must not leave it behind holding the ports (its log stays).
wait_ready() {
  local pid="$1" on_failure="${2:-}" cid
  cid="$(cluster_id)"
  local args=("$host:$port" "$timeout_s" --pid "$pid")
  if [[ -n "$cid" ]]; then
    args+=(--cluster-id "$cid")
  fi
  if ! "$python" "$here/wait_ready.py" "${args[@]}"; then
    echo "start.sh: Kafka broker (pid $pid) from $state is not ready" >&2
    show_log_tail
    if [[ "$on_failure" == stop-on-failure ]]; then
      "$here/stop.sh" "$state" || true
    fi
    exit 1
  fi
}

# Check the readiness probe's prerequisites before starting anything, so a
# missing kafka-python is reported as such and not as a broker that never
# became ready.
if ! "$python" -c 'import kafka' 2>/dev/null; then
  echo "start.sh: '$python' cannot import kafka (kafka-python); set PYTHON to the project's venv python" >&2
  exit 1
fi

if pid="$(broker_pid)"; then
  echo "start.sh: broker already running from $state (pid $pid); waiting for it" >&2
  wait_ready "$pid"
  exit 0
fi

# Refuse early if something else owns a port: the broker would die with a
# BindException, and worse, the readiness probe might talk to the other one.
for p in "$port" "$ctrl_port"; do
  if (exec 3<>"/dev/tcp/$host/$p") 2>/dev/null; then
    echo "start.sh: $host:$p is already in use; pick other KAFKA_PORT / KAFKA_CONTROLLER_PORT" >&2
    exit 1
  fi
done

libs="$("$here/fetch.sh")"
classpath="$libs/*"

# Rewritten on every start so a change of ports (or of this script) applies to
# an existing state dir; the data itself does not depend on these values.
cat >"$props" <<PROPS
# Generated by infra/kafka/start.sh; rewritten on every start.
# One JVM is both the KRaft controller and the broker.
process.roles=broker,controller
node.id=1
# Static quorum of one voter (formatted without --standalone).
controller.quorum.voters=1@$host:$ctrl_port
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$ctrl_port
advertised.listeners=PLAINTEXT://$host:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data

# Topics are created explicitly (admin API); a producer or consumer naming an
# unknown topic must get an error, never a silently created topic.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1

# A single broker cannot satisfy the default replication factor of 3 for the
# internal topics; without these the coordinators never come up.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1

# Tests: no 3 s wait before the first rebalance, and allow short sessions.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000

# broker.session.timeout.ms stays at its 9 s default on purpose: after a
# SIGKILL the restarted broker is refused (DUPLICATE_BROKER_REGISTRATION) until
# the old session expires, so that restart takes ~12 s instead of ~3 s; a
# shorter session would instead risk fencing the only broker whenever a busy
# 2-core CI machine delays its heartbeats.

# The log cleaner (needed for compacted topics such as __consumer_offsets)
# takes its dedupe buffer from the heap; the 128 MiB default is a quarter of
# our -Xmx for a workload of a few test messages.
log.cleaner.dedupe.buffer.size=16777216
PROPS
if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
  { echo; echo "# From KAFKA_EXTRA_PROPERTIES ($KAFKA_EXTRA_PROPERTIES)"; cat "$KAFKA_EXTRA_PROPERTIES"; } >>"$props"
fi

# Console only: the launcher below sends stdout/stderr to kafka.log, so one
# file holds the whole story of a run (Kafka's default config would spread it
# over server.log, controller.log, state-change.log, ...).
cat >"$log4j_conf" <<'LOG4J'
# Generated by infra/kafka/start.sh; rewritten on every start.
status = warn
name = careerloop-kafka
# Kafka shuts down from its own JVM shutdown hook; log4j's hook would run at
# the same time and close the appender, losing the last lines of a shutdown.
# Without it nothing is lost: the console appender flushes every line.
shutdownHook = disable
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# Per-request logging is far too chatty at INFO.
logger.request.name = kafka.request.logger
logger.request.level = WARN
LOG4J

# Kept separate from KAFKA_JVM_OPTS so callers can add flags without
# repeating the heap size.
read -r -a heap_opts <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
read -r -a extra_opts <<<"${KAFKA_JVM_OPTS:-}"
# Same GC settings as Kafka's own kafka-run-class.sh, plus exit on OOM so a
# broken broker dies visibly instead of limping on.
jvm_opts=(
  "${heap_opts[@]}"
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$log4j_conf"
  ${extra_opts[@]+"${extra_opts[@]}"}
)

mkdir -p "$data"
{
  echo
  echo "===== start.sh $(date -u +%Y-%m-%dT%H:%M:%SZ): Kafka from $libs on $host:$port (controller $ctrl_port) ====="
} >>"$log_file"

# First start only: KRaft refuses to run on an unformatted log dir. meta.properties
# is what the formatter writes, so it tells "formatted" apart from "empty".
if [[ ! -f "$data/meta.properties" ]]; then
  # The tool prints the id on stdout, but its log4j lines go to stdout too
  # (console appender), so pick the line that looks like a Kafka Uuid
  # (22 characters of URL-safe base64).
  if ! uuid_out="$("$java" "-Dlog4j2.configurationFile=$log4j_conf" -cp "$classpath" \
      kafka.tools.StorageTool random-uuid 2>&1)"; then
    printf '%s\n' "$uuid_out" >>"$log_file"
    echo "start.sh: kafka.tools.StorageTool random-uuid failed" >&2
    show_log_tail
    exit 1
  fi
  printf '%s\n' "$uuid_out" >>"$log_file"
  new_id="$(grep -E '^[A-Za-z0-9_-]{22}$' <<<"$uuid_out" | tail -n 1 || true)"
  if [[ -z "$new_id" ]]; then
    echo "start.sh: kafka.tools.StorageTool random-uuid printed no cluster id" >&2
    show_log_tail
    exit 1
  fi
  echo "start.sh: formatting $data (cluster id $new_id)" >&2
  scram=()
  while IFS= read -r credential; do
    [[ -n "$credential" ]] && scram+=(--add-scram "$credential")
  done <<<"${KAFKA_SCRAM_USERS:-}"
  if ! "$java" "-Dlog4j2.configurationFile=$log4j_conf" -cp "$classpath" kafka.tools.StorageTool \
      format -t "$new_id" -c "$props" ${scram[@]+"${scram[@]}"} >>"$log_file" 2>&1; then
    echo "start.sh: formatting $data failed" >&2
    show_log_tail
    exit 1
  fi
fi

# A stale pid file (dead broker) must not be mistaken for the new one below.
rm -f "$pid_file"

# setsid: the broker gets its own session, so a Ctrl-C or SIGHUP aimed at the
# shell that ran start.sh does not reach it; it lives until stop.sh. The inner
# shell writes its own pid and then execs java, so the pid file names the JVM
# whether or not setsid had to fork.
# shellcheck disable=SC2016 # $$ and $@ belong to the inner shell: single quotes on purpose
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pid_file" \
  "$java" "${jvm_opts[@]}" -cp "$classpath" kafka.Kafka "$props" \
  </dev/null >>"$log_file" 2>&1 &

# Wait for the pid file (written within milliseconds by the inner shell).
for _ in $(seq 1 50); do
  [[ -s "$pid_file" ]] && break
  sleep 0.1
done
pid="$(cat "$pid_file" 2>/dev/null || true)"
if [[ -z "$pid" ]]; then
  echo "start.sh: broker process did not start" >&2
  show_log_tail
  exit 1
fi
echo "start.sh: started Kafka broker pid $pid on $host:$port (state $state)" >&2
wait_ready "$pid" stop-on-failure
