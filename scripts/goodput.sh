#!/usr/bin/env bash
# Builds sim_bench (release preset), runs the whole goodput grid in virtual time, and rewrites the generated
# part of docs/goodput.md (date, machine, table) and docs/goodput.svg. The raw output is kept in
# build/release/goodput.txt. Extra arguments go to sim_bench (e.g. --seeds 5). SIM_BENCH=/path/to/sim_bench
# skips the build and runs that binary instead (raw output then goes to $TMPDIR); ENGINE=TEXT names the
# engine version measured (default: the commit, flagged if include/ has uncommitted changes).
# Usage: bash scripts/goodput.sh [sim_bench options]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${SIM_BENCH:-}" ]; then
    bench=$SIM_BENCH
    raw=${TMPDIR:-/tmp}/goodput.txt
else
    source scripts/deps.sh
    corotcp_install_deps
    cmake --preset release >/dev/null
    cmake --build --preset release --target sim_bench >/dev/null
    bench=build/release/benchmarks/sim_bench
    raw=build/release/goodput.txt
fi
started=$SECONDS
"$bench" "$@" | tee "$raw"
echo "sim_bench: $((SECONDS - started)) s wall"
machine="a $(nproc)-core $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) VM"
command="bash scripts/goodput.sh${*:+ $*}"
# Which engine was measured: the commit, and whether include/ had uncommitted changes (ENGINE overrides).
if [ -z "${ENGINE:-}" ]; then
    ENGINE="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git diff --quiet HEAD -- include 2>/dev/null || ENGINE="$ENGINE with uncommitted changes in include/"
fi
python3 scripts/plot_goodput.py "$raw" --svg docs/goodput.svg --markdown docs/goodput.md \
    --date "$(date -u +%F)" --machine "$machine" --command "$command" --engine "$ENGINE"
echo "wrote docs/goodput.md and docs/goodput.svg"
