// corotcp/util/time.hpp: time as plain integers of microseconds.
//
// The protocol layers (wire/, tcp/, iface/) never read a clock: time is passed in as an `instant`.
// These types deliberately do not use <chrono> so that those layers stay free of clock headers;
// the async layer converts from std::chrono at its boundary.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace corotcp {

/// A signed span of time in microseconds.
struct duration {
    std::int64_t us = 0;

    [[nodiscard]] static constexpr duration micros(std::int64_t n) noexcept { return {n}; }
    [[nodiscard]] static constexpr duration millis(std::int64_t n) noexcept { return {n * 1000}; }
    [[nodiscard]] static constexpr duration seconds(std::int64_t n) noexcept { return {n * 1000000}; }
    [[nodiscard]] static constexpr duration zero() noexcept { return {0}; }
    [[nodiscard]] static constexpr duration max() noexcept { return {std::numeric_limits<std::int64_t>::max() / 4}; }

    [[nodiscard]] constexpr std::int64_t millis_count() const noexcept { return us / 1000; }
    [[nodiscard]] constexpr double seconds_f() const noexcept { return static_cast<double>(us) / 1e6; }

    friend constexpr duration operator+(duration a, duration b) noexcept { return {a.us + b.us}; }
    friend constexpr duration operator-(duration a, duration b) noexcept { return {a.us - b.us}; }
    friend constexpr duration operator*(duration a, std::int64_t k) noexcept { return {a.us * k}; }
    friend constexpr duration operator*(std::int64_t k, duration a) noexcept { return {a.us * k}; }
    friend constexpr duration operator/(duration a, std::int64_t k) noexcept { return {a.us / k}; }
    constexpr duration& operator+=(duration b) noexcept { us += b.us; return *this; }
    constexpr duration& operator-=(duration b) noexcept { us -= b.us; return *this; }
    friend constexpr auto operator<=>(duration, duration) noexcept = default;
};

/// A point in time: microseconds since an arbitrary epoch chosen by the timer policy.
struct instant {
    std::int64_t us = 0;

    [[nodiscard]] static constexpr instant from_micros(std::int64_t n) noexcept { return {n}; }
    /// A deadline that never comes.
    [[nodiscard]] static constexpr instant never() noexcept { return {std::numeric_limits<std::int64_t>::max() / 2}; }
    [[nodiscard]] constexpr bool is_never() const noexcept { return us >= never().us; }

    friend constexpr instant operator+(instant t, duration d) noexcept {
        return t.is_never() ? t : instant{t.us + d.us};
    }
    friend constexpr instant operator-(instant t, duration d) noexcept { return {t.us - d.us}; }
    friend constexpr duration operator-(instant a, instant b) noexcept { return {a.us - b.us}; }
    constexpr instant& operator+=(duration d) noexcept { *this = *this + d; return *this; }
    friend constexpr auto operator<=>(instant, instant) noexcept = default;
};

[[nodiscard]] constexpr instant earliest(instant a, instant b) noexcept { return a < b ? a : b; }

namespace time_literals {
constexpr duration operator""_us(unsigned long long n) noexcept { return duration::micros(static_cast<std::int64_t>(n)); }
constexpr duration operator""_ms(unsigned long long n) noexcept { return duration::millis(static_cast<std::int64_t>(n)); }
constexpr duration operator""_s(unsigned long long n) noexcept { return duration::seconds(static_cast<std::int64_t>(n)); }
} // namespace time_literals

} // namespace corotcp
