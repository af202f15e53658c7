# tests/tun/lib.sh: sourced by every TUN interop test.
#
# Usage in a test:   source "$(dirname "$0")/lib.sh"; tun_test_init "$@"   (then the test body)
# Arguments: BIN_DIR (where echo_server, http_server, tcp_client, http_get are) [extra example options].
#
# tun_test_init checks the prerequisites, then re-executes the script inside a new network namespace
# (unshare --net): the test never sees or touches the root namespace, and the namespace disappears with
# the last process in it. Every background process is started with `bg` and killed on exit; every wait
# is bounded. Without root, /dev/net/tun, unshare or a needed tool the test is skipped (exit 77), or
# fails (exit 1) when CI=true.
# TUN_TEST_KEEP_FAILED=1 keeps the work dir (logs, pcaps) of a failed run for a look afterwards.
set -uo pipefail

TUN_TEST_NAME=$(basename "$0" .sh)
TUN=ctun0
KERNEL_IP=10.77.0.1
STACK_IP=10.77.0.2
WORK=""
PIDS=()
FAILS=0
CHECKS=0

log() { echo "[$TUN_TEST_NAME] $*"; }

skip_or_fail() {
    if [ "${CI:-}" = "true" ]; then
        echo "[$TUN_TEST_NAME] FAIL (CI=true, so not skipped): $*" >&2
        exit 1
    fi
    echo "[$TUN_TEST_NAME] SKIPPED: $*" >&2
    exit 77
}

tun_test_init() {
    BIN_DIR=${1:?usage: $0 BIN_DIR [example options]}
    shift
    EXTRA_OPTS=("$@")
    if [ -z "${COROTCP_TUN_NETNS:-}" ]; then
        [ "$(id -u)" = 0 ] || skip_or_fail "needs root (TUN device and a private network namespace)"
        [ -c /dev/net/tun ] || skip_or_fail "no /dev/net/tun (modprobe tun, or a container without it)"
        command -v unshare >/dev/null || skip_or_fail "unshare (util-linux) is not installed"
        local tool
        for tool in ip timeout sha256sum $TUN_TEST_TOOLS; do
            command -v "$tool" >/dev/null || skip_or_fail "$tool is not installed (bash scripts/test.sh installs it)"
        done
        unshare --net true 2>/dev/null || skip_or_fail "cannot create a network namespace (unshare --net)"
        COROTCP_TUN_NETNS=1 exec timeout -k 5 "${TUN_TEST_TIMEOUT:-170}" unshare --net -- bash "$0" "$BIN_DIR" "$@"
    fi
    # inside the private namespace from here on
    WORK=$(mktemp -d "/tmp/corotcp-$TUN_TEST_NAME.XXXXXX")
    trap cleanup EXIT
    ip link set lo up
    for p in echo_server http_server tcp_client http_get; do
        [ -x "$BIN_DIR/$p" ] || { echo "[$TUN_TEST_NAME] FAIL: $BIN_DIR/$p is missing" >&2; exit 1; }
    done
    log "in a private network namespace; work dir $WORK; options: ${EXTRA_OPTS[*]:-(none)}"
}

cleanup() {
    local rc=$?
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    nft delete table inet corotcp_test 2>/dev/null
    if [ "$rc" -ne 0 ] || [ "$FAILS" -ne 0 ]; then
        for f in "$WORK"/*.err; do [ -s "$f" ] && { echo "--- $f (last lines)"; tail -n 15 "$f"; }; done
    fi
    if [ -n "${TUN_TEST_KEEP_FAILED:-}" ] && { [ "$rc" -ne 0 ] || [ "$FAILS" -ne 0 ]; }; then
        log "kept the work dir $WORK (TUN_TEST_KEEP_FAILED)"
    elif [ -n "$WORK" ]; then
        rm -rf "$WORK"
    fi
    if [ "$rc" -eq 0 ] && [ "$FAILS" -ne 0 ]; then rc=1; fi
    log "$CHECKS checks, $FAILS failed"
    exit "$rc"
}

# bg NAME CMD...: starts CMD in the background, stdout to $WORK/NAME.out, stderr to $WORK/NAME.err.
bg() {
    local name=$1
    shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=($!)
    LAST_PID=$!
}

# wait_for_line FILE REGEX [SECONDS]: until FILE has a line matching REGEX (default 10 s).
wait_for_line() {
    local file=$1 re=$2 limit=${3:-10} i
    for i in $(seq $((limit * 20))); do
        grep -qE "$re" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "[$TUN_TEST_NAME] timed out after ${limit}s waiting for '$re' in $file" >&2
    return 1
}

# wait_for_port ADDR PORT [SECONDS]: until a TCP listener on ADDR:PORT exists in this namespace.
wait_for_port() {
    local addr=$1 port=$2 limit=${3:-10} i
    for i in $(seq $((limit * 20))); do
        ss -Htln "src $addr:$port" 2>/dev/null | grep -q . && return 0
        sleep 0.05
    done
    echo "[$TUN_TEST_NAME] timed out waiting for a listener on $addr:$port" >&2
    return 1
}

# stop_pid PID: SIGTERM, wait (bounded), exit status in $STOP_RC.
stop_pid() {
    local p=$1 i
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    STOP_RC=$?
    local keep=() q # reaped: cleanup must not signal its number again (it may be reused by then)
    for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}

# check NAME CONDITION-COMMAND...: runs the command, records pass/fail.
check() {
    local name=$1
    shift
    CHECKS=$((CHECKS + 1))
    local t0=$SECONDS
    if "$@"; then
        log "ok   $name ($((SECONDS - t0)) s)"
    else
        log "FAIL $name ($((SECONDS - t0)) s)"
        FAILS=$((FAILS + 1))
    fi
}

# A persistent TUN device with the kernel side configured, for tests whose kernel server must bind
# to $KERNEL_IP before the corotcp program starts (the program then attaches to it).
make_persistent_tun() {
    ip tuntap add dev "$TUN" mode tun && ip addr add "$KERNEL_IP/24" dev "$TUN" && ip link set "$TUN" up
}

same_sha() { [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$(sha256sum <"$2" | cut -d' ' -f1)" ]; }

# echo_through FILE [SECONDS] [ADDR]: FILE through an echo server on ADDR (default $STACK_IP) port 7
# with socat; what comes back must be FILE, byte for byte.
echo_through() {
    timeout "${2:-60}" socat -b 65536 -t 30 - "TCP:${3:-$STACK_IP}:7" <"$1" >"$WORK/echoed.bin" && cmp -s "$1" "$WORK/echoed.bin"
}

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

# tshark_clean PCAP MIN_PACKETS: tshark reads it, at least MIN packets, none malformed. -n: no name
# lookups of any kind (nothing to wait for in a private namespace). Once (CI, session 12) a tshark
# that reads 7,000 packets in well under a second was still running at 60 s under the parallel
# test load; a timeout is retried once, with twice the time, and said in the log, so that a
# malformed capture still fails and a stalled reader does not.
tshark_clean() {
    local pcap=$1 min=$2 out count rc=0
    out=$(timeout 60 tshark -n -r "$pcap" 2>"$WORK/tshark.err") || rc=$?
    if [ "$rc" -eq 124 ]; then
        log "tshark did not finish reading $(basename "$pcap") in 60 s: once more"
        rc=0
        out=$(timeout 120 tshark -n -r "$pcap" 2>"$WORK/tshark.err") || rc=$?
    fi
    [ "$rc" -eq 0 ] || { tail -5 "$WORK/tshark.err"; return 1; }
    count=$(printf '%s\n' "$out" | grep -c .)
    if printf '%s\n' "$out" | grep -qi malformed; then
        printf '%s\n' "$out" | grep -i malformed | head -5
        return 1
    fi
    log "tshark read $count packets of $(basename "$pcap"), none malformed"
    [ "$count" -ge "$min" ]
}
