#!/usr/bin/env bash
# What the TUN programs do when the system holds something back, checked on a kernel that has it all:
#   io_uring refused (as Docker's default seccomp profile refuses it): the link says so, falls back to
#     read()/write() and ppoll(), and echoes 8 MiB each way byte-exact;
#   --offload with TUNSETOFFLOAD refused, and with TSO alone refused: the link says so, and works with
#     what it was given (the counters show no GSO frame where none was allowed);
#   a user without CAP_NET_ADMIN: "permission denied" with /dev/net/tun 0600, for a new device and for a
#     persistent device owned by root; and a working echo_server on a persistent device made for that
#     user (ip tuntap add ... user);
#   opening errors: no /dev/net/tun, a device in use, an impossible name, an --ip the kernel holds.
# The refusals come from tests/tun/seccomp_deny.cpp (COROTCP_SECCOMP_DENY is its path).
# Usage: fallbacks.sh BIN_DIR
TUN_TEST_TOOLS="socat setpriv ss"
source "$(dirname "$0")/lib.sh"
tun_test_init "$@"
DENY=${COROTCP_SECCOMP_DENY:-}
[ -x "$DENY" ] || { log "FAIL: COROTCP_SECCOMP_DENY (the tun_seccomp_deny program) is not set or not executable"; exit 1; }

make_persistent_tun || exit 1
random_file "$WORK/8m.bin" $((8 * 1024 * 1024))
# degraded_echo NAME DENY-OPTION [echo_server options]: echo_server under the seccomp refusal; 8 MiB each
# way byte-exact, exit 0 on SIGTERM. Its stderr (the link's notices and counters) is $WORK/NAME.err.
degraded_echo() {
    local name=$1 deny=$2
    shift 2
    bg "$name" "$DENY" "$deny" -- "$BIN_DIR/echo_server" --tun "$TUN" --ip "$STACK_IP" --port 7 --verbose "$@"
    local pid=$LAST_PID
    if ! wait_for_line "$WORK/$name.out" "^listening on $STACK_IP:7$"; then
        check "$name: echo_server ready" false
        stop_pid "$pid"
        return
    fi
    check "$name: socat -> echo_server 8 MiB each way, byte-exact" echo_through "$WORK/8m.bin"
    stop_pid "$pid"
    check "$name: echo_server exits 0 on SIGTERM" [ "$STOP_RC" -eq 0 ]
    grep -hE "link:|refused|unavailable" "$WORK/$name.err" | sed "s/^/[$TUN_TEST_NAME]   /"
}

# --- io_uring refused ------------------------------------------------------------------------------------
degraded_echo no_uring --io-uring
check "no_uring: the fallback is announced with the reason" \
    grep -qE "io_uring unavailable \(.+\): falling back to read\(\)/write\(\) and ppoll\(\)" "$WORK/no_uring.err"
check "no_uring: the link received with read()/write() + ppoll()" grep -qF "read()/write() + ppoll()" "$WORK/no_uring.err"

# --- offloads refused --------------------------------------------------------------------------------------
degraded_echo no_offload --offload --offload # the refusal, then echo_server's own option
check "no_offload: the refusal is announced, and the link says it has no offload" \
    bash -c 'grep -qF "TUNSETOFFLOAD refused: no checksum or segmentation offload" "$0" &&
             grep -qE "vnet header, offloads: none$" "$0"' "$WORK/no_offload.err"
check "no_offload: no GSO frame and no partial checksum either way" \
    grep -qE "link: rx [0-9]+ frames \([0-9]+ bytes, 0 gso, 0 csum\).*tx [0-9]+ packets \([0-9]+ bytes, 0 gso\)" \
    "$WORK/no_offload.err"

degraded_echo no_tso --tso --offload
check "no_tso: the refusal is announced, and the link says it has checksum offload alone" \
    bash -c 'grep -qF "TUNSETOFFLOAD(TSO4) refused: checksum offload only" "$0" &&
             grep -qE "vnet header, offloads: csum$" "$0"' "$WORK/no_tso.err"
check "no_tso: partial checksums finished, no GSO frame either way" \
    grep -qE "link: rx [0-9]+ frames \([0-9]+ bytes, 0 gso, [1-9][0-9]* csum\).*tx [0-9]+ packets \([0-9]+ bytes, 0 gso\)" \
    "$WORK/no_tso.err"

# --- without CAP_NET_ADMIN -----------------------------------------------------------------------------------
# A copy of echo_server that user nobody can run (the build tree need not be readable by others).
chmod 755 "$WORK"
install -d -m 755 "$WORK/bin" && install -m 755 "$BIN_DIR/echo_server" "$WORK/bin/echo_server"
# "${AS_NOBODY[@]}" MODE COMMAND...: COMMAND as user nobody, with /dev/net/tun of that mode (Debian's is
# 0666, some containers' 0600): a private mount namespace of this one command gets its own device node.
AS_NOBODY=(unshare --mount -- sh -c 'mount -t tmpfs -o mode=755 none /dev/net && mknod -m "$0" /dev/net/tun c 10 200 &&
    exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"')
open_fails() { # EXPECTED-MESSAGE COMMAND...: a non-zero exit (not a timeout) and the message
    local want=$1 rc
    shift
    timeout 10 "$@" >/dev/null 2>"$WORK/open.err"
    rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF -- "$want" "$WORK/open.err" ||
        { sed "s/^/[$TUN_TEST_NAME]   exit $rc: /" "$WORK/open.err"; return 1; }
}
DENIED="permission denied: opening a TUN device needs root or CAP_NET_ADMIN"
check "as nobody, /dev/net/tun not readable (0600): 'permission denied', non-zero exit" \
    open_fails "$DENIED" "${AS_NOBODY[@]}" 600 "$WORK/bin/echo_server" --tun "$TUN" --ip "$STACK_IP" --port 7
check "as nobody, a new device: 'permission denied', non-zero exit" \
    open_fails "$DENIED" "${AS_NOBODY[@]}" 666 "$WORK/bin/echo_server" --tun ctun1 --ip "$STACK_IP" --port 7
# (a persistent device with neither owner nor group is open to anyone who can open /dev/net/tun)
ip tuntap add dev ctun4 mode tun user 0 || exit 1
check "as nobody, a persistent device owned by root: 'permission denied', non-zero exit" \
    open_fails "$DENIED" "${AS_NOBODY[@]}" 666 "$WORK/bin/echo_server" --tun ctun4 --ip "$STACK_IP" --port 7
ip tuntap add dev ctun2 mode tun user 65534 && ip addr add 10.77.1.1/24 dev ctun2 && ip link set ctun2 up || exit 1
bg nobody "${AS_NOBODY[@]}" 666 "$WORK/bin/echo_server" --tun ctun2 --ip 10.77.1.2 --port 7
NOBODY=$LAST_PID
if wait_for_line "$WORK/nobody.out" "^listening on 10.77.1.2:7$"; then
    check "as nobody, on a device made for nobody: 8 MiB each way, byte-exact" echo_through "$WORK/8m.bin" 60 10.77.1.2
else
    check "as nobody, on a device made for nobody: ready" false
fi
stop_pid "$NOBODY"
check "as nobody: echo_server exits 0 on SIGTERM" [ "$STOP_RC" -eq 0 ]

# --- opening errors ------------------------------------------------------------------------------------------
bg holder "$BIN_DIR/echo_server" --tun "$TUN" --ip "$STACK_IP" --port 7
HOLDER=$LAST_PID
wait_for_line "$WORK/holder.out" "^listening on" || exit 1
check "a second program on the same device: 'in use', non-zero exit" \
    open_fails "the TUN device is in use by another process" "$BIN_DIR/echo_server" --tun "$TUN" --ip "$STACK_IP" --port 8
stop_pid "$HOLDER"
check "an impossible device name: 'invalid device name', non-zero exit" \
    open_fails "invalid device name" "$BIN_DIR/echo_server" --tun "bad/name" --ip "$STACK_IP" --port 7
check "--ip the kernel already holds on the device: refused with its name, non-zero exit" \
    open_fails "--ip $KERNEL_IP is already the kernel's address on $TUN" \
    "$BIN_DIR/echo_server" --tun "$TUN" --ip "$KERNEL_IP" --port 7
check "--ip the kernel holds on another device (lo): refused" \
    open_fails "--ip 127.0.0.1 is already the kernel's address on lo" "$BIN_DIR/echo_server" --tun ctun3 --ip 127.0.0.1 --port 7
check "--ip local to the kernel by a route (127.0.0.2, the subnet's broadcast): refused" \
    bash -c 'for a in 127.0.0.2 10.77.0.255; do
                 timeout 10 "$0" --tun ctun3 --ip $a --port 7 >/dev/null 2>"$1"; rc=$?
                 [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF -- "--ip $a is local to the kernel" "$1" || { cat "$1"; exit 1; }
             done' "$BIN_DIR/echo_server" "$WORK/open.err"
# /dev/net/tun hidden by an empty tmpfs, in a private mount namespace of this one command
check "no /dev/net/tun: says so and how to load the module, non-zero exit" \
    open_fails "modprobe tun" unshare --mount -- sh -c 'mount -t tmpfs none /dev/net && exec "$@"' _ \
    "$BIN_DIR/echo_server" --tun ctun3 --ip "$STACK_IP" --port 7
