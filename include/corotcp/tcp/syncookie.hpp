// corotcp/tcp/syncookie.hpp: SYN cookies, the listener's answer to a SYN flood (RFC 4987 3.6).
//
// When a listener's SYN queue is full, its SYN-ACK carries all it must remember in its own
// sequence number, and nothing is kept; the ACK that completes the handshake brings the number back
// (SEG.ACK - 1) and the connection is built from it. Our ISN for such a SYN-ACK:
//
//   cookie = H1(tuple) + ISN_peer + (T mod 256) * 2^24 + ((H2(tuple, T) + data * 2^21) mod 2^24)
//
// T counts periods of 64 s; H1 and H2 are SipHash-2-4 under the stack's secret (the RFC 6528 key),
// with their own domain tags; `data` is 3 bits: an MSS index (one of four MSS values, the largest
// not above the peer's) and whether the SYN-ACK offered timestamps. Checking subtracts H1 and
// ISN_peer (SEG.SEQ - 1), reads T's low 8 bits from the top byte, accepts a cookie of this period
// or the one before (64 - 128 s old at most), subtracts H2 and requires the low 21 bits to be zero:
// 8 in 2^24 values pass a guess. Data in the high bits means that an ACK whose SEG.SEQ is off (a
// lost first data segment) fails instead of passing with shifted data and a wrong IRS.
//
// Window scaling and SACK need more bits: when the SYN carries timestamps (and we offer them), the
// low 6 bits of our TSval carry them (the peer's shift, 0 - 14, or 15 for none; bit 4: SACK
// permitted), and the ACK's TSecr brings them back. The TSval is moved back to the nearest value
// with those bits, so it never runs ahead of our clock (an RTT from this echo is at most 63 ms
// long). Without timestamps the SYN-ACK offers neither window scaling nor SACK, as on Linux.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "corotcp/tcp/isn.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/wire/seq.hpp"

namespace corotcp::tcp {

/// What a cookie's TSval carries besides the clock.
struct syn_cookie_ts_bits {
    std::optional<std::uint8_t> peer_wscale; ///< the SYN's window shift (none: no window scaling)
    bool sack = false;                       ///< the SYN offered SACK

    friend constexpr bool operator==(const syn_cookie_ts_bits&, const syn_cookie_ts_bits&) noexcept = default;
};

class syn_cookies {
public:
    static constexpr std::array<std::uint16_t, 4> mss_table{536, 1300, 1440, 1460};
    static constexpr duration period = duration::seconds(64);

    explicit syn_cookies(std::array<std::uint8_t, 16> secret) noexcept : secret_(secret) {}

    /// The MSS a cookie for a SYN offering `peer_mss` encodes: the largest table value not above it.
    [[nodiscard]] static constexpr std::size_t mss_index(std::uint16_t peer_mss) noexcept {
        std::size_t i = 0;
        while (i + 1 < mss_table.size() && mss_table[i + 1] <= peer_mss) ++i;
        return i;
    }

    /// What a cookie remembers of the SYN.
    struct contents {
        std::uint16_t mss = 536; ///< one of mss_table
        bool timestamps = false; ///< the SYN-ACK offered timestamps (the options are in its TSval)

        friend constexpr bool operator==(const contents&, const contents&) noexcept = default;
    };

    /// Our ISN for a SYN-ACK that keeps no state. Addresses and ports in host byte order.
    [[nodiscard]] wire::seq32 make(instant now, std::uint32_t local_addr, std::uint16_t local_port,
                                   std::uint32_t remote_addr, std::uint16_t remote_port, wire::seq32 peer_isn,
                                   std::uint16_t peer_mss, bool timestamps) const noexcept {
        const std::uint32_t t = count(now);
        const tuple_bytes k = key(local_addr, local_port, remote_addr, remote_port);
        const auto data = static_cast<std::uint32_t>(mss_index(peer_mss)) | (timestamps ? 4u : 0u);
        const std::uint32_t low = (h2(k, t) + (data << 21)) & 0xFF'FFFFu;
        return wire::seq32(h1(k) + peer_isn.value() + (t << 24) + low);
    }

    /// What a returning cookie encodes, or nothing if it is not one of ours from this period or
    /// the one before.
    [[nodiscard]] std::optional<contents> check(instant now, std::uint32_t local_addr, std::uint16_t local_port,
                                                std::uint32_t remote_addr, std::uint16_t remote_port,
                                                wire::seq32 peer_isn, wire::seq32 cookie) const noexcept {
        const tuple_bytes k = key(local_addr, local_port, remote_addr, remote_port);
        const std::uint32_t v = cookie.value() - h1(k) - peer_isn.value();
        const std::uint32_t now_t = count(now);
        const std::uint32_t age = (now_t - (v >> 24)) & 0xFFu;
        if (age > 1) return std::nullopt;
        const std::uint32_t low = ((v & 0xFF'FFFFu) - h2(k, now_t - age)) & 0xFF'FFFFu;
        if ((low & 0x1F'FFFFu) != 0) return std::nullopt;
        const std::uint32_t data = low >> 21;
        return contents{mss_table[data & 3u], (data & 4u) != 0};
    }

    /// Our TSval `now_tsval` moved back (by 0 - 63) to the nearest value whose low 6 bits say `bits`.
    [[nodiscard]] static constexpr std::uint32_t encode_tsval(std::uint32_t now_tsval, syn_cookie_ts_bits bits) noexcept {
        const std::uint32_t b = (bits.peer_wscale ? std::min<std::uint32_t>(*bits.peer_wscale, 14) : 15u) |
                                (bits.sack ? 0x10u : 0u);
        return now_tsval - ((now_tsval - b) & 0x3Fu);
    }

    [[nodiscard]] static constexpr syn_cookie_ts_bits decode_tsval(std::uint32_t echoed) noexcept {
        syn_cookie_ts_bits r;
        const std::uint32_t w = echoed & 0x0Fu;
        if (w != 15) r.peer_wscale = static_cast<std::uint8_t>(w);
        r.sack = (echoed & 0x10u) != 0;
        return r;
    }

private:
    using tuple_bytes = std::array<std::uint8_t, 17>; // tuple(12), period(4), domain tag(1)

    [[nodiscard]] static std::uint32_t count(instant now) noexcept { // floor(now / period), mod 2^32
        std::int64_t q = now.us / period.us;
        if (now.us % period.us < 0) --q;
        return static_cast<std::uint32_t>(static_cast<std::uint64_t>(q));
    }
    [[nodiscard]] static tuple_bytes key(std::uint32_t la, std::uint16_t lp, std::uint32_t ra, std::uint16_t rp) noexcept {
        auto b = [](std::uint32_t v, int s) { return static_cast<std::uint8_t>(v >> s); };
        return {b(la, 24), b(la, 16), b(la, 8), b(la, 0), b(lp, 8), b(lp, 0),
                b(ra, 24), b(ra, 16), b(ra, 8), b(ra, 0), b(rp, 8), b(rp, 0), 0, 0, 0, 0, 0};
    }
    [[nodiscard]] std::uint32_t h1(tuple_bytes k) const noexcept {
        k[16] = 'c'; // (the ISN generator hashes the bare 12-byte tuple: a different message)
        return static_cast<std::uint32_t>(siphash24(secret_, k));
    }
    [[nodiscard]] std::uint32_t h2(tuple_bytes k, std::uint32_t t) const noexcept {
        k[12] = static_cast<std::uint8_t>(t >> 24);
        k[13] = static_cast<std::uint8_t>(t >> 16);
        k[14] = static_cast<std::uint8_t>(t >> 8);
        k[15] = static_cast<std::uint8_t>(t);
        k[16] = 'C';
        return static_cast<std::uint32_t>(siphash24(secret_, k));
    }

    std::array<std::uint8_t, 16> secret_;
};

} // namespace corotcp::tcp
