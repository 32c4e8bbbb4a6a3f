#!/usr/bin/env bash
# The scale-out tests start a throwaway PostgreSQL server from Debian's packages
# (tests/scaleout/conftest.py). Install the server binaries when the machine has none.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL server binaries (initdb) are missing and apt-get is unavailable:" >&2
    echo "install PostgreSQL 13+ (server) with your package manager, then re-run 'make test'." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing PostgreSQL from Debian's packages for the scale-out tests..."
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
