#!/usr/bin/env bash
# Run a command with a real Kafka broker and a real MongoDB-wire server available.
#
# usage: infra/with-backends.sh <command...>      (what `make test` runs around pytest)
#
# Whatever is already configured is used as it is: KAFKA_BOOTSTRAP_SERVERS (host:port) and
# MONGODB_URI (mongodb://host:port). What is not configured is started here on free loopback
# ports — Apache Kafka 4.x (KRaft, single node, jars from Maven Central) and FerretDB v1.24
# (MongoDB wire protocol, built from the Go module proxy) on Debian's PostgreSQL — cached outside
# the clone (CAREERLOOP_CACHE, default ~/.cache/careerloop) so a fresh clone reuses them. Their
# state and logs stay under var/test-backends/ so a failed run can be read; they are stopped on exit.
#
# FERRETDB_BACKEND=postgresql (default) or sqlite picks FerretDB's storage: on PostgreSQL it
# filters a query's top-level equalities in the database (on SQLite it reads the collection) and
# writes 1.3-5x faster (README "Benchmarks", the MongoDB-wire server); SQLite needs no server of its own.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
state="${TEST_BACKENDS_DIR:-$root/var/test-backends}"
python="${PYTHON:-$root/.venv/bin/python}"
export PYTHON="$python"

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

started=()
cleanup() {
  local status=$?
  local i
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do  # reverse order: FerretDB before its PostgreSQL
    "$here/${started[i]}/stop.sh" "$state/${started[i]}" >/dev/null 2>&1 \
      || echo "could not stop ${started[i]} (state in $state/${started[i]})" >&2
  done
  exit "$status"
}
trap cleanup EXIT INT TERM

if [[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
  rm -rf "$state/kafka"   # a fresh broker per run: tests must not depend on leftovers
  export KAFKA_PORT KAFKA_CONTROLLER_PORT
  KAFKA_PORT="$(free_port)"; KAFKA_CONTROLLER_PORT="$(free_port)"
  echo "starting Kafka on 127.0.0.1:$KAFKA_PORT (logs: $state/kafka/kafka.log)"
  started+=(kafka)
  "$here/kafka/start.sh" "$state/kafka" >/dev/null
  export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
fi

if [[ -z "${MONGODB_URI:-}" ]]; then
  rm -rf "$state/ferretdb"
  case "${FERRETDB_BACKEND:-postgresql}" in
    postgresql)
      rm -rf "$state/postgres"
      echo "starting PostgreSQL for FerretDB (state: $state/postgres)"
      started+=(postgres)
      export FERRETDB_POSTGRESQL_URL
      FERRETDB_POSTGRESQL_URL="$(POSTGRES_PORT="$(free_port)" POSTGRES_FRESH=1 "$here/postgres/start.sh" "$state/postgres")"
      ;;
    sqlite) unset FERRETDB_POSTGRESQL_URL ;;
    *) echo "FERRETDB_BACKEND must be postgresql or sqlite" >&2; exit 2 ;;
  esac
  export FERRETDB_PORT
  FERRETDB_PORT="$(free_port)"
  echo "starting FerretDB (${FERRETDB_BACKEND:-postgresql}) on 127.0.0.1:$FERRETDB_PORT (logs: $state/ferretdb/ferretdb.log)"
  started+=(ferretdb)
  "$here/ferretdb/start.sh" "$state/ferretdb" >/dev/null
  export MONGODB_URI="mongodb://127.0.0.1:$FERRETDB_PORT"
fi

echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS MONGODB_URI=$MONGODB_URI"
"$@"
