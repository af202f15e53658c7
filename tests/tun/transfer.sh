#!/usr/bin/env bash
# Byte-exact transfers between the kernel's TCP and corotcp over TUN:
#   socat -> echo_server: $SIZE_MIB MiB and 100 MiB each way;
#   tcp_client -> a socat sink (corotcp -> kernel), from a socat source (kernel -> corotcp), and to a
#   Python server that reads everything and sends it back (both directions, with a half-close);
#   http_get <- a Python http.server (the body byte-exact, a 404 an exit status of 1);
#   the pcap of the corotcp -> kernel transfer read by tshark, no malformed packet.
# With LOSS_PERCENT=N (e.g. 5) nftables drops N % of the TCP packets both ways on the TUN device first.
# With --syncookies 2 every connection the kernel makes to echo_server is built from a SYN cookie.
# Usage: transfer.sh BIN_DIR [example options, e.g. --offload]
TUN_TEST_TOOLS="socat python3 nft ss tshark"
source "$(dirname "$0")/lib.sh"
tun_test_init "$@"
LOSS=${LOSS_PERCENT:-0}

# 8 MiB per transfer, with or without loss (under 5 % loss each transfer takes 3 - 8 s here)
SIZE_MIB=8
random_file "$WORK/8m.bin" $((SIZE_MIB * 1024 * 1024))
make_persistent_tun || exit 1

if [ "$LOSS" -gt 0 ]; then
    nft -f - <<NFT || { log "FAIL: cannot install the nftables drop rules"; exit 1; }
table inet corotcp_test {
    chain in  { type filter hook input priority 0; iifname "$TUN" meta l4proto tcp numgen random mod 100 < $LOSS counter drop; }
    chain out { type filter hook output priority 0; oifname "$TUN" meta l4proto tcp numgen random mod 100 < $LOSS counter drop; }
}
NFT
    log "nftables drops $LOSS % of the TCP packets on $TUN, both ways"
fi

COMMON=(--tun "$TUN" --ip "$STACK_IP" "${EXTRA_OPTS[@]}")

# --- socat -> echo_server ------------------------------------------------------------------------------
bg echo "$BIN_DIR/echo_server" "${COMMON[@]}" --port 7 --verbose
ECHO=$LAST_PID
wait_for_line "$WORK/echo.out" "^listening on $STACK_IP:7$" || exit 1
check "socat -> echo_server: $SIZE_MIB MiB each way, byte-exact" echo_through "$WORK/8m.bin"
# 100 MiB each way, under loss too (there about 60 s: the kernel's receiver delays its ACKs, see
# docs/tun.md; ctest gives tun:transfer_loss a longer timeout)
random_file "$WORK/100m.bin" $((100 * 1024 * 1024))
start=$(date +%s.%N)
check "socat -> echo_server: 100 MiB each way, byte-exact" echo_through "$WORK/100m.bin" 240
log "  100 MiB echoed in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
rm -f "$WORK/100m.bin" "$WORK/echoed.bin"
stop_pid "$ECHO"
check "echo_server exits 0 on SIGTERM" [ "$STOP_RC" -eq 0 ]
# The receive path the options ask for, not a silent fallback (CI's kernel has the multishot read).
case " ${EXTRA_OPTS[*]} " in
*" --no-uring "*) RX_PATH="read()/write() + ppoll()" ;;
*" --no-multishot "*) RX_PATH="io_uring, multishot poll + read()" ;;
*) RX_PATH="io_uring, multishot read" ;;
esac
check "the link received with: $RX_PATH" grep -qF "$RX_PATH" "$WORK/echo.err"
# No system call per packet on the steady path: with the multishot read, the link's submits and
# waits (its only system calls) stay well under the frames it moved, here under half of them
# (measured: about 1 per 100 without offloads, 1 per 8 under 5 % loss; with offloads a frame is a
# 64 KB super-segment, so the plain runs check it).
few_syscalls() {
    grep -h "link:" "$WORK/echo.err" | sed -E 's/.*rx ([0-9]+) frames.*tx ([0-9]+) packets.*; ([0-9]+) submits, ([0-9]+) waits.*/\1 \2 \3 \4/' |
        awk '{ if (NF != 4) exit 1; printf "[%s]   %d submits + %d waits for %d frames\n", name, $3, $4, $1 + $2 > "/dev/stderr";
               exit !(2 * ($3 + $4) < $1 + $2) }' name="$TUN_TEST_NAME"
}
[ "$RX_PATH" = "io_uring, multishot read" ] && [[ " ${EXTRA_OPTS[*]} " != *" --offload "* ]] &&
    check "fewer than one system call per two packets (io_uring submits and waits)" few_syscalls
case " ${EXTRA_OPTS[*]} " in
*" --offload "*) # the offloads were taken, not silently refused: GSO frames both ways, checksums finished
    check "offloads in use: GSO frames received (NEEDS_CSUM finished) and sent" \
        grep -qE "link: rx [0-9]+ frames \([0-9]+ bytes, [1-9][0-9]* gso, [1-9][0-9]* csum\).*tx [0-9]+ packets \([0-9]+ bytes, [1-9][0-9]* gso\)" \
        "$WORK/echo.err" ;;
esac
case " ${EXTRA_OPTS[*]} " in
*" --syncookies 2 "*) # both of the kernel's connections to echo_server (8 and 100 MiB) came through a SYN cookie
    check "SYN cookies: the kernel's connections to echo_server were built from them" \
        grep -qE "listeners: [0-9]+ SYN cookies sent, ([2-9]|[1-9][0-9]+) connections built from one" "$WORK/echo.err" ;;
esac
grep -h "link:\|listeners:" "$WORK/echo.err" | sed "s/^/[$TUN_TEST_NAME]   /"

CLIENT=("$BIN_DIR/tcp_client" "${COMMON[@]}")

# --- tcp_client -> socat sink (corotcp -> kernel) ------------------------------------------------------
bg sink socat -u "TCP-LISTEN:7001,bind=$KERNEL_IP,reuseaddr" "OPEN:$WORK/sunk.bin,creat,trunc"
SINK=$LAST_PID
wait_for_port "$KERNEL_IP" 7001 || exit 1
check "tcp_client -> socat: $SIZE_MIB MiB corotcp -> kernel" \
    bash -c 'timeout 60 "$@" --connect '"$KERNEL_IP"':7001 <"$0/8m.bin" >/dev/null 2>"$0/client1.err"' "$WORK" \
    "${CLIENT[@]}" --pcap "$WORK/client1.pcap"
for _ in $(seq 100); do kill -0 "$SINK" 2>/dev/null || break; sleep 0.05; done
check "  ... received byte-exact by the kernel" cmp -s "$WORK/8m.bin" "$WORK/sunk.bin"
# The capture of that transfer: every packet well-formed (with --offload: 64 KB super-segments),
# retransmissions included under loss; at least the 8 MiB in 64 KB segments plus their ACKs.
check "  ... its pcap read by tshark, no malformed packet" tshark_clean "$WORK/client1.pcap" 200
rm -f "$WORK/client1.pcap"

# --- socat source -> tcp_client (kernel -> corotcp) ----------------------------------------------------
bg source socat -u "OPEN:$WORK/8m.bin" "TCP-LISTEN:7002,bind=$KERNEL_IP,reuseaddr"
wait_for_port "$KERNEL_IP" 7002 || exit 1
check "socat -> tcp_client: $SIZE_MIB MiB kernel -> corotcp, byte-exact" \
    bash -c 'timeout 60 "$@" --connect '"$KERNEL_IP"':7002 </dev/null >"$0/got.bin" 2>"$0/client2.err" && cmp -s "$0/got.bin" "$0/8m.bin"' \
    "$WORK" "${CLIENT[@]}"

# --- tcp_client -> a Python server that returns what it read, after our half-close ---------------------
cat >"$WORK/server.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(60)
c, _ = s.accept()
c.settimeout(60)
data = bytearray()
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    data += b
c.sendall(bytes(reversed(data)))
c.close()
PY
bg python python3 "$WORK/server.py" "$KERNEL_IP" 7003
wait_for_port "$KERNEL_IP" 7003 || exit 1
python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(bytes(reversed(d)))' \
    "$WORK/8m.bin" "$WORK/8m.rev"
check "tcp_client <-> python3: $SIZE_MIB MiB each way (reversed after EOF), byte-exact" \
    bash -c 'timeout 60 "$@" --connect '"$KERNEL_IP"':7003 <"$0/8m.bin" >"$0/py.bin" 2>"$0/client3.err" && cmp -s "$0/py.bin" "$0/8m.rev"' \
    "$WORK" "${CLIENT[@]}"

# --- http_get <- a Python HTTP server (the kernel's TCP) -------------------------------------------------
bg httpd python3 -m http.server --bind "$KERNEL_IP" --directory "$WORK" 8000
wait_for_port "$KERNEL_IP" 8000 || exit 1
check "http_get <- python3 http.server: $SIZE_MIB MiB body, byte-exact, exit 0" \
    bash -c 'timeout 60 "$@" "http://'"$KERNEL_IP"':8000/8m.bin" >"$0/get.bin" 2>"$0/get.err" && cmp -s "$0/get.bin" "$0/8m.bin"' \
    "$WORK" "$BIN_DIR/http_get" "${COMMON[@]}"
check "http_get: a missing file exits 1 and says HTTP 404" \
    bash -c 'timeout 60 "$@" "http://'"$KERNEL_IP"':8000/missing" >/dev/null 2>"$0/get404.err"; [ $? -eq 1 ] && grep -q "HTTP 404" "$0/get404.err"' \
    "$WORK" "$BIN_DIR/http_get" "${COMMON[@]}"

if [ "$LOSS" -gt 0 ]; then
    nft list table inet corotcp_test | grep -o "counter packets [0-9]*" | sed "s/^/[$TUN_TEST_NAME]   dropped: /"
fi
