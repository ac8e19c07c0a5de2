#!/usr/bin/env bash
# Install the Debian tools the tests drive as independent clients, when they are missing:
#   docker-compose  `docker-compose config` checks the compose file's interpolation offline
#                   (no Docker engine needed): it must refuse to start without the secrets.
#   postgresql      the storage of the test FerretDB (infra/postgres/start.sh); most machine
#                   images have it already.
#   wrk             `make bench`: the HTTP load generator of the API throughput anchor (bench/api.py).
# Idempotent and quiet when everything is there; needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "tools.sh: install ${missing[*]} (needs root)" >&2; exit 1; }
  sudo=(sudo)
fi
echo "tools.sh: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
