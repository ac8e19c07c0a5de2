#!/usr/bin/env bash
# Install the official AsyncAPI parser (npm @asyncapi/parser, pinned with every dependency by
# package-lock.json beside this script) into a cache outside the clone and print the node_modules
# directory that holds it (the only thing on stdout: modules="$(infra/asyncapi/install.sh)").
# tests/asyncapi/validate.mjs validates docs/asyncapi.json with it. How it is installed: infra/npm-tool.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../npm-tool.sh" asyncapi-parser "$here" @asyncapi/parser/package.json
