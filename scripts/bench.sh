#!/usr/bin/env bash
# Runs the pair benchmark several times (release build) and prints the median of each figure next to
# the peers' figures from ../shared/PEERS.md (smoltcp 0.13.1, lwIP 2.1.3; same machine kind).
# Usage: bash scripts/bench.sh [runs=3] [seconds per figure=3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh
runs=${1:-3}
seconds=${2:-3}
corotcp_install_deps
cmake --preset release >/dev/null
cmake --build --preset release --target pair_bench memory_bench >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
    build/release/benchmarks/pair_bench --seconds "$seconds" >>"$out"
    build/release/benchmarks/pair_bench --seconds "$seconds" --mtu 65535 --only bulk >>"$out"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "median of $runs runs, ${seconds} s per figure"
python3 - "$out" <<'PY'
import statistics, sys
peers = {  # figure: (smoltcp, lwIP) from ../shared/PEERS.md
    "bulk_mtu1500": (30.0, 11.5), "bulk_mtu65535": (39.9, None),
    "conn": (596000, 509000), "rr_delack": (2780000, 1710000), "rr_quickack": (1810000, None),
}
vals, units = {}, {}
for line in open(sys.argv[1]):
    name, value, unit = line.split()[:3]
    vals.setdefault(name, []).append(float(value))
    units[name] = unit
print(f"{'figure':15} {'median':>14} {'unit':18} {'vs smoltcp':>10} {'vs lwIP':>8}")
for name, v in vals.items():
    m = statistics.median(v)
    s, l = peers.get(name, (None, None))
    rs = f"{m / s:.2f}x" if s else "-"
    rl = f"{m / l:.2f}x" if l else "-"
    print(f"{name:15} {m:14.2f} {units[name]:18} {rs:>10} {rl:>8}")
PY
build/release/benchmarks/memory_bench
