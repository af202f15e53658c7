#include "corotcp/wire/tcp.hpp"
#include "wire_test_util.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using namespace corotcp::wire;
using wire_test::addr;
using wire_test::bytes;
using wire_test::hex;

namespace {

const ipv4_address a1 = addr("10.0.0.1");
const ipv4_address a2 = addr("10.0.0.2");

/// A bare 20-byte header (data offset 5) followed by `options` and a fixed data offset.
bytes segment_with_options(const bytes& options) {
    bytes b = hex("8b3e 0050 3c59 74f6 00000000 0002 7210 0000 0000");
    b.insert(b.end(), options.begin(), options.end());
    b[12] = static_cast<std::uint8_t>((b.size() / 4) << 4);
    return b;
}

tcp_options parse_options(const bytes& options) {
    const bytes segment = segment_with_options(options);
    const auto v = tcp_view::from_bytes(segment);
    REQUIRE(v);
    return v->options();
}

} // namespace

TEST_CASE("a hand-built Linux SYN carries the checksums an independent implementation computes") {
    // 10.0.0.1.35646 > 10.0.0.2.80: Flags [S], seq 1012495606, win 29200,
    // options [mss 1460,sackOK,TS val 3535567886 ecr 0,nop,wscale 7]; checksums from Python.
    const bytes packet = hex("4500 003c 1c46 4000 4006 0a74 0a000001 0a000002"
                             "8b3e 0050 3c59 74f6 00000000 a002 7210 3644 0000"
                             "0204 05b4 0402 080a d2bc 7c0e 00000000 0103 0307");
    const auto ip = ipv4_view::from_bytes(packet);
    REQUIRE(ip);
    CHECK(ip->verify_checksum());
    const auto t = tcp_repr::parse(ip->payload(), ip->src(), ip->dst());
    REQUIRE(t);
    CHECK(t->src_port == 35646);
    CHECK(t->dst_port == 80);
    CHECK(t->seq == seq32(1012495606));
    CHECK(t->flags == tcp_flags::syn);
    CHECK(t->window == 29200);
    CHECK(t->options.mss == 1460);
    CHECK(t->options.sack_permitted);
    CHECK(t->options.timestamps == tcp_timestamps{3535567886u, 0});
    CHECK(t->options.window_scale == 7);
    CHECK(t->payload.empty());
    CHECK(t->segment_length() == 1);

    // Our emitter produces the same bytes, Linux's option layout included.
    bytes again(packet.size());
    ipv4_repr{a1, a2, ip_protocol::tcp, 64, 0x1c46, true, 40}.emit(again);
    REQUIRE(t->emit(std::span(again).subspan(20), a1, a2) == 40);
    CHECK(again == packet);
}

TEST_CASE("every combination of TCP options survives emit and parse in 4-byte-aligned headers") {
    for (unsigned mask = 0; mask < 16; ++mask) {
        for (std::uint8_t sacks = 0; sacks <= 4; ++sacks) {
            tcp_repr r{1234, 80, seq32(100 + 0xFEDC0000u * mask), seq32(200), tcp_flags::ack, 500, 0, {}, {}};
            if (mask & 1) r.options.mss = 1460;
            if (mask & 2) r.options.window_scale = 9;
            if (mask & 4) r.options.sack_permitted = true;
            if (mask & 8) r.options.timestamps = tcp_timestamps{0x01020304u, 0xA0B0C0D0u};
            r.options.sack_count = sacks;
            for (std::uint32_t k = 0; k < 4; ++k) r.options.sack[k] = {seq32(1000 * k + 1), seq32(1000 * k + 500)};
            INFO("mask " << mask << " sacks " << int(sacks));

            const std::size_t hlen = r.header_len();
            CHECK(hlen % 4 == 0);
            CHECK(hlen <= 60);
            bytes b(hlen + 3);
            const bytes payload = hex("aa bb cc");
            REQUIRE(r.emit_with_payload(b, a1, a2, payload) == hlen + 3);
            // emit's header sum is computed from the fields: it must equal the sum of the bytes.
            bytes header(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(hlen));
            header[16] = header[17] = 0;
            CHECK(r.header_sum(hlen) == ones_complement_sum(header));
            const auto back = tcp_repr::parse(b, a1, a2);
            REQUIRE(back);

            tcp_repr expect = r;
            expect.payload = payload;
            expect.options.sack_count = static_cast<std::uint8_t>(r.emitted_sack_count());
            CHECK(*back == expect);
            if (mask == 0) CHECK(r.emitted_sack_count() == sacks); // room for 4 alone
            if (mask == 8) CHECK(r.emitted_sack_count() == std::min<std::size_t>(sacks, 3)); // RFC 2018: 3 with TS
        }
    }
}

TEST_CASE("a data segment with timestamps and SACK uses Linux's nop,nop layout") {
    tcp_repr r{80, 1234, seq32(5), seq32(6), tcp_flags::ack, 502, 0, {}, {}};
    r.options.timestamps = tcp_timestamps{1, 2};
    r.options.sack_count = 1;
    r.options.sack[0] = {seq32(10), seq32(20)};
    bytes b(r.header_len());
    REQUIRE(r.emit_header(b) == 44);
    CHECK(bytes(b.begin() + 20, b.end()) == hex("0101 080a 00000001 00000002 0101 050a 0000000a 00000014"));
    CHECK(b[12] == 0xB0);
    CHECK(load_be16(&b[16]) == 0); // emit_header leaves the checksum to finish_checksum
}

TEST_CASE("a TCP option with length 0 ends option parsing without reading past the header") {
    const auto o = parse_options(hex("0204 05b4 0800 0000"));
    CHECK(o.mss == 1460);
    CHECK_FALSE(o.timestamps);
}

TEST_CASE("a TCP option with length 1 ends option parsing without reading past the header") {
    const auto o = parse_options(hex("0402 0301 0303 0700"));
    CHECK(o.sack_permitted);
    CHECK_FALSE(o.window_scale);
}

TEST_CASE("a TCP option whose length runs past the header ends parsing and keeps the options before it") {
    const auto o = parse_options(hex("0303 0508 0a00 0000"));
    CHECK(o.window_scale == 5);
    CHECK_FALSE(o.timestamps);
    // The segment itself is kept: the payload is still there.
    bytes seg = segment_with_options(hex("0303 0508 0a00 0000"));
    seg.push_back(0x42);
    const auto v = tcp_view::from_bytes(seg);
    REQUIRE(v);
    CHECK(v->payload().size() == 1);
}

TEST_CASE("a TCP option kind in the last byte of the header, with no room for its length, ends parsing") {
    const auto o = parse_options(hex("0101 0103"));
    CHECK_FALSE(o.window_scale);
    CHECK(walk_tcp_options(hex("0101 0103"), [](auto, auto) {}) == false);
}

TEST_CASE("unknown TCP options are skipped by their length") {
    const auto o = parse_options(hex("1e06 0102 0304 0204 0218 0000"));
    CHECK(o.mss == 536);
}

TEST_CASE("known TCP options with the wrong length are ignored and skipped") {
    const auto o = parse_options(hex("0205 0000 00 0303 0c 0403 00 0804 0102 00"));
    CHECK_FALSE(o.mss);
    CHECK(o.window_scale == 12);
    CHECK_FALSE(o.sack_permitted);
    CHECK_FALSE(o.timestamps);
}

TEST_CASE("a SACK option whose length is not 2 plus a multiple of 8 is ignored") {
    const auto o = parse_options(hex("0101 050b 00000001 00000002 000000 00"));
    CHECK(o.sack_count == 0);
}

TEST_CASE("window scale above 14 is clamped to 14") {
    CHECK(parse_options(hex("0103 030f")).window_scale == 14);
    CHECK(parse_options(hex("0103 03ff")).window_scale == 14);
    CHECK(parse_options(hex("0103 030e")).window_scale == 14);
}

TEST_CASE("EOL ends the TCP option list even if option bytes follow it") {
    const auto o = parse_options(hex("0204 05b4 0001 0303"));
    CHECK(o.mss == 1460);
    CHECK_FALSE(o.window_scale);
}

TEST_CASE("a TCP header with data offset below 5 or beyond the buffer is rejected") {
    bytes b = segment_with_options({});
    REQUIRE(tcp_view::from_bytes(b));
    CHECK_FALSE(tcp_view::from_bytes(std::span(b).first(19)));
    b[12] = 0x40;
    CHECK_FALSE(tcp_view::from_bytes(b));
    b[12] = 0x00;
    CHECK_FALSE(tcp_view::from_bytes(b));
    b[12] = 0x60; // 24 bytes of header in a 20-byte buffer
    CHECK_FALSE(tcp_view::from_bytes(b));
    b.resize(24);
    CHECK(tcp_view::from_bytes(b));
    CHECK_FALSE(tcp_repr::parse(bytes(10), a1, a2, false));
}

TEST_CASE("a TCP checksum error is rejected unless verification is turned off") {
    tcp_repr r{1, 2, seq32(3), seq32(4), tcp_flags::ack | tcp_flags::psh, 5, 0, {}, {}};
    bytes b(20 + 4);
    REQUIRE(r.emit_with_payload(b, a1, a2, hex("01020304")) == 24);
    CHECK(tcp_repr::parse(b, a1, a2));
    CHECK_FALSE(tcp_repr::parse(b, a1, addr("10.0.0.3"))); // the pseudo-header counts
    b[23] ^= 0x10;
    CHECK_FALSE(tcp_repr::parse(b, a1, a2));
    CHECK(tcp_repr::parse(b, a1, a2, false));
}

TEST_CASE("emit_with_payload writes the same bytes as emit_header, a copy and finish_checksum") {
    tcp_repr r{443, 50000, seq32(0xFFFFFFF0u), seq32(77), tcp_flags::ack | tcp_flags::fin, 65535, 0, {}, {}};
    r.options.timestamps = tcp_timestamps{9, 8};
    bytes payload(1461);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 31 + 7);

    bytes fused(r.header_len() + payload.size());
    REQUIRE(r.emit_with_payload(fused, a2, a1, std::span(payload).first(701), std::span(payload).subspan(701)) ==
            fused.size());

    bytes slow(fused.size());
    const std::size_t h = r.emit_header(slow);
    std::memcpy(slow.data() + h, payload.data(), payload.size());
    finish_checksum(slow, a2, a1);
    CHECK(fused == slow);
    tcp_repr::finish_checksum(slow, a2, a1);
    CHECK(fused == slow);

    const auto back = tcp_repr::parse(fused, a2, a1);
    REQUIRE(back);
    CHECK(bytes(back->payload.begin(), back->payload.end()) == payload);
    CHECK(back->segment_length() == 1462);
}

TEST_CASE("TCP emitters refuse buffers that are too small and write nothing") {
    tcp_repr r{1, 2, seq32(3), seq32(4), tcp_flags::ack, 5, 0, {}, {}};
    bytes b(19, 0xAA);
    CHECK(r.emit_header(b) == 0);
    CHECK(b == bytes(19, 0xAA));
    bytes c(22, 0xAA);
    CHECK(r.emit_with_payload(c, a1, a2, hex("010203")) == 0);
    CHECK(c == bytes(22, 0xAA));
}

TEST_CASE("SEG.LEN counts the payload plus one for SYN and one for FIN") {
    const bytes p = hex("0102 03");
    tcp_repr r{1, 2, seq32(3), seq32(4), 0, 5, 0, {}, p};
    CHECK(r.segment_length() == 3);
    r.flags = tcp_flags::syn;
    CHECK(r.segment_length() == 4);
    r.flags = tcp_flags::syn | tcp_flags::fin | tcp_flags::ack;
    CHECK(r.segment_length() == 5);
    CHECK(tcp_flags{r.flags}.has(tcp_flags::syn | tcp_flags::ack));
    CHECK_FALSE(tcp_flags{r.flags}.has(tcp_flags::rst | tcp_flags::ack));
    CHECK(tcp_flags{r.flags}.any(tcp_flags::rst | tcp_flags::ack));
}
