#!/usr/bin/env bash
# Build one Go command, pinned, from the Go module proxy into a cache OUTSIDE the clone and print the
# binary's path on stdout (progress on stderr). The one home of what infra/helm/install.sh and
# infra/promtool/install.sh share; each of them names its tool:
#   infra/go-tool.sh <name> <module path of the command> <version> <Go it needs> <how long> <version flag>
# e.g. infra/go-tool.sh helm helm.sh/helm/v3/cmd/helm v3.16.4 1.22 "a few minutes" "version --short"
#
# Why build it: the machine reaches package registries only (the Go module proxy among them), not the
# projects' release downloads; `go install module@version` checks every module against the Go checksum
# database. The binary is kept under
#   ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/<name>-<version>/bin/<name>
# and reused by every clone (CI included); Go's module and build caches stay where Go keeps them.
set -euo pipefail

if [[ $# -ne 6 ]]; then
    echo "usage: infra/go-tool.sh NAME MODULE_COMMAND VERSION GO_VERSION DURATION VERSION_FLAGS" >&2
    exit 2
fi
name="$1" command="$2" version="$3" go_version="$4" duration="$5" version_flags="$6"
cache="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/$name-$version"
bin="$cache/bin/$name"

if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "$name/install.sh: 'go' is not on PATH; Go >= $go_version builds $name $version" >&2
    exit 1
fi
echo "$name/install.sh: building $name $version from the Go module proxy ($duration, once)" >&2
# GOBIN is a partial folder renamed into place when the build succeeded: an interrupted build is never
# taken for a finished one. Go's own module and build caches are shared with any other Go build.
export GOTOOLCHAIN=local GOBIN="$cache/bin.partial" GOFLAGS="-mod=mod"
go install "$command@$version" >&2
rm -rf "$cache/bin"
mv "$cache/bin.partial" "$cache/bin"
# shellcheck disable=SC2086  # the flags are words on purpose ("version --short")
"$bin" $version_flags >&2
echo "$bin"
