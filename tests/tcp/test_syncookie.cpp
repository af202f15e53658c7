// Tests for corotcp/tcp/syncookie.hpp: the cookie's round trip, its age limit, forgeries, and the
// options carried in the TSval.
#include "corotcp/tcp/syncookie.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace corotcp;
using corotcp::tcp::syn_cookie_ts_bits;
using corotcp::tcp::syn_cookies;
using corotcp::wire::seq32;

namespace {
constexpr std::array<std::uint8_t, 16> key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr std::uint32_t us = 0x0A00'0002, them = 0x0A00'0001;

instant at(duration d) { return instant{} + d; }
} // namespace

TEST_CASE("syn cookie: the MSS index is the largest table value not above the peer's MSS") {
    CHECK(syn_cookies::mss_index(0) == 0);
    CHECK(syn_cookies::mss_index(536) == 0);
    CHECK(syn_cookies::mss_index(1299) == 0);
    CHECK(syn_cookies::mss_index(1300) == 1);
    CHECK(syn_cookies::mss_index(1460) == 3);
    CHECK(syn_cookies::mss_index(65535) == 3);
}

TEST_CASE("syn cookie: what make() encodes, check() gives back, for this period and the one before only") {
    const syn_cookies c(key);
    const std::uint16_t peer_mss = GENERATE(536, 1400, 1460, 9000);
    const std::uint32_t peer_isn = GENERATE(0u, 12345u, 0xFFFF'FFFFu);
    const duration made = GENERATE(duration{}, duration::seconds(63), duration::seconds(64 * 300 + 5));
    const bool ts = GENERATE(false, true);
    CAPTURE(peer_mss, peer_isn, made.us, ts);
    const seq32 cookie = c.make(at(made), us, 80, them, 40000, seq32(peer_isn), peer_mss, ts);
    const syn_cookies::contents expect{syn_cookies::mss_table[syn_cookies::mss_index(peer_mss)], ts};
    // the same period, and the next: valid
    CHECK(c.check(at(made), us, 80, them, 40000, seq32(peer_isn), cookie) == expect);
    CHECK(c.check(at(made + duration::seconds(64)), us, 80, them, 40000, seq32(peer_isn), cookie) == expect);
    // two periods on: too old; and across 256 periods the 8-bit count must not bring it back
    CHECK(!c.check(at(made + duration::seconds(128)), us, 80, them, 40000, seq32(peer_isn), cookie));
    CHECK_FALSE(c.check(at(made + duration::seconds(64 * 256)), us, 80, them, 40000, seq32(peer_isn), cookie));
    // another tuple, another key: not ours
    CHECK(!c.check(at(made), us, 80, them, 40001, seq32(peer_isn), cookie));
    CHECK(!c.check(at(made), us, 81, them, 40000, seq32(peer_isn), cookie));
    CHECK(!c.check(at(made), us, 80, them + 1, 40000, seq32(peer_isn), cookie));
    // another peer ISN, even one off (an ACK after a lost first data segment): refused, not read
    // with other contents
    for (std::uint32_t k : {1u, 2u, 3u, 4u, 1000u}) {
        CHECK(!c.check(at(made), us, 80, them, 40000, seq32(peer_isn + k), cookie));
        CHECK(!c.check(at(made), us, 80, them, 40000, seq32(peer_isn - k), cookie));
    }
    auto other = key;
    other[0] ^= 1;
    CHECK(!syn_cookies(other).check(at(made), us, 80, them, 40000, seq32(peer_isn), cookie));
}

TEST_CASE("syn cookie: forged values are refused (8 in 2^24 per period pass by chance)") {
    const syn_cookies c(key);
    const seq32 cookie = c.make(at(duration::seconds(1000)), us, 80, them, 40000, seq32(777), 536, false);
    int accepted = 0;
    for (std::uint32_t delta = 1; delta <= 20000; ++delta) {
        accepted += c.check(at(duration::seconds(1000)), us, 80, them, 40000, seq32(777), cookie + delta).has_value();
        accepted += c.check(at(duration::seconds(1000)), us, 80, them, 40000, seq32(777), cookie - delta).has_value();
    }
    CHECK(accepted == 0); // the nearest other valid values lie 2^21 away
    // and a cookie is not a plain RFC 6528 ISN: those are refused too
    const tcp::isn_generator g(key);
    int isn_accepted = 0;
    for (std::uint16_t port = 40000; port < 42000; ++port)
        isn_accepted += c.check(at(duration::seconds(1000)), us, 80, them, port, seq32(777),
                                g.generate(at(duration::seconds(1000)), us, 80, them, port))
                            .has_value();
    CHECK(isn_accepted == 0);
}

TEST_CASE("syn cookie: the TSval carries the window shift and SACK, never ahead of the clock") {
    const std::uint32_t now = GENERATE(0u, 5u, 63u, 64u, 1000u, 0xFFFF'FFFFu, 0x8000'0010u);
    const syn_cookie_ts_bits bits = GENERATE(syn_cookie_ts_bits{}, syn_cookie_ts_bits{std::uint8_t{7}, true},
                                             syn_cookie_ts_bits{std::uint8_t{0}, false},
                                             syn_cookie_ts_bits{std::uint8_t{14}, true}, syn_cookie_ts_bits{{}, true});
    CAPTURE(now, bits.peer_wscale.value_or(255), bits.sack);
    const std::uint32_t v = syn_cookies::encode_tsval(now, bits);
    CHECK(now - v < 64); // at most 63 ms back, modulo 2^32
    CHECK(syn_cookies::decode_tsval(v) == bits);
}
