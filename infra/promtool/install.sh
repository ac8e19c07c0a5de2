#!/usr/bin/env bash
# Build promtool (Prometheus' rule checker and rule unit-test runner, pinned below) from the Go module
# proxy into a cache OUTSIDE the clone and print the binary's path on stdout (progress on stderr), so
# callers can do: PROMTOOL="$(infra/promtool/install.sh)". The first build takes several minutes on 2
# cores; the binary is kept under
#   ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/promtool-<version>/bin/promtool
# (infra/go-tool.sh does the building, for every Go tool: why and how are said there).
#
# Prometheus' Go module versions are v0.<major*100+minor>.<patch>: v0.316.0 is Prometheus 3.16.0
# (its go.mod asks for Go >= 1.26.7, has no replace directive, so `go install @version` works).
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/../go-tool.sh" promtool github.com/prometheus/prometheus/cmd/promtool v0.316.0 1.26.7 \
    "several minutes" --version
