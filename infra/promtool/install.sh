#!/usr/bin/env bash
# Build promtool (Prometheus' rule checker and rule unit-test runner, pinned below) from the Go module
# proxy into a cache OUTSIDE the clone and print the binary's path on stdout (progress on stderr), so
# callers can do: PROMTOOL="$(infra/promtool/install.sh)". Modelled on infra/helm/install.sh.
#
# Why build it: the machine reaches package registries only (the Go module proxy among them), not
# GitHub releases; `go install module@version` checks every module against the Go checksum database.
# Prometheus' Go module versions are v0.<major*100+minor>.<patch>: v0.316.0 is Prometheus 3.16.0
# (its go.mod asks for Go >= 1.26.7, has no replace directive, so `go install @version` works).
# The first build takes several minutes on 2 cores; the binary is kept under
#   ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/promtool-<version>/bin/promtool
# and reused by every clone (CI included); Go's module and build caches stay where Go keeps them.
set -euo pipefail

version="v0.316.0"
cache="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/promtool-$version"
bin="$cache/bin/promtool"

if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
fi
if ! command -v go >/dev/null 2>&1; then
    echo "promtool/install.sh: 'go' is not on PATH; Go >= 1.26.7 builds promtool $version" >&2
    exit 1
fi
echo "promtool/install.sh: building promtool $version from the Go module proxy (several minutes, once)" >&2
# Go's own module and build caches (outside the clone) are shared with any other Go build.
export GOTOOLCHAIN=local GOBIN="$cache/bin.partial" GOFLAGS="-mod=mod"
go install "github.com/prometheus/prometheus/cmd/promtool@$version" >&2
rm -rf "$cache/bin"
mv "$cache/bin.partial" "$cache/bin"
"$bin" --version >&2
echo "$bin"
