#!/usr/bin/env bash
# The Redis rate-limiter tests start a throwaway redis-server on a free loopback port
# (tests/client/redis_server.py). Install the server binary when the machine has none.
# Only the binary is needed: the packaged system service is neither enabled nor started here.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing and apt-get is unavailable:" >&2
    echo "install Redis 6+ (server) with your package manager, then re-run 'make test'." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "redis-server is missing and installing it needs root (sudo is unavailable):" >&2
        echo "run 'apt-get install -y redis-server' as root, then re-run 'make test'." >&2
        exit 1
    fi
    SUDO="sudo"
fi
echo "Installing redis-server from Debian's packages for the Redis rate-limiter tests..."
# policy-rc.d exit 101 tells invoke-rc.d not to start the packaged service during install
# (tests start their own server); the file is removed again whatever happens.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    if printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod 755 "$POLICY"; then
        trap '$SUDO rm -f "$POLICY"' EXIT
    fi
fi
if ! $SUDO apt-get update -qq \
    || ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; then
    echo "Could not install redis-server with apt-get: install Redis 6+ (server) yourself," >&2
    echo "then re-run 'make test'." >&2
    exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "apt-get installed redis-server but it is not on PATH; add /usr/bin to PATH." >&2
    exit 1
fi
