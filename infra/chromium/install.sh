#!/usr/bin/env bash
# Install Debian's `chromium` package when it is missing and print the browser's executable path (the
# only thing on stdout, so callers can do: CHROMIUM="$(infra/chromium/install.sh)").
#
# Why Debian's package: the machines reach package registries only, so Playwright's own browser
# download (`playwright install`) cannot run; Playwright for Python drives this executable instead
# (`executable_path`, see tests/browser). Debian keeps it patched through bookworm-security.
#
# Idempotent and quiet when the browser is there; needs root (or sudo) only to install it.
#
# Environment:
#   CHROMIUM  an executable to use instead (checked, printed, nothing installed)
set -euo pipefail

find_chromium() {
  local candidate
  for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if found="$(find_chromium)"; then
  echo "$found"
  exit 0
fi
if [[ -n "${CHROMIUM:-}" ]]; then
  echo "chromium/install.sh: CHROMIUM=$CHROMIUM is not an executable" >&2
  exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "chromium/install.sh: install Debian's chromium package (needs root)" >&2; exit 1; }
  sudo=(sudo)
fi
# Two test runs starting at once would both run apt-get, and the second would fail on dpkg's lock.
exec 9>"/tmp/careerloop-chromium-install.lock"
flock 9
if found="$(find_chromium)"; then
  echo "$found"
  exit 0
fi
echo "chromium/install.sh: installing Debian's chromium package (once)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
# fonts-liberation: metric-compatible fonts, so text renders (and screenshots look) the same everywhere
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
found="$(find_chromium)" || { echo "chromium/install.sh: chromium missing after apt-get install" >&2; exit 1; }
"$found" --version >&2
echo "$found"
