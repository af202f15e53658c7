#include "corotcp/wire/print.hpp"
#include "wire_test_util.hpp"

#include <catch2/catch.hpp>

using namespace corotcp::wire;
using wire_test::addr;
using wire_test::bytes;
using wire_test::hex;

namespace {

const ipv4_address a1 = addr("10.0.0.1");
const ipv4_address a2 = addr("10.0.0.2");

std::string line(const tcp_repr& t) { return format_tcpdump(wire_test::tcp_packet(a1, a2, t)); }

tcp_repr segment(std::uint8_t flags, std::span<const std::uint8_t> payload = {}) {
    return tcp_repr{35646, 80, seq32(1000), seq32(5000), flags, 502, 0, {}, payload};
}

} // namespace

TEST_CASE("a Linux SYN prints exactly as tcpdump prints it") {
    tcp_repr t{35646, 80, seq32(1012495606), seq32(0), tcp_flags::syn, 29200, 0, {}, {}};
    t.options.mss = 1460;
    t.options.sack_permitted = true;
    t.options.timestamps = tcp_timestamps{3535567886u, 0};
    t.options.window_scale = 7;
    CHECK(line(t) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [S], seq 1012495606, win 29200, "
                     "options [mss 1460,sackOK,TS val 3535567886 ecr 0,nop,wscale 7], length 0");
}

TEST_CASE("a data segment prints seq first:last, ack, and its payload length") {
    const bytes payload(64, 0x61);
    CHECK(line(segment(tcp_flags::psh | tcp_flags::ack, payload)) ==
          "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [P.], seq 1000:1064, ack 5000, win 502, length 64");
}

TEST_CASE("a pure ACK prints no sequence number") {
    CHECK(line(segment(tcp_flags::ack)) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [.], ack 5000, win 502, length 0");
}

TEST_CASE("SYN-ACK, FIN and RST print tcpdump's flag letters in tcpdump's order") {
    CHECK(line(segment(tcp_flags::syn | tcp_flags::ack)) ==
          "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [S.], seq 1000, ack 5000, win 502, length 0");
    CHECK(line(segment(tcp_flags::fin | tcp_flags::ack)) ==
          "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [F.], seq 1000, ack 5000, win 502, length 0");
    CHECK(line(segment(tcp_flags::rst)) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [R], seq 1000, win 502, length 0");
    CHECK(line(segment(0)) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [none], win 502, length 0");
    tcp_repr all = segment(0xFF);
    all.urgent = 3;
    CHECK(line(all) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [FSRP.UEW], seq 1000, ack 5000, win 502, urg 3, length 0");
}

TEST_CASE("timestamps and SACK blocks print as tcpdump -S prints them") {
    tcp_repr t = segment(tcp_flags::ack);
    t.options.timestamps = tcp_timestamps{100, 200};
    t.options.sack_count = 2;
    t.options.sack[0] = {seq32(3000), seq32(4000)};
    t.options.sack[1] = {seq32(1500), seq32(2000)};
    CHECK(line(t) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [.], ack 5000, win 502, "
                     "options [nop,nop,TS val 100 ecr 200,nop,nop,sack 2 {3000:4000}{1500:2000}], length 0");
}

TEST_CASE("sequence ranges wrap around 2^32 in printed data segments") {
    const bytes payload(32, 0);
    tcp_repr t = segment(tcp_flags::ack, payload);
    t.seq = seq32(0xFFFFFFF0u);
    CHECK(line(t) == "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [.], seq 4294967280:16, ack 5000, win 502, length 32");
}

TEST_CASE("unknown, malformed and EOL-terminated TCP options print without crashing") {
    bytes p = wire_test::tcp_packet(a1, a2, segment(tcp_flags::ack));
    // Append 8 option bytes by hand: unknown kind 30 with 2 data bytes, NOP, EOL, junk.
    const bytes opts = hex("1e04 abcd 0100 0303");
    bytes q(p.begin(), p.begin() + 40);
    q.insert(q.end(), opts.begin(), opts.end());
    store_be16(&q[2], static_cast<std::uint16_t>(q.size()));
    q[32] = 0x70;
    CHECK(format_tcpdump(q) ==
          "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [.], ack 5000, win 502, options [unknown-30 0xabcd,nop,eol], length 0");
    q[44] = 0x02; // MSS with length 1: a malformed option area
    q[45] = 0x01;
    CHECK(format_tcpdump(q) ==
          "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [.], ack 5000, win 502, options [unknown-30 0xabcd,[bad opt]], length 0");
    q[45] = 0x03; // MSS with length 3: a known option with the wrong length
    q[47] = 0x00;
    CHECK(format_tcpdump(q) ==
          "IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [.], ack 5000, win 502, options [unknown-30 0xabcd,mss [len 3],eol], length 0");
}

TEST_CASE("ICMP echo and errors print as tcpdump prints them") {
    const bytes data(56, 0);
    CHECK(format_tcpdump(wire_test::icmp_packet(a2, a1, icmp_repr::echo_reply(1, 1, data))) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 1, length 64");
    CHECK(format_tcpdump(wire_test::icmp_packet(a1, a2, icmp_repr::echo_request(7, 300, data))) ==
          "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 300, length 64");

    const bytes syn = wire_test::tcp_packet(a1, a2, segment(tcp_flags::syn));
    const auto quote = icmp_error_quote(syn);
    const auto err = [&](const icmp_repr& m) { return format_tcpdump(wire_test::icmp_packet(a2, a1, m)); };
    CHECK(err(icmp_repr::dest_unreachable(icmp_unreach::port, quote)) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 tcp port 80 unreachable, length 36");
    CHECK(err(icmp_repr::dest_unreachable(icmp_unreach::host, quote)) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP host 10.0.0.2 unreachable, length 36");
    CHECK(err(icmp_repr::dest_unreachable(icmp_unreach::net, quote)) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP net 10.0.0.2 unreachable, length 36");
    CHECK(err(icmp_repr::dest_unreachable(icmp_unreach::protocol, quote)) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 protocol 6 unreachable, length 36");
    CHECK(err(icmp_repr::dest_unreachable(icmp_unreach::frag_needed, quote, 1400)) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 unreachable - need to frag (mtu 1400), length 36");
    CHECK(err(icmp_repr::time_exceeded(icmp_time_exceeded::ttl, quote)) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP time exceeded in-transit, length 36");
    CHECK(err(icmp_repr::dest_unreachable(icmp_unreach::port, std::span(quote).first(10))) ==
          "IP 10.0.0.2 > 10.0.0.1: ICMP unreachable [malformed quote], length 18");
}

TEST_CASE("UDP and other protocols print a short line") {
    bytes udp(28 + 5);
    ipv4_repr{a1, a2, ip_protocol::udp, 64, 0, true, 13}.emit(udp);
    store_be16(&udp[20], 5353);
    store_be16(&udp[22], 53);
    store_be16(&udp[24], 13);
    CHECK(format_tcpdump(udp) == "IP 10.0.0.1.5353 > 10.0.0.2.53: UDP, length 5");

    bytes gre(24);
    ipv4_repr{a1, a2, 47, 64, 0, true, 4}.emit(gre);
    CHECK(format_tcpdump(gre) == "IP 10.0.0.1 > 10.0.0.2: ip-proto-47 4");
}

TEST_CASE("malformed packets print a line that says so") {
    CHECK(format_tcpdump({}) == "IP [malformed: empty], length 0");
    CHECK(format_tcpdump(hex("60 00 00 00")) == "IP [malformed: bad version], length 4");
    CHECK(format_tcpdump(hex("45 00 00 14")) == "IP [malformed: truncated header], length 4");

    bytes short_tcp(30);
    ipv4_repr{a1, a2, ip_protocol::tcp, 64, 0, true, 10}.emit(short_tcp);
    CHECK(format_tcpdump(short_tcp) == "IP 10.0.0.1 > 10.0.0.2: [malformed TCP header], length 10");

    bytes frag(28);
    ipv4_repr{a1, a2, ip_protocol::tcp, 64, 9, false, 8}.emit(frag);
    store_be16(&frag[6], 0x2000 | 185);
    CHECK(format_tcpdump(frag) == "IP 10.0.0.1 > 10.0.0.2: ip-proto-6 (frag 9:8@1480+)");
}
