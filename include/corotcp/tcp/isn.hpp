// corotcp/tcp/isn.hpp: initial sequence numbers, RFC 6528.
//
//   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)        (RFC 6528 section 3)
//
// M is a timer ticking every 4 microseconds (truncated to 32 bits); F is a keyed pseudorandom
// function, here SipHash-2-4 (Aumasson & Bernstein, 2012) over the 4-tuple, truncated to 32 bits.
// Consecutive connections of one 4-tuple thus get increasing ISNs (so old duplicates of an earlier
// incarnation stay below the new window, RFC 9293 3.4.1), while an off-path attacker who does not
// know the secret cannot predict the ISN of any other 4-tuple.
//
// This header draws no randomness: the 16-byte secret comes from the caller (the stack layer seeds
// it once from std::random_device), and time comes in as an argument.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "corotcp/util/time.hpp"
#include "corotcp/wire/seq.hpp"

namespace corotcp::tcp {

namespace detail {

[[nodiscard]] constexpr std::uint64_t rotl64(std::uint64_t x, int b) noexcept {
    return (x << b) | (x >> (64 - b));
}

[[nodiscard]] constexpr std::uint64_t load_le64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

struct sip_state {
    std::uint64_t v0, v1, v2, v3;

    constexpr void round() noexcept {
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);
    }
    constexpr void compress(std::uint64_t m) noexcept { // c = 2 rounds per message word
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

} // namespace detail

/// SipHash-2-4 of `data` under the 128-bit `key` (key bytes read little-endian as k0 || k1, as in
/// the SipHash paper). Returns the 64-bit tag as an integer (the paper outputs it little-endian).
[[nodiscard]] constexpr std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key,
                                                std::span<const std::uint8_t> data) noexcept {
    const std::uint64_t k0 = detail::load_le64(key.data());
    const std::uint64_t k1 = detail::load_le64(key.data() + 8);
    detail::sip_state s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                        k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};

    const std::size_t whole = data.size() & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8) s.compress(detail::load_le64(data.data() + i));

    // Last word: the remaining 0..7 bytes, little-endian, with (length mod 256) in the top byte.
    std::uint64_t last = static_cast<std::uint64_t>(data.size() & 0xff) << 56;
    for (std::size_t i = whole; i < data.size(); ++i) last |= static_cast<std::uint64_t>(data[i]) << (8 * (i - whole));
    s.compress(last);

    s.v2 ^= 0xff; // finalization: d = 4 rounds
    s.round();
    s.round();
    s.round();
    s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/// RFC 6528 initial sequence number generator. Cheap to copy; `generate` is pure.
class isn_generator {
public:
    explicit isn_generator(std::array<std::uint8_t, 16> secret) noexcept : secret_(secret) {}

    /// ISN for a connection on the given 4-tuple (addresses and ports in host byte order) at `now`.
    /// M = floor(now.us / 4) mod 2^32 (RFC 6528 section 3: a 4 µs timer); F = the low 32 bits of
    /// SipHash-2-4 over the tuple serialized in network byte order:
    ///   local_addr(4) local_port(2) remote_addr(4) remote_port(2).
    [[nodiscard]] wire::seq32 generate(instant now, std::uint32_t local_addr, std::uint16_t local_port,
                                       std::uint32_t remote_addr, std::uint16_t remote_port) const noexcept {
        const std::array<std::uint8_t, 12> tuple{
            byte(local_addr, 24),  byte(local_addr, 16),  byte(local_addr, 8),  byte(local_addr, 0),
            byte(local_port, 8),   byte(local_port, 0),
            byte(remote_addr, 24), byte(remote_addr, 16), byte(remote_addr, 8), byte(remote_addr, 0),
            byte(remote_port, 8),  byte(remote_port, 0)};
        const auto f = static_cast<std::uint32_t>(siphash24(secret_, tuple));
        // Arithmetic shift = floor division by 4, so M keeps ticking across a negative epoch too.
        const auto m = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now.us >> 2));
        return wire::seq32(m + f);
    }

    /// The key (for SYN cookies, which hash other messages under it).
    [[nodiscard]] const std::array<std::uint8_t, 16>& secret() const noexcept { return secret_; }

private:
    [[nodiscard]] static constexpr std::uint8_t byte(std::uint32_t v, int shift) noexcept {
        return static_cast<std::uint8_t>(v >> shift);
    }

    std::array<std::uint8_t, 16> secret_;
};

// The SipHash paper's reference vector for the empty message under key 00..0f (the rest are tested).
static_assert(siphash24({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {}) == 0x726fdb47dd0e0e31ull);

} // namespace corotcp::tcp
