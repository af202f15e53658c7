// corotcp/wire/seq.hpp: TCP sequence numbers (RFC 9293 section 3.4).
//
// Sequence space is a 32-bit circle; comparisons are meaningful only between numbers less than
// 2^31 apart, which is what `a - b` as a signed 32-bit distance expresses.
#pragma once

#include <cstdint>

namespace corotcp::wire {

class seq32 {
public:
    constexpr seq32() noexcept = default;
    constexpr explicit seq32(std::uint32_t v) noexcept : v_(v) {}

    [[nodiscard]] constexpr std::uint32_t value() const noexcept { return v_; }

    friend constexpr seq32 operator+(seq32 s, std::uint32_t n) noexcept { return seq32(s.v_ + n); }
    friend constexpr seq32 operator-(seq32 s, std::uint32_t n) noexcept { return seq32(s.v_ - n); }
    /// Signed distance from b to a on the circle.
    friend constexpr std::int32_t operator-(seq32 a, seq32 b) noexcept {
        return static_cast<std::int32_t>(a.v_ - b.v_);
    }
    constexpr seq32& operator+=(std::uint32_t n) noexcept { v_ += n; return *this; }

    friend constexpr bool operator==(seq32, seq32) noexcept = default;
    friend constexpr bool operator<(seq32 a, seq32 b) noexcept { return (a - b) < 0; }
    friend constexpr bool operator<=(seq32 a, seq32 b) noexcept { return (a - b) <= 0; }
    friend constexpr bool operator>(seq32 a, seq32 b) noexcept { return (a - b) > 0; }
    friend constexpr bool operator>=(seq32 a, seq32 b) noexcept { return (a - b) >= 0; }

private:
    std::uint32_t v_ = 0;
};

/// start <= s < start + len, on the sequence circle. The one window test everything uses.
[[nodiscard]] constexpr bool in_window(seq32 s, seq32 start, std::uint32_t len) noexcept {
    return static_cast<std::uint32_t>(s - start) < len;
}

[[nodiscard]] constexpr seq32 seq_max(seq32 a, seq32 b) noexcept { return a < b ? b : a; }
[[nodiscard]] constexpr seq32 seq_min(seq32 a, seq32 b) noexcept { return a < b ? a : b; }

static_assert(seq32(0xFFFFFFF0u) < seq32(0x10u), "comparison wraps around");
static_assert(seq32(0x10u) - seq32(0xFFFFFFF0u) == 0x20, "distance wraps around");
static_assert(in_window(seq32(5), seq32(0xFFFFFFFEu), 10) && !in_window(seq32(8), seq32(0xFFFFFFFEu), 10));

} // namespace corotcp::wire
