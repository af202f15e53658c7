#include "corotcp/wire/ipv4.hpp"
#include "wire_test_util.hpp"

#include <catch2/catch.hpp>

#include <unordered_set>

using namespace corotcp::wire;
using wire_test::bytes;
using wire_test::hex;

TEST_CASE("IPv4 addresses parse from dotted quads and print back") {
    const auto a = ipv4_address::parse("10.0.0.1");
    REQUIRE(a);
    CHECK(a->value == 0x0A000001u);
    CHECK(a->to_string() == "10.0.0.1");
    CHECK(ipv4_address::parse("255.255.255.255")->is_broadcast());
    CHECK(ipv4_address::parse("0.0.0.0")->is_unspecified());
    CHECK(ipv4_address::parse("127.1.2.3")->is_loopback());
    CHECK(ipv4_address::parse("224.0.0.1")->is_multicast());
    CHECK(ipv4_address::from_octets(192, 168, 1, 200).to_string() == "192.168.1.200");
    static_assert(ipv4_address::parse("1.2.3.4")->value == 0x01020304u);
}

TEST_CASE("malformed dotted quads are rejected") {
    for (const char* s : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.1000", "0001.1.1.1", "1..2.3", "a.b.c.d",
                          " 1.2.3.4", "1.2.3.4 ", "1.2.3.", ".1.2.3", "+1.2.3.4", "1.2.3.-4"}) {
        INFO(s);
        CHECK_FALSE(ipv4_address::parse(s));
    }
}

TEST_CASE("IPv4 addresses order and hash by value") {
    const ipv4_address a{1}, b{2};
    CHECK(a < b);
    CHECK(a == ipv4_address{1});
    CHECK(a != b);
    std::unordered_set<ipv4_address> set{a, b, a};
    CHECK(set.size() == 2);
}

TEST_CASE("an emitted IPv4 header parses back to the same repr and carries a valid checksum") {
    const ipv4_repr r{wire_test::addr("10.0.0.1"), wire_test::addr("10.0.0.2"), ip_protocol::udp, 17, 0x1c46, false, 12};
    bytes b(32, 0xAA);
    REQUIRE(r.emit(b) == 20);
    CHECK(load_be16(&b[2]) == 32);
    const auto v = ipv4_view::from_bytes(b);
    REQUIRE(v);
    CHECK(v->verify_checksum());
    CHECK(v->header_len() == 20);
    CHECK(v->payload().size() == 12);
    CHECK_FALSE(v->dont_fragment());
    CHECK(ipv4_repr::parse(*v) == r);
}

TEST_CASE("DF is set by default in emitted IPv4 headers") {
    const ipv4_repr r{wire_test::addr("10.0.0.1"), wire_test::addr("10.0.0.2")};
    bytes b(20);
    REQUIRE(r.emit(b) == 20);
    CHECK(b[6] == 0x40);
    CHECK(b[8] == 64);
    CHECK(b[9] == ip_protocol::tcp);
    CHECK(ipv4_view::from_bytes(b)->dont_fragment());
}

TEST_CASE("IPv4 emit refuses a short buffer or a payload too large for the total length") {
    ipv4_repr r{wire_test::addr("10.0.0.1"), wire_test::addr("10.0.0.2")};
    bytes b(19, 0xAA);
    CHECK(r.emit(b) == 0);
    CHECK(b == bytes(19, 0xAA));
    bytes c(20);
    r.payload_length = 65516;
    CHECK(r.emit(c) == 0);
    r.payload_length = 65515;
    CHECK(r.emit(c) == 20);
}

TEST_CASE("IPv4 packets with a bad version, IHL below 5, or a total length outside the buffer are rejected") {
    const bytes good = hex("4500 0014 0000 4000 4006 0000 0a000001 0a000002");
    REQUIRE(ipv4_view::from_bytes(good));
    CHECK_FALSE(ipv4_view::from_bytes(std::span(good).first(19)));

    bytes v6 = good;
    v6[0] = 0x65;
    CHECK_FALSE(ipv4_view::from_bytes(v6));

    bytes ihl4 = good;
    ihl4[0] = 0x44;
    CHECK_FALSE(ipv4_view::from_bytes(ihl4));

    bytes ihl6 = good; // IHL 6 = 24 bytes, but total length 20
    ihl6[0] = 0x46;
    CHECK_FALSE(ipv4_view::from_bytes(ihl6));

    bytes too_long = good;
    store_be16(&too_long[2], 21);
    CHECK_FALSE(ipv4_view::from_bytes(too_long));

    bytes too_short = good;
    store_be16(&too_short[2], 19);
    CHECK_FALSE(ipv4_view::from_bytes(too_short));
}

TEST_CASE("a corrupted IPv4 header checksum is rejected by parse but the view still shows the packet") {
    bytes b(20);
    ipv4_repr{wire_test::addr("10.0.0.1"), wire_test::addr("10.0.0.2")}.emit(b);
    b[8] ^= 1; // TTL
    const auto v = ipv4_view::from_bytes(b);
    REQUIRE(v);
    CHECK_FALSE(v->verify_checksum());
    CHECK_FALSE(ipv4_repr::parse(*v));
    CHECK(ipv4_repr::parse(*v, false));
}

TEST_CASE("IPv4 fragments are detected by MF or a nonzero fragment offset") {
    bytes b(28);
    ipv4_repr{wire_test::addr("10.0.0.1"), wire_test::addr("10.0.0.2"), ip_protocol::udp, 64, 7, false, 8}.emit(b);
    CHECK_FALSE(ipv4_view::from_bytes(b)->is_fragment());
    b[6] = 0x20; // MF, offset 0: the first fragment
    CHECK(ipv4_view::from_bytes(b)->is_fragment());
    CHECK(ipv4_view::from_bytes(b)->more_fragments());
    store_be16(&b[6], 185); // offset 185*8 = 1480, last fragment
    CHECK(ipv4_view::from_bytes(b)->is_fragment());
    CHECK(ipv4_view::from_bytes(b)->fragment_offset() == 1480);
    store_be16(&b[6], 0x4000); // DF only
    CHECK_FALSE(ipv4_view::from_bytes(b)->is_fragment());
}

TEST_CASE("IPv4 options are skipped and the payload ends at the total length, not the buffer") {
    // IHL 6 (one word of options: NOP NOP NOP EOL), 4 payload bytes, 3 bytes of link padding.
    bytes b = hex("4600 001c 0001 0000 4011 0000 0a000001 0a000002 01010100 deadbeef 000000");
    store_be16(&b[10], internet_checksum(std::span(b).first(24)));
    const auto v = ipv4_view::from_bytes(b);
    REQUIRE(v);
    CHECK(v->verify_checksum());
    CHECK(v->header_len() == 24);
    CHECK(v->options().size() == 4);
    CHECK(v->payload().size() == 4);
    CHECK(v->payload()[0] == 0xde);
    CHECK(ipv4_repr::parse(*v)->payload_length == 4);
}
