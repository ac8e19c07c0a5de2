#!/usr/bin/env bash
# Install node-oidc-provider (panva's OpenID Certified provider, from the npm registry) with exactly the
# packages pinned by package-lock.json beside this script, into a cache outside the clone, and print
# the path of its node_modules (the only thing on stdout: MODULES="$(infra/oidc-provider/install.sh)").
# tests/web/test_oidc.py runs tests/web/oidc_provider.mjs with it: a real OpenID Provider for the web
# front end's sign-in and sign-out. Test tooling only: nothing of it is deployed.
#
# `npm ci` installs what the lock file names, each tarball checked against the lock file's SHA-512
# integrity; --ignore-scripts: no package runs anything at install time. The cache folder is named
# after the lock file's hash, so changing the pins installs afresh beside the old copy.
#
# Idempotent: with the stamp present nothing runs (not even npm's start-up).
#
# Environment:
#   CAREERLOOP_CACHE  cache root (default: $HOME/.cache/careerloop)
#   NPM               npm command (default: npm)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="9.13.3"
lock_hash="$(sha256sum "$here/package-lock.json" | cut -c1-12)"
dest="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/oidc-provider-$version-$lock_hash"
modules="$dest/node_modules"
stamp="$dest/install.complete"

if [[ -f "$stamp" && -d "$modules/oidc-provider" ]]; then
  echo "$modules"
  exit 0
fi

mkdir -p "$dest"
# Two test runs starting at once must not both install into node_modules: serialise and re-check.
exec 9>"$dest/.install.lock"
flock 9
if [[ -f "$stamp" && -d "$modules/oidc-provider" ]]; then
  echo "$modules"
  exit 0
fi

npm_cmd="${NPM:-npm}"
if ! command -v "$npm_cmd" >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "oidc-provider/install.sh: node and '$npm_cmd' are needed (Node.js 20.19+; Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
echo "oidc-provider/install.sh: installing oidc-provider $version from the npm registry into $dest" >&2
cp "$here/package.json" "$here/package-lock.json" "$dest/"
rm -rf "$modules"
(cd "$dest" && "$npm_cmd" ci --ignore-scripts --omit=dev --no-audit --no-fund --silent >&2)
[[ -d "$modules/oidc-provider" ]] || { echo "oidc-provider/install.sh: oidc-provider missing after npm ci" >&2; exit 1; }
touch "$stamp"
echo "$modules"
