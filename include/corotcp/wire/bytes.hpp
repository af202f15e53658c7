// corotcp/wire/bytes.hpp: big-endian (network order) loads and stores.
//
// Contract: callers pass pointers to at least 2 or 4 valid bytes; the checked views guarantee that
// once in their factories, so these helpers do no bounds checks. Any alignment is fine.
// Values returned are host-order numbers (RFC 791 appendix B: transmission order is big-endian).
#pragma once

#include <cstdint>

namespace corotcp::wire {

[[nodiscard]] constexpr std::uint16_t load_be16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

[[nodiscard]] constexpr std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

constexpr void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

constexpr void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

} // namespace corotcp::wire
