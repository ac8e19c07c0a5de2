#!/usr/bin/env bash
# Install an npm test tool, exactly as the package-lock.json beside its package.json pins it, into a
# cache OUTSIDE the clone and print its node_modules directory on stdout (progress on stderr). The one
# home of what infra/asyncapi/install.sh, infra/axe/install.sh and infra/oidc-provider/install.sh share;
# each names its tool and a file that proves the install complete:
#   infra/npm-tool.sh <name> <directory with package.json and package-lock.json> <path under node_modules>
# e.g. infra/npm-tool.sh axe-core infra/axe axe-core/axe.min.js
#
# `npm ci` installs what the lock file names, each tarball checked against the lock file's SHA-512
# integrity (so a changed or substituted tarball is refused whatever the registry says), and first
# removes whatever an interrupted run left; --ignore-scripts: no package runs anything at install time.
# The cache folder is named after the package and lock files' hash, so changing the pins installs
# afresh beside the old copy, and every checkout with the same pins shares one install.
#
# Idempotent: with the stamp present nothing runs (not even npm's start-up).
#
# Environment:
#   CAREERLOOP_CACHE  cache root (default: $HOME/.cache/careerloop)
#   NPM               npm command (default: npm)
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: infra/npm-tool.sh NAME PACKAGE_DIR PROOF_UNDER_NODE_MODULES" >&2
  exit 2
fi
name="$1" package_dir="$2" proof="$3"
pins="$(cat "$package_dir/package.json" "$package_dir/package-lock.json" | sha256sum | cut -c1-16)"
dest="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/npm-$name-$pins"
modules="$dest/node_modules"
stamp="$dest/install.complete"

if [[ -f "$stamp" && -e "$modules/$proof" ]]; then
  echo "$modules"
  exit 0
fi

mkdir -p "$dest"
# Two test runs starting at once must not both install into node_modules/: serialise and re-check.
exec 9>"$dest/.install.lock"
flock 9
if [[ -f "$stamp" && -e "$modules/$proof" ]]; then
  echo "$modules"
  exit 0
fi

npm_cmd="${NPM:-npm}"
if ! command -v "$npm_cmd" >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "$name: node and '$npm_cmd' are needed (Node.js 20+; Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
echo "$name: installing from the npm registry into $dest (pinned by $package_dir/package-lock.json)" >&2
cp "$package_dir/package.json" "$package_dir/package-lock.json" "$dest/"
(cd "$dest" && "$npm_cmd" ci --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error >&2)
if [[ ! -e "$modules/$proof" ]]; then
  echo "$name: $proof missing after npm ci; refusing to mark the cache complete" >&2
  exit 1
fi
touch "$stamp"
echo "$modules"
