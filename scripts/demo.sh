#!/usr/bin/env bash
# Builds the release preset and runs examples/http_demo: an HTTP server and client, each on its own
# corotcp stack, talking over the in-memory pipe. Extra arguments go to the demo.
# Usage: bash scripts/demo.sh [args...]   (from any directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

if [ ! -f examples/http_demo.cpp ]; then
    echo "error: examples/http_demo.cpp does not exist yet, so there is no demo to run" >&2
    exit 1
fi
corotcp_install_deps
cmake --preset release
cmake --build --preset release --target http_demo
exec build/release/examples/http_demo "$@"
