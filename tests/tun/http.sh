#!/usr/bin/env bash
# curl (the kernel's TCP) -> http_server (corotcp) over TUN: GET, HEAD, five requests on one keep-alive
# connection, a 10 MiB body intact (sha256), HTTP/1.0 and Connection: close (the server closes by
# itself), a malformed request answered 400, 200 parallel
# connections, ping answered, curl to a closed port refused; the pcap of the run read by tshark.
# Usage: http.sh BIN_DIR [example options, e.g. --offload]
TUN_TEST_TOOLS="curl socat ping tshark ss"
source "$(dirname "$0")/lib.sh"
tun_test_init "$@"

mkdir -p "$WORK/www"
random_file "$WORK/www/big.bin" $((10 * 1024 * 1024))
echo "<p>corotcp test page</p>" >"$WORK/www/index.html"

bg server "$BIN_DIR/http_server" --tun "$TUN" --ip "$STACK_IP" --port 80 --kernel-ip "$KERNEL_IP/24" \
    --root "$WORK/www" --pcap "$WORK/http.pcap" --verbose "${EXTRA_OPTS[@]}"
SERVER=$LAST_PID
wait_for_line "$WORK/server.out" "^listening on $STACK_IP:80$" || exit 1
URL="http://$STACK_IP"
CURL=(curl -sS --max-time 20)

check "GET / returns the page" \
    bash -c '[ "$("$@")" = "<p>corotcp test page</p>" ]' _ "${CURL[@]}" "$URL/"
# Raw requests (socat): every byte the server sends is counted. Our side keeps its half open for 4 s
# (no EOF the server could be answering), and socat ends 0.1 s after the server's FIN: a server
# that does not close by itself runs into `timeout 3`, and the check fails.
raw() { # REQUEST (printf format): the whole response, CRs removed; fails if the server does not close
    timeout 3 socat -t 0.1 - "TCP:$STACK_IP:80" < <(printf "$1"; sleep 4) | tr -d "\r"
    [ "${PIPESTATUS[0]}" -eq 0 ]
}
head_no_body() {
    local out
    out=$(raw "HEAD /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") || return 1
    echo "$out" | grep -q "^HTTP/1.1 200" && echo "$out" | grep -qi "^Content-Length: 10485760" &&
        [ -z "$(echo "$out" | sed "1,/^\$/d")" ] # nothing after the blank line that ends the headers
}
page_then_close() { # REQUEST
    local out
    out=$(raw "$1") || return 1
    [ "$(echo "$out" | tail -n 1)" = "<p>corotcp test page</p>" ]
}
check "HEAD gives the length and no body (every byte counted)" head_no_body
check "Connection: close: the response, then the server closes" \
    page_then_close "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
check "five requests on one keep-alive connection" \
    bash -c '[ "$("$@" 2>&1 | grep -c "Re-using existing connection")" -eq 4 ]' \
    _ "${CURL[@]}" -v -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
    "$URL/" "$URL/" "$URL/index.html" "$URL/" "$URL/"
check "10 MiB body intact (sha256)" \
    bash -c '"$@" -o "$0/big.out" && cmp -s "$0/big.out" "$0/www/big.bin"' "$WORK" "${CURL[@]}" "$URL/big.bin"
check "HTTP/1.0: response, then the server closes" page_then_close "GET / HTTP/1.0\r\n\r\n"
check "404 for a missing file" \
    bash -c '[ "$("$@")" = 404 ]' _ "${CURL[@]}" -o /dev/null -w "%{http_code}" "$URL/missing"
# The server closed first, so it holds the TIME_WAIT; the kernel client may pick the same port
# again at once. Its new SYN (newer sequence number and timestamp) must be taken by the listener
# (RFC 6191), not answered with ACKs until 2MSL: the second connect has 0.9 s, less than the
# kernel's first SYN retransmission. (A port above ip_local_port_range: no earlier connection has it.)
same_port_twice() {
    local port=$((61000 + RANDOM % 4000))
    "${CURL[@]}" --local-port "$port" -H "Connection: close" -o /dev/null "$URL/" &&
        "${CURL[@]}" --local-port "$port" --connect-timeout 0.9 -H "Connection: close" -o "$WORK/again.out" "$URL/" &&
        [ "$(cat "$WORK/again.out")" = "<p>corotcp test page</p>" ] &&
        grep -q "$STACK_IP:80 > $KERNEL_IP:$port  TIME_WAIT -> CLOSED  (rcv SYN)" "$WORK/server.err"
}
check "a client port reused while the server holds its TIME_WAIT connects at once" same_port_twice
check "malformed request answered 400" \
    bash -c 'printf "GARBAGE / HTTP/9\r\n\r\n" | timeout 10 socat -t 5 - TCP:'"$STACK_IP"':80 | head -1 | grep -q "^HTTP/1.1 400"'
check "ping: ICMP echo replies" \
    bash -c 'timeout 10 ping -c 3 -i 0.2 -W 2 '"$STACK_IP"' | grep -q "3 received"'
check "curl to a closed port: connection refused" \
    bash -c 'out=$(curl -sS -v --max-time 10 http://'"$STACK_IP"':81/ 2>&1); [ $? -eq 7 ] && echo "$out" | grep -qi "connection refused"'

# 200 parallel connections: every one gets the page
par() {
    local i ok=0 pids=()
    for i in $(seq 200); do
        curl -sS --max-time 30 -o "$WORK/par.$i" "$URL/" 2>>"$WORK/par.err" &
        pids+=($!)
    done
    wait "${pids[@]}" # only the curls: a bare `wait` would wait for the server too
    for i in $(seq 200); do
        [ "$(cat "$WORK/par.$i" 2>/dev/null)" = "<p>corotcp test page</p>" ] && ok=$((ok + 1))
    done
    log "parallel: $ok/200 responses correct"
    [ "$ok" -eq 200 ]
}
check "200 parallel connections" par

stop_pid "$SERVER"
check "http_server exits 0 on SIGTERM" [ "$STOP_RC" -eq 0 ]
grep -h "requests served\|link:" "$WORK/server.err" | sed "s/^/[$TUN_TEST_NAME]   /"
case " ${EXTRA_OPTS[*]} " in
*" --offload "*) # the 10 MiB body went out in TSO super-segments: the offloads were taken
    check "offloads in use: GSO super-segments sent" \
        grep -qE "link: .*tx [0-9]+ packets \([0-9]+ bytes, [1-9][0-9]* gso\)" "$WORK/server.err" ;;
esac
check "pcap read by tshark, no malformed packet" tshark_clean "$WORK/http.pcap" 1000
