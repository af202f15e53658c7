// corotcp/link/prng.hpp: small, portable, seeded pseudo-random numbers for fault injection.
//
// Fault injection must replay bit-for-bit from a seed on every platform and standard library, so
// nothing here uses std::random_device or std::uniform_*_distribution (whose outputs are
// implementation-defined). The generators are the published splitmix64 and xoshiro256**
// (Blackman & Vigna); the derived draws are specified here in integer arithmetic.
#pragma once

#include <array>
#include <cstdint>

namespace corotcp::detail {

/// splitmix64: used to expand one 64-bit seed into generator state.
class splitmix64 {
public:
    constexpr explicit splitmix64(std::uint64_t seed) noexcept : x_(seed) {}

    constexpr std::uint64_t next() noexcept {
        std::uint64_t z = (x_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

private:
    std::uint64_t x_;
};

/// xoshiro256**: the generator behind every fault decision.
class xoshiro256ss {
public:
    /// State from four splitmix64 outputs, as the authors recommend (never all zero).
    constexpr explicit xoshiro256ss(splitmix64& seeder) noexcept
        : s_{seeder.next(), seeder.next(), seeder.next(), seeder.next()} {}
    constexpr explicit xoshiro256ss(std::uint64_t seed) noexcept : xoshiro256ss(seed_from(seed)) {}
    /// A given state (must not be all zero); for reference tests.
    constexpr explicit xoshiro256ss(const std::array<std::uint64_t, 4>& state) noexcept
        : s_{state[0], state[1], state[2], state[3]} {}

    constexpr std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    /// Uniform in [0, 1) with 53 random bits; exact in IEEE double on every platform.
    constexpr double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    /// True with probability p. Draws nothing when p <= 0 or p >= 1, so a fault that is switched
    /// off (or certain) does not disturb the sequence seen by the others.
    constexpr bool chance(double p) noexcept {
        if (p <= 0.0) return false;
        if (p >= 1.0) return true;
        return unit() < p;
    }

    /// Uniform in [0, n), unbiased (rejection of the short last interval). n must be > 0.
    constexpr std::uint64_t below(std::uint64_t n) noexcept {
        const std::uint64_t threshold = (0 - n) % n; // 2^64 mod n
        for (;;) {
            const std::uint64_t x = next();
            if (x >= threshold) return x % n;
        }
    }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    static constexpr xoshiro256ss seed_from(std::uint64_t seed) noexcept {
        splitmix64 sm(seed);
        return xoshiro256ss(sm);
    }

    std::uint64_t s_[4];
};

} // namespace corotcp::detail
