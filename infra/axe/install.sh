#!/usr/bin/env bash
# Fetch axe-core (Deque's accessibility rules engine, pinned below) from the npm registry into a cache
# outside the clone and print the path of its `axe.min.js` (the only thing on stdout, so callers can
# do: AXE_JS="$(infra/axe/install.sh)"). The browser tests inject that file into every page they visit
# and fail on any violation of the WCAG 2.0/2.1 A and AA rules.
#
# `npm pack` downloads the published tarball (npm checks it against the registry's integrity record);
# the script then checks the same SHA-512 itself against the value pinned here, so a changed or
# substituted tarball is refused whatever the registry says. Nothing is executed from the package.
#
# Idempotent: with the stamp present nothing runs (not even npm's start-up).
#
# Environment:
#   CAREERLOOP_CACHE  cache root (default: $HOME/.cache/careerloop)
#   NPM               npm command (default: npm)
set -euo pipefail

version="4.14.1"
integrity="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
dest="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/axe-core-$version"
script="$dest/package/axe.min.js"
stamp="$dest/install.complete"

if [[ -f "$stamp" && -f "$script" ]]; then
  echo "$script"
  exit 0
fi

mkdir -p "$dest"
# Two test runs starting at once must not both unpack into package/: serialise and re-check.
exec 9>"$dest/.install.lock"
flock 9
if [[ -f "$stamp" && -f "$script" ]]; then
  echo "$script"
  exit 0
fi

npm_cmd="${NPM:-npm}"
if ! command -v "$npm_cmd" >/dev/null 2>&1; then
  echo "axe/install.sh: '$npm_cmd' not found; install Node.js 18+ with npm (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi
echo "axe/install.sh: fetching axe-core $version from the npm registry into $dest" >&2
tarball="$dest/axe-core-$version.tgz"
rm -rf "$dest/package" "$tarball"
(cd "$dest" && "$npm_cmd" pack "axe-core@$version" --silent --no-fund --no-audit >/dev/null)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$integrity" ]]; then
  echo "axe/install.sh: axe-core-$version.tgz has $actual, expected $integrity; refusing it" >&2
  rm -f "$tarball"
  exit 1
fi
tar -xzf "$tarball" -C "$dest" package/axe.min.js package/package.json package/LICENSE
[[ -f "$script" ]] || { echo "axe/install.sh: axe.min.js missing from the tarball" >&2; exit 1; }
touch "$stamp"
echo "$script"
