#!/usr/bin/env bash
# Regenerates docs/state-machine.dot from the transition table and renders docs/state-machine.svg.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -std=c++20 -Iinclude -c tests/catch_main.cpp -o "$tmp/main.o"
g++ -std=c++20 -Iinclude tests/tcp/state_diagram_test.cpp "$tmp/main.o" -o "$tmp/diagram"
COROTCP_UPDATE_DOCS=1 "$tmp/diagram" >/dev/null
if command -v dot >/dev/null; then
  dot -Tsvg docs/state-machine.dot -o docs/state-machine.svg
  echo "wrote docs/state-machine.dot and docs/state-machine.svg"
else
  echo "wrote docs/state-machine.dot (install graphviz to render the SVG)"
fi
