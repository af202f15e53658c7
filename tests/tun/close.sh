#!/usr/bin/env bash
# How connections between the kernel and corotcp end, over TUN:
#   our active close ends in TIME_WAIT while the kernel's LAST_ACK closes (no LAST-ACK left, no
#   TIME-WAIT on the kernel side); connect to a closed port -> "connection refused"; to a silent
#   address -> "timed out"; the kernel side killed mid-transfer -> our side sees a reset. The pcap of
#   the active close is read by tshark (no malformed packet, the FINs and the last ACK in order).
# Usage: close.sh BIN_DIR [example options]
TUN_TEST_TOOLS="socat python3 ss tshark"
source "$(dirname "$0")/lib.sh"
tun_test_init "$@"
make_persistent_tun || exit 1
CLIENT=("$BIN_DIR/tcp_client" --tun "$TUN" --ip "$STACK_IP" "${EXTRA_OPTS[@]}")

# --- active close: TIME_WAIT here, the kernel's LAST_ACK closes -----------------------------------------
bg echo socat "TCP-LISTEN:7000,bind=$KERNEL_IP,reuseaddr,fork" EXEC:cat
wait_for_port "$KERNEL_IP" 7000 || exit 1
bg client "${CLIENT[@]}" --connect "$KERNEL_IP:7000" --send hello --linger 1500 --verbose --pcap "$WORK/close.pcap"
CLIENT_PID=$LAST_PID
wait_for_line "$WORK/client.err" "TIME_WAIT" 10
sleep 0.3 # the kernel had time to see our last ACK
ss -Htan "( sport = :7000 )" >"$WORK/ss.txt"
check "tcp_client printed the echo" grep -qx hello "$WORK/client.out"
check "our active close went FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT" \
    bash -c 'grep -q "FIN_WAIT_1 -> FIN_WAIT_2" "$0" && grep -qE "(FIN_WAIT_2|CLOSING) -> TIME_WAIT" "$0"' "$WORK/client.err"
check "kernel side: no LAST-ACK and no TIME-WAIT left (its LAST_ACK closed)" \
    bash -c '! grep -qE "LAST-ACK|TIME-WAIT|CLOSE-WAIT|FIN-WAIT" "$0"' "$WORK/ss.txt"
wait "$CLIENT_PID"
check "tcp_client exits 0" [ $? -eq 0 ]
# The capture, read by tshark: SYN, SYN-ACK, ACK, data, its echo, the two FINs and the last ACK at least.
check "pcap of the close read by tshark, no malformed packet" tshark_clean "$WORK/close.pcap" 8
fin_sequence() { # our FIN first (from $STACK_IP), then the kernel's, then our ACK of it, the last packet
    timeout 30 tshark -n -r "$WORK/close.pcap" -Y "tcp.flags.fin == 1" -T fields -e ip.src >"$WORK/fins.txt" &&
        [ "$(tr '\n' ' ' <"$WORK/fins.txt")" = "$STACK_IP $KERNEL_IP " ] &&
        timeout 30 tshark -n -r "$WORK/close.pcap" -T fields -E separator=' ' -e ip.src -e tcp.flags 2>/dev/null |
        tail -n 1 | { read -r src flags && [ "$src" = "$STACK_IP" ] && [ $((flags & 0x3f)) -eq 16 ]; } # ACK alone
}
check "  ... our FIN, then the kernel's, then our last ACK" fin_sequence

# --- refused, timed out ----------------------------------------------------------------------------------
check "closed port: exit 1, 'connection refused'" \
    bash -c 'timeout 20 "$@" --connect '"$KERNEL_IP"':7999 --send x >/dev/null 2>"$0/refused.err"; [ $? -eq 1 ] && grep -q "connection refused" "$0/refused.err"' \
    "$WORK" "${CLIENT[@]}"
check "silent address: exit 1, 'timed out'" \
    bash -c 'timeout 20 "$@" --connect 10.77.0.9:80 --timeout 1.5 --send x >/dev/null 2>"$0/timeout.err"; [ $? -eq 1 ] && grep -q "timed out" "$0/timeout.err"' \
    "$WORK" "${CLIENT[@]}"

# --- the kernel side killed mid-transfer: a reset ------------------------------------------------------------
cat >"$WORK/stall.py" <<'PY'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
c, _ = s.accept()
c.recv(1000)           # some of it; the rest stays unread, so the kernel resets when we die
print("reading stopped", flush=True)
time.sleep(60)
PY
bg stall python3 "$WORK/stall.py" "$KERNEL_IP" 7004
STALL=$LAST_PID
wait_for_port "$KERNEL_IP" 7004 || exit 1
bg reset bash -c 'head -c 1073741824 /dev/zero | "$@" --connect '"$KERNEL_IP"':7004' _ "${CLIENT[@]}"
RESET_PID=$LAST_PID
wait_for_line "$WORK/stall.out" "reading stopped" 10
sleep 0.5
kill -KILL "$STALL"
for _ in $(seq 200); do kill -0 "$RESET_PID" 2>/dev/null || break; sleep 0.05; done
wait "$RESET_PID"
RESET_RC=$?
check "killed kernel side: tcp_client exits 1 with 'connection reset'" \
    bash -c '[ "$0" -eq 1 ] && grep -q "connection reset" "$1"' "$RESET_RC" "$WORK/reset.err"
