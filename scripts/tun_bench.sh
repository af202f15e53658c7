#!/usr/bin/env bash
# corotcp over a TUN device against the Linux kernel, and the kernel against itself over a veth pair,
# in one run, in private network namespaces (the root namespace is never touched).
#
# Figures (benchmarks/tun_bench.cpp is corotcp's side, benchmarks/kernel_peer.cpp the kernel's; the
# server's side reports, the client drives; modes are named from the server's side):
#   bulk_rx  kernel client -> server, 64 KiB writes        (Gbit/s of payload)
#   bulk_tx  server -> kernel client, 64 KiB writes        (Gbit/s)
#   rr       64 B request/response on one connection       (round trips/s)
#   conn     connect, 64 B echo, close; sequential         (connections/s)
# each measured for four configurations:
#   tun+offload   corotcp server on TUN with offloads (IFF_VNET_HDR, whatever tun_link offers)
#   tun           corotcp server on TUN without offloads
#   veth+offload  kernel server in a second namespace, joined by a veth pair with its default offloads
#   veth          the same with tx/rx checksumming, SG, TSO, GSO and GRO turned off on both ends
# every one --runs times (default 3), interleaved; prints the medians, the ratios to the kernel over
# veth and to the TUN packet ceiling of ../shared/PEERS.md, and whether issue 5's targets are met.
#
# Usage: bash scripts/tun_bench.sh [--runs N] [--seconds S] [--bin DIR] [--modes "bulk-rx rr ..."]
#                                  [--busy-poll US] [--tun-opts "--reads 4 ..."] [--pin] [--smoke]
#   --bin DIR   where tun_bench and kernel_peer are (default: build them with the release preset)
#   --tun-opts  extra tun_bench options for every corotcp run (experiments: --no-multishot (poll +
#               read() drain instead of the multishot read), --reads N (N > 0: N armed reads),
#               --batch N, --no-uring, --buffer B)
#   --busy-poll corotcp's busy polling before it blocks, in microseconds (tun_options::busy_poll_us;
#               default 50; 0: off). The kernel over veth needs no wake-up per packet (the sender's
#               softirq runs the receiver's TCP); a userspace stack sleeping in io_uring does.
#   --pin       servers on CPU 0 and clients on CPU 1 (taskset), in every configuration alike. Unpinned,
#               conn lands at about 14,000 or 18,000 connections/s from run to run, for corotcp and
#               (session 11) the kernel alike; pinned, both move together from round to round (session 10;
#               docs/performance.md).
#   --smoke     one run of 0.5 s per figure; fails unless every figure is non-zero (the ctest `tun:bench_smoke`)
# Needs root, /dev/net/tun, unshare and nsenter (util-linux), ip (iproute2): without them it exits 77
# (skipped), or 1 when CI=true. Every wait is bounded, every process has a time limit, and everything
# it starts is stopped on exit (the namespaces vanish with their last process).
set -uo pipefail

NAME=tun_bench
log() { echo "[$NAME] $*"; }
skip_or_fail() {
    if [ "${CI:-}" = "true" ]; then
        echo "[$NAME] FAIL (CI=true, so not skipped): $*" >&2
        exit 1
    fi
    echo "[$NAME] SKIPPED: $*" >&2
    exit 77
}

RUNS=3
SECONDS_PER=3
BIN=""
MODES="bulk-rx bulk-tx rr conn"
SMOKE=0
TUN_OPTS=""
BUSY_POLL=50
PIN=0
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    --seconds) SECONDS_PER=${2:?}; shift 2 ;;
    --bin) BIN=${2:?}; shift 2 ;;
    --modes) MODES=${2:?}; shift 2 ;;
    --tun-opts) TUN_OPTS=${2?}; shift 2 ;;
    --busy-poll) BUSY_POLL=${2:?}; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --pin) PIN=1; shift ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--runs N] [--seconds S] [--bin DIR] [--modes LIST] [--busy-poll US] [--tun-opts OPTS] [--pin] [--smoke]" >&2; exit 2 ;;
    esac
done
if [ "$SMOKE" = 1 ]; then
    RUNS=1
    SECONDS_PER=0.5
fi
if ! [[ $RUNS =~ ^[0-9]+$ ]] || [ "$RUNS" -lt 1 ] || [ "$RUNS" -gt 50 ]; then echo "--runs: 1..50" >&2; exit 2; fi
[[ $SECONDS_PER =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "--seconds: a number" >&2; exit 2; }
for m in $MODES; do
    case $m in bulk-rx | bulk-tx | rr | conn) ;; *) echo "--modes: bulk-rx, bulk-tx, rr, conn" >&2; exit 2 ;; esac
done
# --pin: every server (corotcp's and the kernel's) on CPU 0, every client on CPU 1, the same for all
# four configurations; without it the scheduler places them (and may put both on one CPU).
SERVER_CPU=(env)
CLIENT_CPU=(env)
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null || { echo "--pin needs taskset (util-linux)" >&2; exit 2; }
    [ "$(nproc)" -ge 2 ] || { echo "--pin needs 2 CPUs" >&2; exit 2; }
    SERVER_CPU=(taskset -c 0)
    CLIENT_CPU=(taskset -c 1)
fi

# --- outside: prerequisites, build, then re-run inside a private network namespace -------------------
if [ -z "${COROTCP_TUN_BENCH_NETNS:-}" ]; then
    [ "$(id -u)" = 0 ] || skip_or_fail "needs root (TUN device, veth pair and private network namespaces)"
    [ -c /dev/net/tun ] || skip_or_fail "no /dev/net/tun (modprobe tun, or a container without it)"
    for tool in unshare nsenter ip timeout awk sort; do
        command -v "$tool" >/dev/null || skip_or_fail "$tool is not installed (util-linux, iproute2, coreutils)"
    done
    unshare --net true 2>/dev/null || skip_or_fail "cannot create a network namespace (unshare --net)"
    if [ -z "$BIN" ]; then
        cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
        cmake --preset release >/dev/null || exit 1
        cmake --build --preset release --target tun_bench kernel_peer >/dev/null || exit 1
        BIN=$PWD/build/release/benchmarks
        ARGS+=(--bin "$BIN")
    fi
    for p in tun_bench kernel_peer; do
        [ -x "$BIN/$p" ] || { echo "[$NAME] FAIL: $BIN/$p is missing" >&2; exit 1; }
    done
    n_modes=$(echo "$MODES" | wc -w)
    # per figure: the run itself, a second to start and stop, plus slack
    limit=$(awk -v r="$RUNS" -v m="$n_modes" -v s="$SECONDS_PER" 'BEGIN { printf "%d", r * m * 4 * (s * 1.5 + 3) + 60 }')
    COROTCP_TUN_BENCH_NETNS=$limit exec timeout -k 5 "$limit" unshare --net -- bash "$0" "${ARGS[@]}"
fi

# --- inside the private namespace (A) from here on -----------------------------------------------------
BIN=$(cd "$BIN" && pwd)
WORK=$(mktemp -d /tmp/corotcp-tun-bench.XXXXXX)
PIDS=()
HOLDER=""
FAILS=0
cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}" $HOLDER; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}" $HOLDER; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # run the cleanup on a signal too
ip link set lo up

TUN=ctunb0
TUN_KERNEL=10.79.0.1
TUN_STACK=10.79.0.2
VETH_A=cvb0 # this namespace: the client
VETH_B=cvb1 # namespace B: the kernel server
VETH_IP_A=10.78.0.1
VETH_IP_B=10.78.0.2
PORT=5201
LIMIT=$(awk -v s="$SECONDS_PER" 'BEGIN { printf "%d", s * 2 + 30 }')

# Namespace B: held by a sleeping process (its own, unnamed namespace; gone when the holder ends).
unshare --net sleep "$COROTCP_TUN_BENCH_NETNS" &
HOLDER=$!
for _ in $(seq 100); do
    [ "$(readlink /proc/$HOLDER/ns/net 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] &&
        [ -n "$(readlink /proc/$HOLDER/ns/net 2>/dev/null)" ] && break
    sleep 0.05
done
[ "$(readlink /proc/$HOLDER/ns/net 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] ||
    { log "FAIL: cannot create the second namespace"; exit 1; }
in_b() { nsenter --net=/proc/$HOLDER/ns/net "$@"; }
in_b ip link set lo up

# veth_up on|off: a fresh veth pair A <-> B (defaults, or every offload off on both ends).
veth_up() {
    ip link del "$VETH_A" 2>/dev/null
    ip link add "$VETH_A" type veth peer name "$VETH_B" || return 1
    ip link set "$VETH_B" netns "$HOLDER" || return 1
    ip addr add "$VETH_IP_A/24" dev "$VETH_A" && ip link set "$VETH_A" up || return 1
    in_b ip addr add "$VETH_IP_B/24" dev "$VETH_B" && in_b ip link set "$VETH_B" up || return 1
    if [ "$1" = off ]; then
        "$BIN/kernel_peer" offloads "$VETH_A" off && in_b "$BIN/kernel_peer" offloads "$VETH_B" off || return 1
    fi
}

# wait_for_line FILE REGEX: until FILE has a matching line (10 s at most).
wait_for_line() {
    for _ in $(seq 200); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# stop PID: wait for it to end by itself (10 s at most), then TERM, then KILL; reaped, and forgotten
# (so that the cleanup never signals a recycled process id).
stop() {
    local p=$1
    for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    PIDS=() # one server at a time: it was the only one
}

# one CONFIG MODE RUN: one figure; appends "CONFIG FIGURE VALUE" to $WORK/values, the lines to $WORK/lines.
one() {
    local config=$1 mode=$2 run=$3 fig=${2/-/_} out="$WORK/$1.$2.$3" server target prefix
    case $config in
    tun | tun+offload)
        prefix=tun
        local extra=()
        [ "$config" = tun+offload ] && extra=(--offload)
        # shellcheck disable=SC2206 # word splitting wanted: a list of options
        extra+=(--busy-poll "$BUSY_POLL" $TUN_OPTS)
        "${SERVER_CPU[@]}" "$BIN/tun_bench" --mode "$mode" --seconds "$SECONDS_PER" --limit "$LIMIT" --tun "$TUN" --ip "$TUN_STACK" \
            --kernel-ip "$TUN_KERNEL/24" --port "$PORT" "${extra[@]}" >"$out.server" 2>"$out.server.err" &
        server=$!
        target=$TUN_STACK
        ;;
    veth | veth+offload)
        prefix=kernel
        in_b "${SERVER_CPU[@]}" "$BIN/kernel_peer" server --mode "$mode" --bind "$VETH_IP_B" --port "$PORT" --seconds "$SECONDS_PER" \
            --limit "$LIMIT" >"$out.server" 2>"$out.server.err" &
        server=$!
        target=$VETH_IP_B
        ;;
    esac
    PIDS+=("$server")
    if ! wait_for_line "$out.server" "^listening on "; then
        log "FAIL $config $mode run $run: the server did not start"
        sed 's/^/    /' "$out.server.err" | tail -5
        FAILS=$((FAILS + 1))
        stop "$server"
        return
    fi
    timeout -k 2 $((LIMIT + 10)) "${CLIENT_CPU[@]}" "$BIN/kernel_peer" client --mode "$mode" --connect "$target:$PORT" \
        --seconds "$SECONDS_PER" --limit "$LIMIT" --name "$prefix" >"$out.client" 2>"$out.client.err"
    local crc=$?
    stop "$server"
    local line value
    line=$(grep -E "^${prefix}_${fig} " "$out.server" | head -1)
    value=$(echo "$line" | awk '{ print $2 }')
    if [ "$crc" -ne 0 ] || [ -z "$value" ]; then
        log "FAIL $config $mode run $run (client exit $crc)"
        cat "$out.server.err" "$out.client.err" | sed 's/^/    /' | tail -8
        FAILS=$((FAILS + 1))
        return
    fi
    echo "$config $fig $value" >>"$WORK/values"
    printf '%-12s %s\n' "$config" "$line" >>"$WORK/lines"
    grep -E "^${prefix}_${fig}_client " "$out.client" | sed "s/^/$config (client view) /" >>"$WORK/lines"
    log "$config $(echo "$line" | cut -d'#' -f1)"
}

log "in a private network namespace; $RUNS run(s), ${SECONDS_PER} s per figure, modes: $MODES; corotcp busy-polls ${BUSY_POLL} us${TUN_OPTS:+; tun_bench $TUN_OPTS}$([ "$PIN" = 1 ] && echo "; servers on CPU 0, clients on CPU 1")"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
for run in $(seq "$RUNS"); do
    for config in tun+offload tun veth+offload veth; do
        case $config in
        veth+offload) veth_up on || { log "FAIL: cannot set up the veth pair"; exit 1; } ;;
        veth) veth_up off || { log "FAIL: cannot turn the veth offloads off"; exit 1; } ;;
        esac
        for mode in $MODES; do one "$config" "$mode" "$run"; done
    done
done
ip link del "$VETH_A" 2>/dev/null

echo
echo "== every run (the server's line; the client's view below it)"
cat "$WORK/lines" 2>/dev/null
echo
echo "== medians of $RUNS run(s), ${SECONDS_PER} s each; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
# The TUN packet ceiling of ../shared/PEERS.md (one thread, 1472 B packets): io_uring reads 5.8 Gbit/s
# (kernel -> TUN, our bulk_rx), io_uring writes 4.2 Gbit/s (TUN -> kernel, our bulk_tx). The kernel's
# own figures there (iperf3 over veth, offloads on/off: 20.4/7.7 Gbit/s; 2 threads: 19,900 rr/s,
# 14,600 conn/s) are shown for orientation; the ratios use this run's kernel figures.
awk -v smoke="$SMOKE" -v fails="$FAILS" '
function median(key,   n, i, j, t, a) {
    n = split(vals[key], a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    if (n == 0) return ""
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fmt(v) { return v == "" ? "-" : (v < 100 ? sprintf("%.2f", v) : sprintf("%.0f", v)) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2fx", a / b) }
{ vals[$1 " " $2] = vals[$1 " " $2] " " $3; if ($3 + 0 <= 0) zero++; count++ }
END {
    split("bulk_rx bulk_tx rr conn", figs, " ")
    unit["bulk_rx"] = "Gbit/s"; unit["bulk_tx"] = "Gbit/s"; unit["rr"] = "round-trips/s"; unit["conn"] = "connections/s"
    ceiling["bulk_rx"] = 5.8; ceiling["bulk_tx"] = 4.2
    peers["bulk_rx"] = "20.4 / 7.7"; peers["bulk_tx"] = "20.4 / 7.7"; peers["rr"] = "19900 (2 thr.)"; peers["conn"] = "14600 (2 thr.)"
    # columns: medians of the four configurations, then corotcp / kernel (same offload setting), and
    # corotcp without offloads / the TUN ceiling
    printf "%-8s %-14s %12s %12s %12s %12s  %-10s %-10s %-10s  %s\n", "figure", "unit", "tun+offload", "tun",
           "veth+offload", "veth", "offl. / k", "no off / k", "/ ceiling", "PEERS kernel (on / off)"
    for (f = 1; f <= 4; f++) {
        g = figs[f]
        to = median("tun+offload " g); tn = median("tun " g); ko = median("veth+offload " g); kn = median("veth " g)
        if (to == "" && tn == "" && ko == "" && kn == "") continue
        printf "%-8s %-14s %12s %12s %12s %12s  %-10s %-10s %-10s  %s\n", g, unit[g], fmt(to), fmt(tn), fmt(ko), fmt(kn),
               ratio(to, ko), ratio(tn, kn), (g in ceiling) ? ratio(tn, ceiling[g]) : "-", peers[g]
        # issue 5 targets
        if (g in ceiling) {
            t1 = (to != "" && ko != "") ? (to >= ko ? "met" : "NOT met") : "n/a"
            t2 = (tn != "") ? (tn >= 0.8 * ceiling[g] ? "met" : "NOT met") : "n/a"
            target[g] = sprintf("with offloads >= 1.0x the kernel over veth with offloads: %s; without offloads >= 80%% of the %.1f Gbit/s TUN ceiling: %s", t1, ceiling[g], t2)
        } else {
            t1 = (to != "" && ko != "") ? (to >= ko ? "met" : "NOT met") : "n/a"
            t2 = (tn != "" && ko != "") ? (tn >= ko ? "met" : "NOT met") : "n/a"
            target[g] = sprintf(">= the kernel over veth with offloads: corotcp with offloads %s, without %s", t1, t2)
        }
    }
    print ""
    print "targets (issue 5; figures on a shared, loaded machine are indicative only):"
    for (f = 1; f <= 4; f++) if (figs[f] in target) printf "  %-8s %s\n", figs[f], target[figs[f]]
    if (smoke) {
        if (fails > 0 || zero > 0 || count == 0) { printf "smoke: FAILED (%d failed runs, %d zero figures)\n", fails, zero; exit 1 }
        printf "smoke: all %d figures non-zero\n", count
    }
}' "$WORK/values" 2>/dev/null </dev/null || { [ -s "$WORK/values" ] || log "no figure was measured"; exit 1; }
[ -s "$WORK/values" ] || { log "no figure was measured"; exit 1; }
[ "$FAILS" -eq 0 ] || { log "$FAILS run(s) failed"; exit 1; }
exit 0
