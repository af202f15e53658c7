// corotcp/wire/ipv4.hpp: IPv4 addresses, a checked view over an IPv4 header, and its semantic
// record (RFC 791).
//
// Contract: ipv4_view::from_bytes() checks every length once (version, IHL, total length against
// the buffer); after that the accessors read in bounds without further checks. Malformed input
// yields std::nullopt, never a crash. Options are skipped, not interpreted. corotcp never
// fragments and does not reassemble: callers drop packets for which is_fragment() is true.
#pragma once

#include "corotcp/wire/bytes.hpp"
#include "corotcp/wire/checksum.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace corotcp::wire {

/// IP protocol numbers (RFC 790 / IANA) carried in the IPv4 protocol field.
namespace ip_protocol {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
} // namespace ip_protocol

inline constexpr std::size_t ipv4_header_len = 20; ///< without options; what corotcp emits.

/// An IPv4 address as a host-order number: 10.0.0.1 is 0x0A000001.
struct ipv4_address {
    std::uint32_t value = 0;

    [[nodiscard]] static constexpr ipv4_address from_octets(std::uint8_t a, std::uint8_t b,
                                                            std::uint8_t c, std::uint8_t d) noexcept {
        return {(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
    }

    /// Dotted-quad "a.b.c.d" with each part 0..255 in decimal, no leading '+', no extra text.
    [[nodiscard]] static constexpr std::optional<ipv4_address> parse(std::string_view s) noexcept {
        std::uint32_t result = 0;
        for (int part = 0; part < 4; ++part) {
            if (part > 0) {
                if (s.empty() || s.front() != '.') return std::nullopt;
                s.remove_prefix(1);
            }
            std::uint32_t octet = 0;
            std::size_t digits = 0;
            while (!s.empty() && s.front() >= '0' && s.front() <= '9' && digits < 4) {
                octet = octet * 10 + static_cast<std::uint32_t>(s.front() - '0');
                s.remove_prefix(1);
                ++digits;
            }
            if (digits == 0 || digits > 3 || octet > 255) return std::nullopt;
            result = (result << 8) | octet;
        }
        if (!s.empty()) return std::nullopt;
        return ipv4_address{result};
    }

    [[nodiscard]] constexpr std::array<std::uint8_t, 4> octets() const noexcept {
        return {static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
                static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
    }

    [[nodiscard]] std::string to_string() const {
        std::string out;
        out.reserve(15);
        for (std::uint8_t o : octets()) {
            if (!out.empty()) out += '.';
            out += std::to_string(o);
        }
        return out;
    }

    [[nodiscard]] constexpr bool is_unspecified() const noexcept { return value == 0; }
    [[nodiscard]] constexpr bool is_broadcast() const noexcept { return value == 0xFFFF'FFFFu; }
    [[nodiscard]] constexpr bool is_multicast() const noexcept { return (value >> 28) == 0xE; }
    [[nodiscard]] constexpr bool is_loopback() const noexcept { return (value >> 24) == 127; }

    friend constexpr bool operator==(ipv4_address, ipv4_address) noexcept = default;
    friend constexpr auto operator<=>(ipv4_address, ipv4_address) noexcept = default;
};

/// The pseudo-header sum for TCP/UDP over IPv4 (see checksum.hpp).
[[nodiscard]] constexpr std::uint16_t ipv4_pseudo_header_sum(ipv4_address src, ipv4_address dst,
                                                             std::uint8_t protocol,
                                                             std::uint16_t length) noexcept {
    return ipv4_pseudo_header_sum(src.value, dst.value, protocol, length);
}

/// A checked view over an IPv4 packet (RFC 791 section 3.1). Does not own the bytes.
class ipv4_view {
public:
    /// Checks version == 4, IHL >= 5, IHL*4 <= total length <= bytes.size(). Bytes beyond the total
    /// length (link-layer padding) are ignored. The header checksum is checked by
    /// verify_checksum(), so that a tracer can still show a corrupted packet.
    [[nodiscard]] static constexpr std::optional<ipv4_view>
    from_bytes(std::span<const std::uint8_t> bytes) noexcept {
        if (bytes.size() < ipv4_header_len) return std::nullopt;
        const std::size_t ihl = std::size_t{bytes[0] & 0x0Fu} * 4;
        const std::size_t total = load_be16(&bytes[2]);
        if ((bytes[0] >> 4) != 4 || ihl < ipv4_header_len) return std::nullopt;
        if (total < ihl || total > bytes.size()) return std::nullopt;
        return ipv4_view(bytes.first(total), ihl);
    }

    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return header_len_; }
    [[nodiscard]] constexpr std::uint16_t total_length() const noexcept { return load_be16(&b_[2]); }
    [[nodiscard]] constexpr std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(b_[1] >> 2); }
    [[nodiscard]] constexpr std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(b_[1] & 3); }
    [[nodiscard]] constexpr std::uint16_t id() const noexcept { return load_be16(&b_[4]); }
    [[nodiscard]] constexpr bool dont_fragment() const noexcept { return (b_[6] & 0x40) != 0; }
    [[nodiscard]] constexpr bool more_fragments() const noexcept { return (b_[6] & 0x20) != 0; }
    /// Fragment offset in bytes (the field counts 8-byte units).
    [[nodiscard]] constexpr std::uint32_t fragment_offset() const noexcept {
        return std::uint32_t{load_be16(&b_[6]) & 0x1FFFu} * 8;
    }
    /// RFC 791: a packet is a fragment if MF is set or the fragment offset is nonzero.
    [[nodiscard]] constexpr bool is_fragment() const noexcept {
        return more_fragments() || fragment_offset() != 0;
    }
    [[nodiscard]] constexpr std::uint8_t ttl() const noexcept { return b_[8]; }
    [[nodiscard]] constexpr std::uint8_t protocol() const noexcept { return b_[9]; }
    [[nodiscard]] constexpr std::uint16_t header_checksum() const noexcept { return load_be16(&b_[10]); }
    [[nodiscard]] constexpr ipv4_address src() const noexcept { return {load_be32(&b_[12])}; }
    [[nodiscard]] constexpr ipv4_address dst() const noexcept { return {load_be32(&b_[16])}; }

    /// The header including options.
    [[nodiscard]] constexpr std::span<const std::uint8_t> header() const noexcept { return b_.first(header_len_); }
    /// Options bytes (possibly empty); not interpreted.
    [[nodiscard]] constexpr std::span<const std::uint8_t> options() const noexcept {
        return b_.subspan(ipv4_header_len, header_len_ - ipv4_header_len);
    }
    /// What the options (RFC 791 3.1) hold, as far as a host that interprets none of them cares:
    /// a source route (loose 131, strict 137), which a host would have to reverse for its replies
    /// (RFC 1122 3.2.1.8) and Linux drops by default (accept_source_route = 0), or an option whose
    /// length runs past the header or below 2 (Linux's ip_options_compile drops the datagram).
    enum class options_verdict : std::uint8_t { ok, source_route, malformed };
    [[nodiscard]] constexpr options_verdict check_options() const noexcept {
        const auto o = options();
        for (std::size_t i = 0; i < o.size();) {
            const std::uint8_t type = o[i];
            if (type == 0) break; // end of option list
            if (type == 1) {      // no operation
                ++i;
                continue;
            }
            if (o.size() - i < 2) return options_verdict::malformed;
            const std::size_t len = o[i + 1];
            if (len < 2 || len > o.size() - i) return options_verdict::malformed;
            if (type == 131 || type == 137) return options_verdict::source_route;
            i += len;
        }
        return options_verdict::ok;
    }

    /// The payload up to the total length.
    [[nodiscard]] constexpr std::span<const std::uint8_t> payload() const noexcept { return b_.subspan(header_len_); }
    /// The whole packet up to the total length.
    [[nodiscard]] constexpr std::span<const std::uint8_t> bytes() const noexcept { return b_; }

    /// RFC 791 section 3.1: the header (with options) sums to all ones.
    [[nodiscard]] bool verify_checksum() const noexcept { return internet_checksum(header()) == 0; }

private:
    constexpr ipv4_view(std::span<const std::uint8_t> b, std::size_t ihl) noexcept : b_(b), header_len_(ihl) {}

    std::span<const std::uint8_t> b_;
    std::size_t header_len_;
};

/// The fields of an IPv4 header that corotcp reads and writes. Emitted headers have no options,
/// DF set by default (RFC 1191 path MTU discovery) and never fragment.
struct ipv4_repr {
    ipv4_address src;
    ipv4_address dst;
    std::uint8_t protocol = ip_protocol::tcp;
    std::uint8_t ttl = 64;
    std::uint16_t id = 0;
    bool dont_fragment = true;
    std::uint16_t payload_length = 0; ///< bytes after the header.

    /// From a checked view; std::nullopt if verify_checksum and the header checksum is wrong.
    /// Fragments parse (is_fragment() is on the view): dropping them is the caller's policy.
    [[nodiscard]] static std::optional<ipv4_repr> parse(const ipv4_view& v, bool verify_checksum = true) noexcept {
        if (verify_checksum && !v.verify_checksum()) return std::nullopt;
        return ipv4_repr{v.src(), v.dst(), v.protocol(), v.ttl(), v.id(), v.dont_fragment(),
                         static_cast<std::uint16_t>(v.total_length() - v.header_len())};
    }

    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return ipv4_header_len; }
    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return ipv4_header_len + payload_length; }

    /// Writes the 20-byte header with its checksum into out[0..20). Returns 20, or 0 (writing
    /// nothing) if out is shorter than 20 bytes or the total length would exceed 65535.
    std::size_t emit(std::span<std::uint8_t> out) const noexcept {
        if (out.size() < ipv4_header_len || payload_length > 0xFFFFu - ipv4_header_len) return 0;
        std::uint8_t* p = out.data();
        p[0] = 0x45; // version 4, IHL 5
        p[1] = 0;    // DSCP 0, not ECN-capable
        store_be16(p + 2, static_cast<std::uint16_t>(ipv4_header_len + payload_length));
        store_be16(p + 4, id);
        store_be16(p + 6, dont_fragment ? 0x4000 : 0);
        p[8] = ttl;
        p[9] = protocol;
        store_be16(p + 10, 0);
        store_be32(p + 12, src.value);
        store_be32(p + 16, dst.value);
        // Summed from the values, not read back: the wide loads of a sum over the bytes just stored
        // would stall on store-to-load forwarding.
        const std::uint64_t words = 0x4500u + ipv4_header_len + payload_length + id + (dont_fragment ? 0x4000u : 0u) +
                                    ((std::uint32_t{ttl} << 8) | protocol) + (src.value >> 16) + (src.value & 0xFFFFu) +
                                    (dst.value >> 16) + (dst.value & 0xFFFFu);
        store_be16(p + 10, static_cast<std::uint16_t>(~detail::fold(words)));
        return ipv4_header_len;
    }

    friend bool operator==(const ipv4_repr&, const ipv4_repr&) noexcept = default;
};

} // namespace corotcp::wire

template <>
struct std::hash<corotcp::wire::ipv4_address> {
    std::size_t operator()(corotcp::wire::ipv4_address a) const noexcept {
        return std::hash<std::uint32_t>{}(a.value);
    }
};
