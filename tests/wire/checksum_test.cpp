#include "corotcp/wire/checksum.hpp"
#include "wire_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>

using namespace corotcp::wire;
using wire_test::bytes;
using wire_test::hex;

namespace {

/// The textbook definition (RFC 1071 section 1), one big-endian word at a time: the reference.
std::uint16_t reference_sum(std::span<const std::uint8_t> b) {
    std::uint32_t s = 0;
    for (std::size_t i = 0; i < b.size(); i += 2) {
        const std::uint32_t hi = b[i];
        const std::uint32_t lo = i + 1 < b.size() ? b[i + 1] : 0;
        s += (hi << 8) | lo;
        s = (s & 0xFFFF) + (s >> 16);
    }
    return static_cast<std::uint16_t>(s);
}

bytes random_bytes(std::mt19937& rng, std::size_t n) {
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

/// Sums that represent the same ones'-complement value (0x0000 and 0xFFFF are both zero).
bool same_sum(std::uint16_t a, std::uint16_t b) {
    return a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0);
}

} // namespace

TEST_CASE("the RFC 1071 section 3 example sums to ddf2") {
    const bytes b = hex("00 01 f2 03 f4 f5 f6 f7");
    CHECK(ones_complement_sum(b) == 0xddf2);
    CHECK(internet_checksum(b) == 0x220d);
}

TEST_CASE("a well-known IPv4 header checksums to b861 and then verifies to zero") {
    bytes h = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
    CHECK(internet_checksum(h) == 0xb861);
    store_be16(&h[10], 0xb861);
    CHECK(internet_checksum(h) == 0);
}

TEST_CASE("odd-length data is summed as if padded with one zero byte on the right") {
    CHECK(ones_complement_sum(hex("ab")) == 0xab00);
    CHECK(ones_complement_sum(hex("01 02 03")) == 0x0402);
    CHECK(ones_complement_sum(hex("")) == 0);
}

TEST_CASE("the checksum equals a word-at-a-time reference for every length up to 300 and every alignment") {
    std::mt19937 rng(1);
    const bytes pool = random_bytes(rng, 400);
    for (std::size_t align = 0; align < 16; ++align) {
        for (std::size_t len = 0; len <= 300; ++len) {
            const auto s = std::span(pool).subspan(align, len);
            REQUIRE(ones_complement_sum(s) == reference_sum(s));
        }
    }
}

TEST_CASE("all-ones data far longer than a block folds its carries correctly") {
    const bytes b(70000, 0xFF);
    CHECK(same_sum(ones_complement_sum(b), reference_sum(b)));
    const bytes c(65537, 0x80);
    CHECK(ones_complement_sum(c) == reference_sum(c));
}

TEST_CASE("an accumulator fed pieces of any length and alignment equals one pass over the whole") {
    std::mt19937 rng(2);
    for (int round = 0; round < 500; ++round) {
        const bytes b = random_bytes(rng, rng() % 200);
        checksum_accumulator acc;
        std::size_t i = 0;
        while (i < b.size()) {
            const std::size_t n = std::min<std::size_t>(rng() % 9, b.size() - i);
            acc.add(std::span(b).subspan(i, n));
            i += n;
        }
        REQUIRE(same_sum(acc.sum(), reference_sum(b)));
        REQUIRE(acc.finish() == static_cast<std::uint16_t>(~acc.sum()));
    }
}

TEST_CASE("16- and 32-bit words added to an accumulator count as their big-endian bytes, even after an odd piece") {
    checksum_accumulator words;
    words.add(hex("aa"));
    words.add_u16(0x1234);
    words.add_u32(0xdeadbeef);
    CHECK(words.sum() == reference_sum(hex("aa 12 34 de ad be ef")));
}

TEST_CASE("fused copy and checksum copies exactly and sums like the checksum alone") {
    std::mt19937 rng(3);
    for (std::size_t len : {0u, 1u, 7u, 8u, 31u, 32u, 33u, 1460u, 1461u, 65535u}) {
        const bytes src = random_bytes(rng, len + 3);
        for (std::size_t align = 0; align < 4; ++align) {
            bytes dst(len + 8, 0xEE);
            const auto from = std::span(src).subspan(align, len);
            const std::uint16_t s = copy_and_checksum(dst.data() + (3 - align), from.data(), len);
            REQUIRE(std::memcmp(dst.data() + (3 - align), from.data(), len) == 0);
            REQUIRE(dst[len + 3 - align] == 0xEE);
            REQUIRE(s == ones_complement_sum(from));
        }
    }
}

TEST_CASE("accumulator add_copy over odd-length pieces equals a copy plus a checksum of the whole") {
    std::mt19937 rng(4);
    const bytes src = random_bytes(rng, 1001);
    bytes dst(1001);
    checksum_accumulator acc;
    acc.add_copy(dst.data(), std::span(src).first(333));
    acc.add_copy(dst.data() + 333, std::span(src).subspan(333));
    CHECK(dst == src);
    CHECK(same_sum(acc.sum(), reference_sum(src)));
}

TEST_CASE("RFC 1624 incremental update equals recomputation for 16- and 32-bit fields") {
    std::mt19937 rng(5);
    for (int round = 0; round < 2000; ++round) {
        bytes b = random_bytes(rng, 40);
        store_be16(&b[10], 0);
        const std::uint16_t old_sum = internet_checksum(b);
        store_be16(&b[10], old_sum);

        const std::uint16_t old16 = load_be16(&b[20]);
        const auto new16 = static_cast<std::uint16_t>(rng());
        store_be16(&b[20], new16);
        const std::uint16_t adjusted16 = checksum_adjust(old_sum, old16, new16);

        const std::uint32_t old32 = load_be32(&b[24]);
        const auto new32 = static_cast<std::uint32_t>(rng());
        store_be32(&b[24], new32);
        const std::uint16_t adjusted = checksum_adjust(adjusted16, old32, new32);

        store_be16(&b[10], 0);
        const std::uint16_t recomputed = internet_checksum(b);
        REQUIRE(same_sum(adjusted, recomputed));
        store_be16(&b[10], adjusted);
        REQUIRE(same_sum(internet_checksum(b), 0));
    }
}

TEST_CASE("the IPv4 pseudo-header sum equals summing its 12 bytes") {
    const bytes ph = hex("0a000001 0a000002 00 06 0028");
    CHECK(ipv4_pseudo_header_sum(0x0a000001u, 0x0a000002u, 6, 40) == reference_sum(ph));
    const bytes ph2 = hex("ffffffff ffffffff 00 11 ffff");
    CHECK(same_sum(ipv4_pseudo_header_sum(0xFFFFFFFFu, 0xFFFFFFFFu, 17, 0xFFFF), reference_sum(ph2)));
}

#ifdef COROTCP_CHECKSUM_AVX2
TEST_CASE("the AVX2 kernel folds to the scalar sum and copies exactly, for every length to 700 and alignment to 32") {
    if (!detail::cpu_has_avx2()) {
        WARN("this CPU has no AVX2: the scalar kernel is the only one in use");
        return;
    }
    std::mt19937 rng(7);
    const bytes pool = random_bytes(rng, 800);
    bytes dst_a(800), dst_b(800);
    for (std::size_t align = 0; align < 32; ++align) {
        for (std::size_t len = 0; len <= 700; ++len) {
            const std::uint8_t* src = pool.data() + align;
            const auto scalar = detail::fold(detail::sum_block_scalar<false>(nullptr, src, len));
            REQUIRE(detail::fold(detail::sum_block_avx2<false>(nullptr, src, len)) == scalar);
            std::fill(dst_a.begin(), dst_a.end(), 0xEE);
            std::fill(dst_b.begin(), dst_b.end(), 0xEE);
            REQUIRE(detail::fold(detail::sum_block_avx2<true>(dst_a.data() + (31 - align), src, len)) == scalar);
            REQUIRE(detail::fold(detail::sum_block_scalar<true>(dst_b.data() + (31 - align), src, len)) == scalar);
            REQUIRE(dst_a == dst_b); // the same bytes, and nothing written past the end
        }
    }
    // Carries: 1 MiB of 0xFF bytes (every lane near its largest per-step growth).
    const bytes ones(1 << 20, 0xFF);
    CHECK(detail::fold(detail::sum_block_avx2<false>(nullptr, ones.data(), ones.size())) ==
          detail::fold(detail::sum_block_scalar<false>(nullptr, ones.data(), ones.size())));
}
#endif
