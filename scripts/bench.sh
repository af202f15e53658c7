#!/usr/bin/env bash
# Runs the pair benchmark several times (release build) and memory_bench once, prints the median of each
# figure next to the peers' figures from ../shared/PEERS.md (smoltcp 0.13.1, lwIP 2.1.3; same machine
# kind), and rewrites the generated part of docs/performance.md (table) and docs/pair.svg (plot).
# The raw output is kept in build/release/bench.txt.
# Usage: bash scripts/bench.sh [runs=5] [seconds per figure=3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh
runs=${1:-5}
seconds=${2:-3}
corotcp_install_deps
cmake --preset release >/dev/null
cmake --build --preset release --target pair_bench memory_bench >/dev/null
raw=build/release/bench.txt
: >"$raw"
for i in $(seq "$runs"); do
    build/release/benchmarks/pair_bench --seconds "$seconds" | tee -a "$raw"
    build/release/benchmarks/pair_bench --seconds "$seconds" --mtu 65535 --only bulk | tee -a "$raw"
done
build/release/benchmarks/memory_bench | tee -a "$raw"
machine="a $(nproc)-core $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) VM (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
engine="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- include 2>/dev/null || engine="$engine with uncommitted changes in include/"
echo
python3 scripts/report_pair.py "$raw" --date "$(date -u +%F)" --machine "$machine" --engine "$engine" \
    --command "bash scripts/bench.sh $runs $seconds"
python3 scripts/report_pair.py "$raw" --svg docs/pair.svg --markdown docs/performance.md --date "$(date -u +%F)" \
    --machine "$machine" --engine "$engine" --command "bash scripts/bench.sh $runs $seconds"
echo "wrote docs/performance.md (pair table) and docs/pair.svg"
