#!/usr/bin/env bash
# Install node-oidc-provider (panva's OpenID Certified provider, pinned with every dependency by
# package-lock.json beside this script) into a cache outside the clone and print the path of its
# node_modules (the only thing on stdout: MODULES="$(infra/oidc-provider/install.sh)").
# tests/web/test_oidc.py runs tests/web/oidc_provider.mjs with it: a real OpenID Provider for the web
# front end's sign-in and sign-out. Test tooling only: nothing of it is deployed. How it is installed:
# infra/npm-tool.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../npm-tool.sh" oidc-provider "$here" oidc-provider/package.json
