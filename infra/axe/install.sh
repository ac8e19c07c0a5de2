#!/usr/bin/env bash
# Install axe-core (Deque's accessibility rules engine, pinned with its SHA-512 by package-lock.json
# beside this script) into a cache outside the clone and print the path of its `axe.min.js` (the only
# thing on stdout: AXE_JS="$(infra/axe/install.sh)"). The browser tests inject that file into every page
# they visit and fail on any violation of the WCAG 2.0/2.1 A and AA rules. Nothing of the package is
# executed by npm or node: the browser runs the script. How it is installed: infra/npm-tool.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modules="$("$here/../npm-tool.sh" axe-core "$here" axe-core/axe.min.js)"
echo "$modules/axe-core/axe.min.js"
