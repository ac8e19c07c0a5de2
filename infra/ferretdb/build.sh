#!/usr/bin/env bash
# Build careerloop-ferretdb (main.go here: FerretDB v1.24 + SQLite backend,
# a real MongoDB wire-protocol server) into a cache OUTSIDE the git clone and
# print the binary's path on stdout. All progress messages go to stderr, so
# callers can do: BIN="$(infra/ferretdb/build.sh)".
#
# Why a cache outside the clone: the first build compiles modernc.org/sqlite
# (SQLite transpiled to Go): about a minute on 2 cores, up to ~0.7 GB of RAM
# per compiler process, plus ~1 GB of module and build caches. Keeping
# the binary, GOMODCACHE and GOCACHE under
#   ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/ferretdb/
# lets a fresh clone (CI) reuse them. The binary is rebuilt only when the
# stamp (hash of main.go, go.mod, go.sum and the Go version) changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/ferretdb"
bin="$cache/bin/careerloop-ferretdb"
stamp="$bin.stamp"

log() { echo "ferretdb/build.sh: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
    log "'go' is not on PATH; Go >= 1.24 is needed to build FerretDB"
    exit 1
fi

# Never let go.mod's go/toolchain lines trigger a toolchain download: only the
# module proxy is reachable, and the installed Go is new enough.
export GOTOOLCHAIN=local
export GOMODCACHE="$cache/gomodcache"
export GOCACHE="$cache/gocache"
# Pure-Go SQLite: no C compiler needed, and a static binary.
export CGO_ENABLED=0
# -mod=readonly: go.sum is committed, so a build never rewrites go.mod/go.sum
# and uses exactly the pinned versions. -buildvcs=false: the module lives in a
# subdirectory of a (possibly dirty) git checkout; VCS stamping is useless here.
# Set explicitly so that a GOFLAGS from the environment cannot change the build.
export GOFLAGS="-mod=readonly -buildvcs=false -trimpath"

want="$(
    cd "$here"
    {
        sha256sum main.go go.mod go.sum
        go env GOVERSION GOOS GOARCH
        echo "GOFLAGS=$GOFLAGS CGO_ENABLED=$CGO_ENABLED"
    } | sha256sum | cut -d' ' -f1
)"

up_to_date() { [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }

if up_to_date; then
    echo "$bin"
    exit 0
fi

mkdir -p "$cache/bin"
# Serialise concurrent builds (e.g. two test jobs starting at once): the
# second waits for the first and then finds the binary up to date.
exec 9>"$cache/build.lock"
flock 9
if up_to_date; then
    echo "$bin"
    exit 0
fi

log "building $bin (the first build compiles SQLite: about 1 min on 2 cores, <1 GB RAM)"
start=$SECONDS
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
    cd "$here"
    go build -ldflags="-s -w" -o "$tmp" .
)
# Replace atomically, so a running server or a concurrent reader never sees a
# half-written file; write the stamp only after the binary is in place.
mv -f "$tmp" "$bin"
echo "$want" >"$stamp"
log "built in $((SECONDS - start)) s"
echo "$bin"
