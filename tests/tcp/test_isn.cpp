// Tests for corotcp/tcp/isn.hpp: SipHash-2-4 and RFC 6528 initial sequence numbers.
#include "corotcp/tcp/isn.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>

using namespace corotcp;
using corotcp::tcp::isn_generator;
using corotcp::tcp::siphash24;

namespace {

// SipHash-2-4 reference outputs from the SipHash paper's test vectors (Aumasson & Bernstein 2012,
// Appendix A and the reference implementation's vectors): key 00 01 .. 0f, message 00 01 .. (n-1).
constexpr std::uint64_t sip_vectors[64] = {
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d, 0xcf2794e0277187b7,
    0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462, 0x9e0082df0ba9e4b0,
    0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7, 0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
    0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8, 0xb8ad50c6f649af94,
    0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
    0xad87a3535c49ef28, 0x32d892fad841c342, 0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238,
    0x15e034d40fa197ae, 0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95, 0xf935451de4f21df2,
    0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb, 0xe612a3cb9ecba951, 0xc766e62cfcadaf96,
    0xee64435a9752fe72, 0xa192d576b245165a, 0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea,
    0x245731c13ca42499, 0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
};

constexpr std::array<std::uint8_t, 16> ref_key{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

constexpr std::uint32_t ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d;
}

const std::array<std::uint8_t, 16> secret_a{0x13, 0x57, 0x9b, 0xdf, 0x02, 0x46, 0x8a, 0xce,
                                            0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
const std::array<std::uint8_t, 16> secret_b{0x13, 0x57, 0x9b, 0xdf, 0x02, 0x46, 0x8a, 0xce,
                                            0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x11};

} // namespace

TEST_CASE("siphash24 matches all 64 reference vectors of the SipHash paper") {
    std::array<std::uint8_t, 64> msg{};
    for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::uint8_t>(i);
    for (std::size_t n = 0; n < 64; ++n) {
        CAPTURE(n);
        CHECK(siphash24(ref_key, std::span<const std::uint8_t>(msg.data(), n)) == sip_vectors[n]);
    }
}

TEST_CASE("siphash24 is usable at compile time") {
    constexpr std::array<std::uint8_t, 15> msg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    static_assert(siphash24(ref_key, msg) == 0xa129ca6149be45e5ull); // the paper's worked example
}

TEST_CASE("the ISN advances by one every 4 microseconds for a fixed 4-tuple") {
    const isn_generator g(secret_a);
    const auto at = [&](std::int64_t us) {
        return g.generate(instant::from_micros(us), ip(10, 0, 0, 1), 40000, ip(10, 0, 0, 2), 80);
    };
    const auto base = at(1'000'000);
    CHECK(at(1'000'000) == base);      // deterministic
    CHECK(at(1'000'003) == base);      // same 4 µs tick
    CHECK(at(1'000'004) - base == 1);
    CHECK(at(1'004'000) - base == 1000);
    CHECK(at(1'000'000 + 4 * 1'000'000'000LL) - base == 1'000'000'000);
}

TEST_CASE("the ISN timer wraps modulo 2^32 and keeps ticking across a negative epoch") {
    const isn_generator g(secret_a);
    const auto at = [&](std::int64_t us) {
        return g.generate(instant::from_micros(us), ip(192, 168, 1, 1), 1234, ip(192, 168, 1, 2), 5678);
    };
    CHECK(at(4LL << 32) == at(0)); // 2^32 ticks later: the same value
    CHECK(at(0) - at(-4) == 1);
    CHECK(at(-4) - at(-8) == 1);
}

TEST_CASE("different 4-tuples get unrelated ISNs at the same instant") {
    const isn_generator g(secret_a);
    const instant now = instant::from_micros(123456789);
    std::set<std::uint32_t> seen;
    seen.insert(g.generate(now, ip(10, 0, 0, 1), 40000, ip(10, 0, 0, 2), 80).value());
    seen.insert(g.generate(now, ip(10, 0, 0, 1), 40001, ip(10, 0, 0, 2), 80).value());   // local port
    seen.insert(g.generate(now, ip(10, 0, 0, 3), 40000, ip(10, 0, 0, 2), 80).value());   // local address
    seen.insert(g.generate(now, ip(10, 0, 0, 1), 40000, ip(10, 0, 0, 4), 80).value());   // remote address
    seen.insert(g.generate(now, ip(10, 0, 0, 1), 40000, ip(10, 0, 0, 2), 81).value());   // remote port
    seen.insert(g.generate(now, ip(10, 0, 0, 2), 80, ip(10, 0, 0, 1), 40000).value());   // the reverse direction
    CHECK(seen.size() == 6);

    for (std::uint16_t port = 1024; port < 1024 + 1000; ++port)
        seen.insert(g.generate(now, ip(10, 0, 0, 1), port, ip(10, 0, 0, 2), 443).value());
    CHECK(seen.size() >= 6 + 999); // a 32-bit PRF: a collision among 1000 is possible but unlikely
}

TEST_CASE("generators with different secrets give different ISNs for the same 4-tuple") {
    const isn_generator a(secret_a), b(secret_b);
    const instant now = instant::from_micros(42);
    CHECK(a.generate(now, ip(10, 0, 0, 1), 40000, ip(10, 0, 0, 2), 80) !=
          b.generate(now, ip(10, 0, 0, 1), 40000, ip(10, 0, 0, 2), 80));
}
