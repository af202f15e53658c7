// corotcp/wire/icmp.hpp: ICMPv4 (RFC 792) - echo, destination unreachable (with the RFC 1191
// next-hop MTU), time exceeded - and the original datagram that error messages quote.
//
// Contract: icmp_view::from_bytes() checks the 8-byte header once; icmp_quote::parse() checks the
// quoted IPv4 header and its first 8 payload bytes once. Malformed input yields std::nullopt.
#pragma once

#include "corotcp/wire/bytes.hpp"
#include "corotcp/wire/checksum.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/seq.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace corotcp::wire {

inline constexpr std::size_t icmp_header_len = 8;

/// ICMP message types (RFC 792).
namespace icmp_type {
inline constexpr std::uint8_t echo_reply = 0;
inline constexpr std::uint8_t dest_unreachable = 3;
inline constexpr std::uint8_t echo_request = 8;
inline constexpr std::uint8_t time_exceeded = 11;
inline constexpr std::uint8_t parameter_problem = 12;
} // namespace icmp_type

/// Destination unreachable codes (RFC 792; RFC 1191 section 4 for frag_needed).
namespace icmp_unreach {
inline constexpr std::uint8_t net = 0;
inline constexpr std::uint8_t host = 1;
inline constexpr std::uint8_t protocol = 2;
inline constexpr std::uint8_t port = 3;
inline constexpr std::uint8_t frag_needed = 4; ///< DF set; carries the next-hop MTU.
} // namespace icmp_unreach

/// Time exceeded codes (RFC 792).
namespace icmp_time_exceeded {
inline constexpr std::uint8_t ttl = 0;        ///< time to live exceeded in transit.
inline constexpr std::uint8_t reassembly = 1; ///< fragment reassembly time exceeded.
} // namespace icmp_time_exceeded

[[nodiscard]] constexpr bool is_icmp_error(std::uint8_t type) noexcept {
    return type == icmp_type::dest_unreachable || type == icmp_type::time_exceeded ||
           type == icmp_type::parameter_problem;
}

/// The original datagram quoted by an ICMP error: its IP header and at least the first 8 bytes of
/// its payload (RFC 792), which for TCP hold the ports and the sequence number (RFC 5927 uses
/// them to match a connection). The quoted total length may exceed what is quoted.
class icmp_quote {
public:
    /// Checks version 4, IHL >= 5 and that header + 8 bytes are present.
    [[nodiscard]] static constexpr std::optional<icmp_quote> parse(std::span<const std::uint8_t> data) noexcept {
        if (data.size() < ipv4_header_len) return std::nullopt;
        const std::size_t ihl = std::size_t{data[0] & 0x0Fu} * 4;
        if ((data[0] >> 4) != 4 || ihl < ipv4_header_len || data.size() < ihl + 8) return std::nullopt;
        return icmp_quote(data, ihl);
    }

    [[nodiscard]] constexpr ipv4_address src() const noexcept { return {load_be32(&b_[12])}; }
    [[nodiscard]] constexpr ipv4_address dst() const noexcept { return {load_be32(&b_[16])}; }
    [[nodiscard]] constexpr std::uint8_t protocol() const noexcept { return b_[9]; }
    [[nodiscard]] constexpr std::uint16_t total_length() const noexcept { return load_be16(&b_[2]); }
    /// In 8-byte units; only a first fragment (0) quotes the transport header.
    [[nodiscard]] constexpr std::uint16_t fragment_offset() const noexcept { return load_be16(&b_[6]) & 0x1FFFu; }
    [[nodiscard]] constexpr std::span<const std::uint8_t> ip_header() const noexcept { return b_.first(ihl_); }
    /// The quoted payload bytes (at least 8).
    [[nodiscard]] constexpr std::span<const std::uint8_t> leading_payload() const noexcept { return b_.subspan(ihl_); }
    /// For TCP/UDP: ports of the original datagram (as it was sent, i.e. src = our side for ours).
    [[nodiscard]] constexpr std::uint16_t src_port() const noexcept { return load_be16(&b_[ihl_]); }
    [[nodiscard]] constexpr std::uint16_t dst_port() const noexcept { return load_be16(&b_[ihl_ + 2]); }
    /// For TCP: the original segment's sequence number.
    [[nodiscard]] constexpr seq32 tcp_seq() const noexcept { return seq32(load_be32(&b_[ihl_ + 4])); }

private:
    constexpr icmp_quote(std::span<const std::uint8_t> b, std::size_t ihl) noexcept : b_(b), ihl_(ihl) {}

    std::span<const std::uint8_t> b_;
    std::size_t ihl_;
};

/// RFC 1191 7: the MTU plateaus, for a router too old to report its next-hop MTU (it sends 0).
inline constexpr std::array<std::uint16_t, 11> mtu_plateaus{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};

/// RFC 1191 5: the largest plateau below `total_length`, the length of the datagram that did not
/// fit (68, the IPv4 minimum, if none is).
[[nodiscard]] constexpr std::uint16_t plateau_below(std::uint16_t total_length) noexcept {
    for (const std::uint16_t p : mtu_plateaus)
        if (p < total_length) return p;
    return 68;
}

/// The path MTU a "fragmentation needed" message reports: its next-hop MTU field (RFC 1191 4), or,
/// if that is 0 or not below the quoted datagram's length (a router from before RFC 1191), the
/// plateau below the quoted length (RFC 1191 5).
[[nodiscard]] constexpr std::uint16_t reported_path_mtu(std::uint16_t next_hop_mtu, std::uint16_t quoted_total_length) noexcept {
    if (next_hop_mtu != 0 && next_hop_mtu < quoted_total_length) return next_hop_mtu;
    return plateau_below(quoted_total_length);
}

/// What an ICMP error should quote of `ip_packet`: its header plus the first 8 payload bytes
/// (RFC 792), or less if the packet is shorter. Empty if it is not a checkable IPv4 packet.
[[nodiscard]] constexpr std::span<const std::uint8_t> icmp_error_quote(std::span<const std::uint8_t> ip_packet) noexcept {
    const auto v = ipv4_view::from_bytes(ip_packet);
    if (!v) return {};
    const std::size_t n = v->header_len() + 8;
    return v->bytes().first(n < v->bytes().size() ? n : v->bytes().size());
}

/// A checked view over an ICMP message (the IPv4 payload).
class icmp_view {
public:
    /// Checks that the 8-byte header is present.
    [[nodiscard]] static constexpr std::optional<icmp_view> from_bytes(std::span<const std::uint8_t> bytes) noexcept {
        if (bytes.size() < icmp_header_len) return std::nullopt;
        return icmp_view(bytes);
    }

    [[nodiscard]] constexpr std::uint8_t type() const noexcept { return b_[0]; }
    [[nodiscard]] constexpr std::uint8_t code() const noexcept { return b_[1]; }
    [[nodiscard]] constexpr std::uint16_t checksum() const noexcept { return load_be16(&b_[2]); }
    /// Echo identifier and sequence number (bytes 4-7 of echo messages).
    [[nodiscard]] constexpr std::uint16_t echo_id() const noexcept { return load_be16(&b_[4]); }
    [[nodiscard]] constexpr std::uint16_t echo_seq() const noexcept { return load_be16(&b_[6]); }
    /// RFC 1191 section 4: the next-hop MTU in the low 16 bits of "unused" (0 from old routers).
    [[nodiscard]] constexpr std::uint16_t next_hop_mtu() const noexcept { return load_be16(&b_[6]); }
    /// Everything after the 8-byte header: echo data, or the quoted datagram of an error.
    [[nodiscard]] constexpr std::span<const std::uint8_t> data() const noexcept { return b_.subspan(icmp_header_len); }
    [[nodiscard]] constexpr std::span<const std::uint8_t> bytes() const noexcept { return b_; }

    /// RFC 792: the whole message sums to all ones.
    [[nodiscard]] bool verify_checksum() const noexcept { return internet_checksum(b_) == 0; }

private:
    constexpr explicit icmp_view(std::span<const std::uint8_t> b) noexcept : b_(b) {}

    std::span<const std::uint8_t> b_;
};

/// The semantic record of the ICMP messages corotcp handles. Fields not used by `type` are zero.
struct icmp_repr {
    std::uint8_t type = icmp_type::echo_request;
    std::uint8_t code = 0;
    std::uint16_t id = 0;           ///< echo request/reply.
    std::uint16_t seq = 0;          ///< echo request/reply.
    std::uint16_t next_hop_mtu = 0; ///< dest unreachable, code frag_needed (RFC 1191).
    std::span<const std::uint8_t> data; ///< echo data, or the quoted datagram of an error.

    [[nodiscard]] static constexpr icmp_repr echo_request(std::uint16_t id, std::uint16_t seq,
                                                          std::span<const std::uint8_t> data) noexcept {
        return {icmp_type::echo_request, 0, id, seq, 0, data};
    }
    [[nodiscard]] static constexpr icmp_repr echo_reply(std::uint16_t id, std::uint16_t seq,
                                                        std::span<const std::uint8_t> data) noexcept {
        return {icmp_type::echo_reply, 0, id, seq, 0, data};
    }
    /// `quote` is normally icmp_error_quote(original packet).
    [[nodiscard]] static constexpr icmp_repr dest_unreachable(std::uint8_t code, std::span<const std::uint8_t> quote,
                                                              std::uint16_t next_hop_mtu = 0) noexcept {
        return {icmp_type::dest_unreachable, code, 0, 0, code == icmp_unreach::frag_needed ? next_hop_mtu : std::uint16_t{0},
                quote};
    }
    [[nodiscard]] static constexpr icmp_repr time_exceeded(std::uint8_t code, std::span<const std::uint8_t> quote) noexcept {
        return {icmp_type::time_exceeded, code, 0, 0, 0, quote};
    }
    /// (The pointer to the offending octet is not represented: emitted as 0.)
    [[nodiscard]] static constexpr icmp_repr parameter_problem(std::uint8_t code, std::span<const std::uint8_t> quote) noexcept {
        return {icmp_type::parameter_problem, code, 0, 0, 0, quote};
    }

    /// From raw ICMP bytes; std::nullopt if shorter than 8 bytes, if verify_checksum and the
    /// checksum is wrong, or if the type is not one of echo request/reply, dest unreachable,
    /// time exceeded, parameter problem (others are not represented; use icmp_view for them).
    [[nodiscard]] static std::optional<icmp_repr> parse(std::span<const std::uint8_t> bytes,
                                                        bool verify_checksum = true) noexcept {
        const auto v = icmp_view::from_bytes(bytes);
        if (!v || (verify_checksum && !v->verify_checksum())) return std::nullopt;
        switch (v->type()) {
        case icmp_type::echo_request:
        case icmp_type::echo_reply: return icmp_repr{v->type(), v->code(), v->echo_id(), v->echo_seq(), 0, v->data()};
        case icmp_type::dest_unreachable:
            return dest_unreachable(v->code(), v->data(), v->next_hop_mtu());
        case icmp_type::time_exceeded: return time_exceeded(v->code(), v->data());
        case icmp_type::parameter_problem: return parameter_problem(v->code(), v->data());
        default: return std::nullopt;
        }
    }

    /// The quoted original datagram of an error message.
    [[nodiscard]] constexpr std::optional<icmp_quote> quote() const noexcept {
        if (!is_icmp_error(type)) return std::nullopt;
        return icmp_quote::parse(data);
    }

    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return icmp_header_len + data.size(); }

    /// Writes the message with its checksum; returns buffer_len(), or 0 (writing nothing) if out is
    /// too small or the message would not fit in an IPv4 packet. `data` may already sit at
    /// out[8..]; otherwise it must not overlap out.
    std::size_t emit(std::span<std::uint8_t> out) const noexcept {
        const std::size_t n = buffer_len();
        if (out.size() < n || n > 0xFFFFu - ipv4_header_len) return 0;
        std::uint8_t* p = out.data();
        p[0] = type;
        p[1] = code;
        store_be16(p + 2, 0);
        const bool echo = type == icmp_type::echo_request || type == icmp_type::echo_reply;
        store_be16(p + 4, echo ? id : std::uint16_t{0});
        store_be16(p + 6, echo ? seq : next_hop_mtu);
        checksum_accumulator acc;
        acc.add(out.first(icmp_header_len));
        if (data.data() == p + icmp_header_len) {
            acc.add(data); // built in place (e.g. an echo reply over its request): nothing to copy
        } else {
            acc.add_copy(p + icmp_header_len, data);
        }
        store_be16(p + 2, acc.finish());
        return n;
    }

    friend bool operator==(const icmp_repr& a, const icmp_repr& b) noexcept {
        return a.type == b.type && a.code == b.code && a.id == b.id && a.seq == b.seq &&
               a.next_hop_mtu == b.next_hop_mtu && std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
    }
};

} // namespace corotcp::wire
