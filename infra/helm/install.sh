#!/usr/bin/env bash
# Build Helm (pinned below) from the Go module proxy into a cache OUTSIDE the clone and print the
# binary's path on stdout (progress on stderr), so callers can do: HELM="$(infra/helm/install.sh)".
# The first build takes a few minutes on 2 cores; the binary is kept under
#   ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/helm-<version>/bin/helm
# (infra/go-tool.sh does the building, for every Go tool: why and how are said there).
set -euo pipefail

exec "$(dirname "${BASH_SOURCE[0]}")/../go-tool.sh" helm helm.sh/helm/v3/cmd/helm v3.16.4 1.22 "a few minutes" "version --short"
