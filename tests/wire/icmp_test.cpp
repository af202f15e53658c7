#include "corotcp/wire/icmp.hpp"
#include "wire_test_util.hpp"

#include <catch2/catch.hpp>

using namespace corotcp::wire;
using wire_test::addr;
using wire_test::bytes;
using wire_test::hex;

namespace {

/// The TCP SYN that the ICMP errors below complain about.
bytes original_syn() {
    tcp_repr t{40000, 80, seq32(0xCAFEBABEu), seq32(0), tcp_flags::syn, 64240, 0, {}, {}};
    t.options.mss = 1460;
    return wire_test::tcp_packet(addr("10.0.0.1"), addr("10.0.0.2"), t);
}

} // namespace

TEST_CASE("an ICMP echo request round trips through emit and parse with a valid checksum") {
    const bytes data = hex("00112233445566778899aabbccddeeff 01");
    const auto req = icmp_repr::echo_request(0x1234, 7, data);
    bytes b(req.buffer_len());
    REQUIRE(req.emit(b) == 8 + data.size());
    CHECK(b[0] == 8);
    CHECK(internet_checksum(b) == 0);
    const auto back = icmp_repr::parse(b);
    REQUIRE(back);
    CHECK(*back == req);
    CHECK_FALSE(back->quote());
}

TEST_CASE("an ICMP echo reply built in place over its request verifies") {
    const bytes data = hex("deadbeef 01");
    bytes b(8 + data.size());
    icmp_repr::echo_request(1, 1, data).emit(b);
    const auto req = icmp_repr::parse(b);
    REQUIRE(req);
    const auto reply = icmp_repr::echo_reply(req->id, req->seq, req->data);
    REQUIRE(reply.emit(b) == b.size());
    const auto back = icmp_repr::parse(b);
    REQUIRE(back);
    CHECK(back->type == icmp_type::echo_reply);
    CHECK(bytes(back->data.begin(), back->data.end()) == data);
}

TEST_CASE("a port unreachable quotes the original IP header and the TCP ports and sequence number") {
    const bytes syn = original_syn();
    const auto quote_bytes = icmp_error_quote(syn);
    CHECK(quote_bytes.size() == 28);
    const auto m = icmp_repr::dest_unreachable(icmp_unreach::port, quote_bytes);
    bytes b(m.buffer_len());
    REQUIRE(m.emit(b) == 36);
    const auto back = icmp_repr::parse(b);
    REQUIRE(back);
    CHECK(back->type == icmp_type::dest_unreachable);
    CHECK(back->code == icmp_unreach::port);
    const auto q = back->quote();
    REQUIRE(q);
    CHECK(q->src() == addr("10.0.0.1"));
    CHECK(q->dst() == addr("10.0.0.2"));
    CHECK(q->protocol() == ip_protocol::tcp);
    CHECK(q->src_port() == 40000);
    CHECK(q->dst_port() == 80);
    CHECK(q->tcp_seq() == seq32(0xCAFEBABEu));
    CHECK(q->total_length() == syn.size()); // the original length, beyond what is quoted
    CHECK(q->ip_header().size() == 20);
    CHECK(q->leading_payload().size() == 8);
}

TEST_CASE("fragmentation needed carries the next-hop MTU of RFC 1191 in bytes 6 and 7") {
    const bytes syn = original_syn();
    const auto m = icmp_repr::dest_unreachable(icmp_unreach::frag_needed, icmp_error_quote(syn), 1400);
    bytes b(m.buffer_len());
    m.emit(b);
    CHECK(load_be16(&b[4]) == 0);
    CHECK(load_be16(&b[6]) == 1400);
    CHECK(icmp_view::from_bytes(b)->next_hop_mtu() == 1400);
    CHECK(icmp_repr::parse(b)->next_hop_mtu == 1400);
    // Other unreachable codes carry no MTU.
    CHECK(icmp_repr::dest_unreachable(icmp_unreach::host, {}, 1400).next_hop_mtu == 0);
}

TEST_CASE("an ICMP time exceeded round trips and exposes its quote") {
    const bytes syn = original_syn();
    const auto m = icmp_repr::time_exceeded(icmp_time_exceeded::ttl, icmp_error_quote(syn));
    bytes b(m.buffer_len());
    m.emit(b);
    const auto back = icmp_repr::parse(b);
    REQUIRE(back);
    CHECK(*back == m);
    REQUIRE(back->quote());
    CHECK(back->quote()->dst_port() == 80);
}

TEST_CASE("ICMP messages that are short, carry a bad checksum, or quote too little are rejected") {
    CHECK_FALSE(icmp_view::from_bytes(hex("0800 0000 0000 00")));
    CHECK_FALSE(icmp_repr::parse(hex("0800 0000 0000 00")));

    bytes echo(12);
    icmp_repr::echo_request(1, 2, hex("01020304")).emit(echo);
    echo[9] ^= 1;
    CHECK_FALSE(icmp_repr::parse(echo));
    CHECK(icmp_repr::parse(echo, false));

    const bytes syn = original_syn();
    CHECK_FALSE(icmp_quote::parse(std::span(syn).first(27))); // header + 7 bytes
    CHECK(icmp_quote::parse(std::span(syn).first(28)));
    bytes bad_version(syn.begin(), syn.begin() + 28);
    bad_version[0] = 0x65;
    CHECK_FALSE(icmp_quote::parse(bad_version));
    bytes long_ihl(syn.begin(), syn.begin() + 28);
    long_ihl[0] = 0x46; // 24-byte header needs 32 bytes
    CHECK_FALSE(icmp_quote::parse(long_ihl));
}

TEST_CASE("unsupported ICMP types are not parsed into a repr but remain visible through the view") {
    bytes b = hex("0d00 0000 0001 0002 00000000 00000000 00000000"); // timestamp request
    store_be16(&b[2], internet_checksum(b));
    CHECK_FALSE(icmp_repr::parse(b));
    REQUIRE(icmp_view::from_bytes(b));
    CHECK(icmp_view::from_bytes(b)->verify_checksum());
    CHECK(icmp_view::from_bytes(b)->type() == 13);
}

TEST_CASE("the quote of a short packet is everything it has, and of garbage is empty") {
    bytes p(24);
    ipv4_repr{addr("10.0.0.1"), addr("10.0.0.2"), ip_protocol::udp, 64, 0, true, 4}.emit(p);
    CHECK(icmp_error_quote(p).size() == 24);
    CHECK(icmp_error_quote(hex("00 01 02")).empty());
}

TEST_CASE("ICMP emit refuses a buffer that is too small and writes nothing") {
    const bytes data = hex("01020304");
    bytes b(11, 0xAA);
    CHECK(icmp_repr::echo_request(1, 2, data).emit(b) == 0);
    CHECK(b == bytes(11, 0xAA));
}
