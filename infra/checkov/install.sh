#!/usr/bin/env bash
# Install checkov (the infrastructure-as-code scanner the chart's security test runs), pinned with every
# package it pulls in by requirements.txt beside this script, into a virtualenv of its own in a cache
# OUTSIDE the clone, and print the path of the command to run (the only thing on stdout, so callers can
# do: CHECKOV="$(infra/checkov/install.sh)"); progress goes to stderr.
#
# Why a virtualenv of its own: checkov pins dozens of packages (boto3, networkx, pydantic, ...) that
# would fight the project's; it is a tool the tests run, never a library they import.
# Why a wrapper: the printed command is a script that runs checkov offline whoever calls it: no
# Prisma Cloud/Bridgecrew key, no download of guidelines, ID mappings or custom policies
# (BC_SKIP_MAPPING, --skip-download), no PyPI version check (CKV_SKIP_PACKAGE_UPDATE_CHECK), no package
# scan against a vulnerability service (CHECKOV_RUN_SCA_PACKAGE_SCAN_V2). Only its built-in policies run.
#
# Idempotent: the cache is ${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/checkov-<version>/ and a stamp
# holding the checksum of requirements.txt marks a complete install; with it present nothing runs.
#
# Environment:
#   CAREERLOOP_CACHE  cache root (default: $HOME/.cache/careerloop)
#   PYTHON            the interpreter of the virtualenv (default: python3; checkov 3.3 needs >= 3.9)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/requirements.txt"
version="$(sed -n 's/^checkov==//p' "$requirements")"
want="$(sha256sum "$requirements" | cut -c1-16)"
dest="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}/checkov-$version"
command="$dest/bin/checkov"
stamp="$dest/install.complete"

if [[ -x "$command" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    echo "$command"
    exit 0
fi

mkdir -p "$dest"
# Two test runs starting at once must not both write into the virtualenv: serialise and re-check.
exec 9>"$dest/.install.lock"
flock 9
if [[ -x "$command" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    echo "$command"
    exit 0
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "checkov/install.sh: '$python' is missing or older than Python 3.9, which checkov $version needs" >&2
    exit 1
fi
echo "checkov/install.sh: installing checkov $version into $dest (about half a minute, once)" >&2
rm -rf "$dest/venv" "$dest/bin" "$stamp"
"$python" -m venv "$dest/venv"
"$dest/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements" >&2

mkdir -p "$dest/bin"
cat >"$command.partial" <<WRAPPER
#!/usr/bin/env bash
# checkov $version, offline (written by infra/checkov/install.sh, which says why).
unset BC_API_KEY PRISMA_API_URL BC_API_URL
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
exec "$dest/venv/bin/checkov" --skip-download "\$@"
WRAPPER
chmod +x "$command.partial"
mv "$command.partial" "$command"
[[ "$("$command" --version)" == "$version" ]] || { echo "checkov/install.sh: checkov --version is not $version" >&2; exit 1; }
echo "$want" >"$stamp"
echo "checkov/install.sh: checkov $version ready" >&2
echo "$command"
