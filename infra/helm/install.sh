#!/usr/bin/env bash
# Build Helm (pinned below) from the Go module proxy into a cache OUTSIDE the clone and print the
# binary's path on stdout (progress on stderr), so callers can do: HELM="$(infra/helm/install.sh)".
#
# Why build it: the machine reaches package registries only (the Go module proxy among them), not
# get.helm.sh; `go install module@version` checks every module against the Go checksum database.
# The first build takes a few minutes on 2 cores; the binary is kept under
#   ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/helm-<version>/bin/helm
# and reused by every clone (CI included); Go's module and build caches stay where Go keeps them.
set -euo pipefail

version="v3.16.4"
cache="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/helm-$version"
bin="$cache/bin/helm"

if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "helm/install.sh: 'go' is not on PATH; Go >= 1.22 builds Helm $version" >&2
    exit 1
fi
echo "helm/install.sh: building Helm $version from the Go module proxy (a few minutes, once)" >&2
# Go's own module and build caches (outside the clone) are shared with any other Go build.
export GOTOOLCHAIN=local GOBIN="$cache/bin.partial" GOFLAGS="-mod=mod"
go install "helm.sh/helm/v3/cmd/helm@$version" >&2
rm -rf "$cache/bin"
mv "$cache/bin.partial" "$cache/bin"
"$bin" version --short >&2
echo "$bin"
