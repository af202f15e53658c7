// corotcp/wire/tcp.hpp: TCP headers and options (RFC 9293 section 3.1, RFC 7323, RFC 2018).
//
// Contract: tcp_view::from_bytes() checks every length once (20 <= data offset * 4 <= buffer);
// after that the accessors read in bounds without further checks. Options are parsed leniently:
// a malformed option area ends option parsing but keeps the segment (RFC 9293 MUST-7, see
// parse_tcp_options). tcp_repr is the semantic record the engine works with; its emit functions
// write the header, the payload (copied with a fused checksum) and the checksum in one pass.
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

inline constexpr std::size_t tcp_header_len = 20;      ///< without options.
inline constexpr std::size_t tcp_max_options_len = 40; ///< data offset is at most 15 words.
inline constexpr std::uint8_t tcp_max_window_scale = 14; ///< RFC 7323 section 2.3.

/// The control bits of byte 13 (RFC 9293 section 3.1; ECE/CWR from RFC 3168), and a tiny holder.
struct tcp_flags {
    static constexpr std::uint8_t fin = 0x01;
    static constexpr std::uint8_t syn = 0x02;
    static constexpr std::uint8_t rst = 0x04;
    static constexpr std::uint8_t psh = 0x08;
    static constexpr std::uint8_t ack = 0x10;
    static constexpr std::uint8_t urg = 0x20;
    static constexpr std::uint8_t ece = 0x40;
    static constexpr std::uint8_t cwr = 0x80;

    std::uint8_t bits = 0;

    /// All of `mask` set.
    [[nodiscard]] constexpr bool has(std::uint8_t mask) const noexcept { return (bits & mask) == mask; }
    /// Any of `mask` set.
    [[nodiscard]] constexpr bool any(std::uint8_t mask) const noexcept { return (bits & mask) != 0; }
};

/// TCP option kinds (IANA; RFC 9293, RFC 7323, RFC 2018).
namespace tcp_option_kind {
inline constexpr std::uint8_t end = 0;
inline constexpr std::uint8_t nop = 1;
inline constexpr std::uint8_t mss = 2;
inline constexpr std::uint8_t window_scale = 3;
inline constexpr std::uint8_t sack_permitted = 4;
inline constexpr std::uint8_t sack = 5;
inline constexpr std::uint8_t timestamps = 8;
} // namespace tcp_option_kind

/// One SACK block: bytes [left, right) were received (RFC 2018 section 3).
struct sack_block {
    seq32 left;
    seq32 right;
    friend constexpr bool operator==(sack_block, sack_block) noexcept = default;
};

/// The timestamps option's two values (RFC 7323 section 3.2): TSval and TSecr.
struct tcp_timestamps {
    std::uint32_t value = 0;
    std::uint32_t echo = 0;
    friend constexpr bool operator==(tcp_timestamps, tcp_timestamps) noexcept = default;
};

/// The options corotcp understands. Absent options are std::nullopt / false / zero.
struct tcp_options {
    using timestamps_t = tcp_timestamps;

    std::optional<std::uint16_t> mss;         ///< RFC 9293 section 3.7.1; meaningful on SYNs.
    std::optional<std::uint8_t> window_scale; ///< RFC 7323 section 2; clamped to 14 on parse.
    bool sack_permitted = false;              ///< RFC 2018 section 2; meaningful on SYNs.
    std::optional<tcp_timestamps> timestamps; ///< RFC 7323 section 3.
    std::uint8_t sack_count = 0;              ///< number of valid entries in sack (0..4).
    std::array<sack_block, 4> sack{};         ///< RFC 2018 section 3; first = most recent.

    [[nodiscard]] constexpr std::span<const sack_block> sack_blocks() const noexcept {
        return std::span<const sack_block>(sack).first(sack_count < 4 ? sack_count : 4);
    }

    friend constexpr bool operator==(const tcp_options& a, const tcp_options& b) noexcept {
        return a.mss == b.mss && a.window_scale == b.window_scale && a.sack_permitted == b.sack_permitted &&
               a.timestamps == b.timestamps && a.sack_count == b.sack_count &&
               std::equal(a.sack_blocks().begin(), a.sack_blocks().end(), b.sack_blocks().begin());
    }
};

/// Walks an option area, calling visit(kind, value) for each option: value excludes the kind and
/// length bytes (empty for NOP and EOL). EOL is visited and ends the walk normally. Returns false if the area is
/// malformed - an option whose length byte is missing, < 2, or runs past the area - in which case
/// the walk stops there without reading past the area (RFC 9293 section 3.1, MUST-7).
template <class Visit>
constexpr bool walk_tcp_options(std::span<const std::uint8_t> area, Visit&& visit) {
    std::size_t i = 0;
    while (i < area.size()) {
        const std::uint8_t kind = area[i];
        if (kind == tcp_option_kind::end) {
            visit(kind, std::span<const std::uint8_t>{});
            return true;
        }
        if (kind == tcp_option_kind::nop) {
            visit(kind, std::span<const std::uint8_t>{});
            ++i;
            continue;
        }
        if (area.size() - i < 2) return false;
        const std::size_t len = area[i + 1];
        if (len < 2 || len > area.size() - i) return false;
        visit(kind, area.subspan(i + 2, len - 2));
        i += len;
    }
    return true;
}

/// Parses an option area into tcp_options.
///
/// Choices (RFC 9293 section 3.1 and MUST-7 "be prepared to handle an illegal option length
/// without crashing; the suggested procedure is to reset the connection and log the error"):
///  * a malformed area (see walk_tcp_options) ends parsing; options before it are kept and the
///    segment is still processed. Resetting a connection over a garbled option would let anyone
///    on path kill it; dropping the options is the conservative reading, and what Linux does.
///  * a known kind with the wrong length (e.g. MSS with length 3) is ignored and skipped by its
///    length, as Linux does; unknown kinds are skipped by their length.
///  * window scale > 14 is clamped to 14 (RFC 7323 section 2.3).
///  * a repeated option overwrites the earlier one.
/// parse_tcp_options into a default-constructed `o`, in place (the receive path: no copy of the
/// record, whose wide reloads right after its small stores would stall on store forwarding).
constexpr void parse_tcp_options_into(std::span<const std::uint8_t> area, tcp_options& o) noexcept {
    // The options of nearly every segment once timestamps are on, in the layout RFC 7323 appendix A
    // recommends (and every common stack sends): NOP, NOP, TS. Taken without the walk, as Linux does.
    if (area.size() == 12 && area[0] == tcp_option_kind::nop && area[1] == tcp_option_kind::nop &&
        area[2] == tcp_option_kind::timestamps && area[3] == 10) {
        o.timestamps = tcp_timestamps{load_be32(area.data() + 4), load_be32(area.data() + 8)};
        return;
    }
    walk_tcp_options(area, [&o](std::uint8_t kind, std::span<const std::uint8_t> v) {
        switch (kind) {
        case tcp_option_kind::mss:
            if (v.size() == 2) o.mss = load_be16(v.data());
            break;
        case tcp_option_kind::window_scale:
            if (v.size() == 1) o.window_scale = v[0] > tcp_max_window_scale ? tcp_max_window_scale : v[0];
            break;
        case tcp_option_kind::sack_permitted:
            if (v.empty()) o.sack_permitted = true;
            break;
        case tcp_option_kind::timestamps:
            if (v.size() == 8) o.timestamps = tcp_timestamps{load_be32(v.data()), load_be32(v.data() + 4)};
            break;
        case tcp_option_kind::sack:
            if (!v.empty() && v.size() % 8 == 0 && v.size() <= 32) {
                o.sack_count = static_cast<std::uint8_t>(v.size() / 8);
                for (std::size_t k = 0; k < o.sack_count; ++k) {
                    o.sack[k] = {seq32(load_be32(v.data() + 8 * k)), seq32(load_be32(v.data() + 8 * k + 4))};
                }
            }
            break;
        default: break;
        }
    });
}

[[nodiscard]] constexpr tcp_options parse_tcp_options(std::span<const std::uint8_t> area) noexcept {
    tcp_options o;
    parse_tcp_options_into(area, o);
    return o;
}

namespace detail {
inline constexpr std::array<std::uint8_t, 12> syn_options_example{2, 4, 0x05, 0xb4, 1, 3, 3, 15, 4, 2, 0, 0};
inline constexpr std::array<std::uint8_t, 4> garbled_options_example{1, 3, 1, 0};
} // namespace detail
static_assert(parse_tcp_options(detail::syn_options_example).mss == 1460);
static_assert(parse_tcp_options(detail::syn_options_example).window_scale == 14, "RFC 7323 2.3: clamp to 14");
static_assert(parse_tcp_options(detail::syn_options_example).sack_permitted);
static_assert(!parse_tcp_options(detail::garbled_options_example).window_scale, "length 1 ends parsing");
static_assert(parse_tcp_options(std::array<std::uint8_t, 12>{1, 1, 8, 10, 0, 0, 1, 2, 0, 0, 3, 4}).timestamps ==
              tcp_timestamps{0x102, 0x304}, "NOP, NOP, TS: the aligned layout");

/// A checked view over a TCP segment (header + payload). Does not own the bytes.
class tcp_view {
public:
    /// Checks 20 <= data offset * 4 <= bytes.size() <= 65535 (the pseudo-header length is 16 bits).
    [[nodiscard]] static constexpr std::optional<tcp_view>
    from_bytes(std::span<const std::uint8_t> bytes) noexcept {
        if (bytes.size() < tcp_header_len || bytes.size() > 0xFFFFu) return std::nullopt;
        const std::size_t hlen = std::size_t{static_cast<std::uint8_t>(bytes[12] >> 4)} * 4;
        if (hlen < tcp_header_len || hlen > bytes.size()) return std::nullopt;
        return tcp_view(bytes, hlen);
    }

    [[nodiscard]] constexpr std::uint16_t src_port() const noexcept { return load_be16(&b_[0]); }
    [[nodiscard]] constexpr std::uint16_t dst_port() const noexcept { return load_be16(&b_[2]); }
    [[nodiscard]] constexpr seq32 seq() const noexcept { return seq32(load_be32(&b_[4])); }
    [[nodiscard]] constexpr seq32 ack() const noexcept { return seq32(load_be32(&b_[8])); }
    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return header_len_; }
    [[nodiscard]] constexpr std::uint8_t flags() const noexcept { return b_[13]; }
    [[nodiscard]] constexpr std::uint16_t window() const noexcept { return load_be16(&b_[14]); }
    [[nodiscard]] constexpr std::uint16_t checksum() const noexcept { return load_be16(&b_[16]); }
    [[nodiscard]] constexpr std::uint16_t urgent() const noexcept { return load_be16(&b_[18]); }

    [[nodiscard]] constexpr std::span<const std::uint8_t> options_area() const noexcept {
        return b_.subspan(tcp_header_len, header_len_ - tcp_header_len);
    }
    [[nodiscard]] constexpr std::span<const std::uint8_t> payload() const noexcept { return b_.subspan(header_len_); }
    [[nodiscard]] constexpr std::span<const std::uint8_t> bytes() const noexcept { return b_; }
    [[nodiscard]] constexpr tcp_options options() const noexcept { return parse_tcp_options(options_area()); }

    /// RFC 9293 section 3.1: header, payload and the IPv4 pseudo-header sum to all ones.
    [[nodiscard]] bool verify_checksum(ipv4_address src, ipv4_address dst) const noexcept {
        checksum_accumulator acc;
        acc.add_u16(ipv4_pseudo_header_sum(src, dst, ip_protocol::tcp, static_cast<std::uint16_t>(b_.size())));
        acc.add(b_);
        return acc.finish() == 0;
    }

    /// verify_checksum fused with copying the payload to `payload_dst` (payload().size() bytes, not
    /// overlapping): the receive path's one pass over the data. The copy is made whatever the
    /// verdict, so `payload_dst` must be scratch space until this returns true.
    [[nodiscard]] [[gnu::always_inline]] bool verify_checksum_copying_payload(ipv4_address src, ipv4_address dst,
                                                       std::uint8_t* payload_dst) const noexcept {
        checksum_accumulator acc;
        acc.add_u16(ipv4_pseudo_header_sum(src, dst, ip_protocol::tcp, static_cast<std::uint16_t>(b_.size())));
        acc.add(b_.first(header_len_));
        acc.add_copy(payload_dst, payload());
        return acc.finish() == 0;
    }

private:
    constexpr tcp_view(std::span<const std::uint8_t> b, std::size_t hlen) noexcept : b_(b), header_len_(hlen) {}

    std::span<const std::uint8_t> b_;
    std::size_t header_len_;
};

/// Computes the TCP checksum of segment (header + payload, checksum field ignored) with the IPv4
/// pseudo-header and stores it at bytes 16-17. Does nothing if the segment is shorter than 20 or
/// longer than 65535 bytes.
inline void finish_checksum(std::span<std::uint8_t> segment, ipv4_address src, ipv4_address dst) noexcept {
    if (segment.size() < tcp_header_len || segment.size() > 0xFFFFu) return;
    store_be16(segment.data() + 16, 0);
    checksum_accumulator acc;
    acc.add_u16(ipv4_pseudo_header_sum(src, dst, ip_protocol::tcp, static_cast<std::uint16_t>(segment.size())));
    acc.add(segment);
    store_be16(segment.data() + 16, acc.finish());
}

/// The semantic record of a TCP segment. `payload` points into the parsed buffer (or the caller's
/// data when emitting); it does not own it.
struct tcp_repr {
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    seq32 seq;
    seq32 ack;
    std::uint8_t flags = 0; ///< tcp_flags bits.
    std::uint16_t window = 0; ///< the raw field, unscaled.
    std::uint16_t urgent = 0;
    tcp_options options;
    std::span<const std::uint8_t> payload;

    /// Checks lengths (tcp_view) and, if verify_checksum, the checksum against the pseudo-header.
    [[nodiscard]] static std::optional<tcp_repr> parse(std::span<const std::uint8_t> segment, ipv4_address src,
                                                       ipv4_address dst, bool verify_checksum = true) noexcept {
        std::optional<tcp_repr> r; // built in place, returned by NRVO (see parse_tcp_options_into)
        const auto v = tcp_view::from_bytes(segment);
        if (!v || (verify_checksum && !v->verify_checksum(src, dst))) return r;
        tcp_repr& t = r.emplace();
        t.src_port = v->src_port();
        t.dst_port = v->dst_port();
        t.seq = v->seq();
        t.ack = v->ack();
        t.flags = v->flags();
        t.window = v->window();
        t.urgent = v->urgent();
        parse_tcp_options_into(v->options_area(), t.options);
        t.payload = v->payload();
        return r;
    }

    [[nodiscard]] constexpr bool has(std::uint8_t mask) const noexcept { return tcp_flags{flags}.has(mask); }

    /// RFC 9293 section 3.4 SEG.LEN: payload octets plus one for SYN and one for FIN.
    [[nodiscard]] constexpr std::uint32_t segment_length() const noexcept {
        return static_cast<std::uint32_t>(payload.size()) + (has(tcp_flags::syn) ? 1u : 0u) +
               (has(tcp_flags::fin) ? 1u : 0u);
    }

    /// How many SACK blocks emit writes: all of options.sack_count that fit in the 40-byte option
    /// space next to the other options (RFC 2018 section 3: 3 with timestamps, 4 without).
    [[nodiscard]] constexpr std::size_t emitted_sack_count() const noexcept {
        const std::size_t room = tcp_max_options_len - fixed_options_len();
        const std::size_t fit = room >= 12 ? (room - 4) / 8 : 0;
        const std::size_t want = options.sack_count < 4 ? options.sack_count : 4;
        return want < fit ? want : fit;
    }

    /// 20 + options, a multiple of 4 and at most 60. Layout (Linux's): MSS; sackOK+TS or
    /// NOP,NOP,TS or NOP,NOP,sackOK; NOP,wscale; NOP,NOP,SACK.
    [[nodiscard]] constexpr std::size_t header_len() const noexcept { return header_len(emitted_sack_count()); }

    [[nodiscard]] constexpr std::size_t buffer_len() const noexcept { return header_len() + payload.size(); }

    /// The folded ones'-complement sum of the header emit_header writes (checksum field zero),
    /// computed from the fields, word by word in the same layout. Summing the bytes instead, right
    /// after their small stores, stalls on store-to-load forwarding (most of emit_tcp's time for
    /// short segments). Tested against the sum of the emitted bytes for every option combination.
    [[nodiscard]] constexpr std::uint16_t header_sum(std::size_t hlen) const noexcept {
        return header_sum(hlen, emitted_sack_count());
    }

    /// Writes header and options with a zero checksum field; returns header_len(), or 0 (writing
    /// nothing) if out is too small. Finish with finish_checksum() once the payload follows.
    std::size_t emit_header(std::span<std::uint8_t> out) const noexcept {
        const std::size_t n = emitted_sack_count();
        const std::size_t hlen = header_len(n);
        if (out.size() < hlen) return 0;
        emit_header(out.data(), hlen, n);
        return hlen;
    }

    /// The data path: writes the header, then payload pieces a and b right after it (copied with
    /// a fused checksum), then the checksum. Returns the segment length, or 0 (writing nothing) if
    /// out is too small or the segment would exceed 65535 bytes. `payload` is not used.
    std::size_t emit_with_payload(std::span<std::uint8_t> out, ipv4_address src, ipv4_address dst,
                                  std::span<const std::uint8_t> a, std::span<const std::uint8_t> b = {}) const noexcept {
        const std::size_t n = emitted_sack_count(); // once: the layout below all follows from it
        const std::size_t hlen = header_len(n);
        const std::size_t total = hlen + a.size() + b.size();
        if (total > out.size() || total > 0xFFFFu) return 0;
        emit_header(out.data(), hlen, n);
        checksum_accumulator acc;
        acc.add_u16(ipv4_pseudo_header_sum(src, dst, ip_protocol::tcp, static_cast<std::uint16_t>(total)));
        acc.add_u16(header_sum(hlen, n)); // from the fields: the bytes just stored are not read back
        acc.add_copy(out.data() + hlen, a);
        acc.add_copy(out.data() + hlen + a.size(), b);
        store_be16(out.data() + 16, acc.finish());
        return total;
    }

    /// emit_with_payload with this->payload.
    std::size_t emit(std::span<std::uint8_t> out, ipv4_address src, ipv4_address dst) const noexcept {
        return emit_with_payload(out, src, dst, payload);
    }

    /// Same as the free function (kept here so `tcp_repr::finish_checksum` also reads naturally).
    static void finish_checksum(std::span<std::uint8_t> segment, ipv4_address src, ipv4_address dst) noexcept {
        wire::finish_checksum(segment, src, dst);
    }

    /// Field-wise equality; payloads compare by content.
    friend bool operator==(const tcp_repr& a, const tcp_repr& b) noexcept {
        return a.src_port == b.src_port && a.dst_port == b.dst_port && a.seq == b.seq && a.ack == b.ack &&
               a.flags == b.flags && a.window == b.window && a.urgent == b.urgent && a.options == b.options &&
               std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end());
    }

private:
    [[nodiscard]] constexpr std::size_t header_len(std::size_t sacks) const noexcept {
        return tcp_header_len + fixed_options_len() + (sacks > 0 ? 4 + 8 * sacks : 0);
    }

    /// header_sum with `n` = emitted_sack_count().
    [[nodiscard]] constexpr std::uint16_t header_sum(std::size_t hlen, std::size_t n) const noexcept {
        using namespace tcp_option_kind;
        const auto words = [](std::uint32_t v) { return std::uint64_t{v >> 16} + (v & 0xFFFFu); };
        const auto pair = [](std::uint8_t hi, std::uint8_t lo) { return std::uint64_t{hi} << 8 | lo; };
        std::uint64_t sum = std::uint64_t{src_port} + dst_port + words(seq.value()) + words(ack.value()) +
                            pair(static_cast<std::uint8_t>((hlen / 4) << 4), flags) + window + urgent;
        if (options.mss) sum += pair(mss, 4) + *options.mss;
        if (options.timestamps) {
            sum += options.sack_permitted ? pair(sack_permitted, 2) : pair(nop, nop);
            sum += pair(timestamps, 10) + words(options.timestamps->value) + words(options.timestamps->echo);
        } else if (options.sack_permitted) {
            sum += pair(nop, nop) + pair(sack_permitted, 2);
        }
        if (options.window_scale) sum += pair(nop, window_scale) + pair(3, *options.window_scale);
        if (n > 0) {
            sum += pair(nop, nop) + pair(sack, static_cast<std::uint8_t>(2 + 8 * n));
            for (std::size_t k = 0; k < n; ++k) sum += words(options.sack[k].left.value()) + words(options.sack[k].right.value());
        }
        return detail::fold(sum);
    }

    /// Stores the header (checksum field zero) and options: `hlen` and `n` as header_len() and
    /// emitted_sack_count() give them.
    void emit_header(std::uint8_t* p, std::size_t hlen, std::size_t n) const noexcept {
        store_be16(p, src_port);
        store_be16(p + 2, dst_port);
        store_be32(p + 4, seq.value());
        store_be32(p + 8, ack.value());
        p[12] = static_cast<std::uint8_t>((hlen / 4) << 4);
        p[13] = flags;
        store_be16(p + 14, window);
        store_be16(p + 16, 0);
        store_be16(p + 18, urgent);
        emit_options(p + tcp_header_len, n);
    }

    /// Options other than SACK blocks, padded: MSS 4, sackOK/TS 12 or 4, wscale 4.
    [[nodiscard]] constexpr std::size_t fixed_options_len() const noexcept {
        std::size_t n = options.mss ? 4 : 0;
        if (options.timestamps) {
            n += 12;
        } else if (options.sack_permitted) {
            n += 4;
        }
        if (options.window_scale) n += 4;
        return n;
    }

    void emit_options(std::uint8_t* p, std::size_t n) const noexcept {
        using namespace tcp_option_kind;
        if (options.mss) {
            p[0] = mss, p[1] = 4;
            store_be16(p + 2, *options.mss);
            p += 4;
        }
        if (options.timestamps) {
            p[0] = options.sack_permitted ? sack_permitted : nop;
            p[1] = options.sack_permitted ? 2 : nop;
            p[2] = timestamps, p[3] = 10;
            store_be32(p + 4, options.timestamps->value);
            store_be32(p + 8, options.timestamps->echo);
            p += 12;
        } else if (options.sack_permitted) {
            p[0] = nop, p[1] = nop, p[2] = sack_permitted, p[3] = 2;
            p += 4;
        }
        if (options.window_scale) {
            p[0] = nop, p[1] = window_scale, p[2] = 3, p[3] = *options.window_scale;
            p += 4;
        }
        if (n == 0) return;
        p[0] = nop, p[1] = nop, p[2] = sack, p[3] = static_cast<std::uint8_t>(2 + 8 * n);
        for (std::size_t k = 0; k < n; ++k) {
            store_be32(p + 4 + 8 * k, options.sack[k].left.value());
            store_be32(p + 8 + 8 * k, options.sack[k].right.value());
        }
    }
};

} // namespace corotcp::wire
