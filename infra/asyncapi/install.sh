#!/usr/bin/env bash
# Install the official AsyncAPI parser (npm @asyncapi/parser, pinned by package.json and
# package-lock.json beside this script) into a cache outside the clone and print the node_modules
# directory that holds it (the only thing on stdout, so callers can do:
# modules="$(infra/asyncapi/install.sh)").
#
# Why a cache and not node_modules in the clone: the clone stays free of generated files, and every
# checkout pinned to the same lock file shares one install.
#
# Idempotent: the cache directory is named by the checksum of package-lock.json and a stamp marks a
# complete install; with the stamp present nothing runs (not even npm's start-up).
#
# Environment:
#   CAREERLOOP_CACHE  cache root (default: $HOME/.cache/careerloop)
#   NPM               npm command (default: npm)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/package-lock.json"
want="$(cat "$here/package.json" "$lock" | sha256sum | cut -c1-16)"
cache_root="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}"
dest="$cache_root/asyncapi-$want"
modules="$dest/node_modules"
stamp="$dest/install.complete"

if [[ -f "$stamp" && -d "$modules" ]]; then
  echo "$modules"
  exit 0
fi

mkdir -p "$dest"
# Two test runs starting at once must not both write into node_modules/: serialise and re-check.
exec 9>"$dest/.install.lock"
flock 9
if [[ -f "$stamp" && -d "$modules" ]]; then
  echo "$modules"
  exit 0
fi

npm_cmd="${NPM:-npm}"
if ! command -v "$npm_cmd" >/dev/null 2>&1; then
  echo "install.sh: '$npm_cmd' not found; install Node.js 18+ with npm (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi

# npm ci installs exactly the lock file's versions (and checks their integrity hashes); it starts by
# removing any node_modules left by an interrupted run, so a partial install is never stamped.
cp "$here/package.json" "$lock" "$dest/"
echo "install.sh: installing @asyncapi/parser into $modules ..." >&2
(cd "$dest" && "$npm_cmd" ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
if [[ ! -f "$modules/@asyncapi/parser/package.json" ]]; then
  echo "install.sh: @asyncapi/parser missing after npm ci; refusing to mark the cache complete" >&2
  exit 1
fi
touch "$stamp"
echo "$modules"
