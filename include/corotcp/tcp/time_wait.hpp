// corotcp/tcp/time_wait.hpp: what a connection in TIME-WAIT does with an arriving segment.
//
// One rule set serves both the full TCB in TIME_WAIT and the compact record the stack keeps once
// the application has let go of the connection (a few dozen bytes instead of a TCB with buffers).
//
//   RST                          -> ignored: TIME-WAIT is not assassinated (RFC 1337, fix 1)
//   the peer's FIN, retransmitted -> ACK it again and restart the 2MSL timer (RFC 9293 3.10.7.4)
//   a SYN of a new incarnation    -> may end TIME-WAIT: a listener on the port takes it (below)
//   SYN, data, other FINs        -> ACK (RFC 5961 4.2 for SYN; the data is never delivered); for
//                                   a SYN at most one per tcp_invalid_ratelimit (RFC 5961 7)
//   a bare ACK                   -> dropped (ACKing an ACK would loop between two TIME-WAITs)
//
// A new incarnation (RFC 1122 4.2.2.13, RFC 6191): a SYN without ACK whose sequence number lies
// beyond everything the old connection received (SEG.SEQ > RCV.NXT), or, when both the old
// connection and the SYN carry timestamps, whose TSval is newer than TS.Recent (equal: the
// sequence number decides). A kernel peer picks its ports without knowing our TIME-WAITs, so a
// server that closes first meets such SYNs: without this rule the client's SYN would only draw
// ACKs, its RST would be ignored (RFC 1337), and it could not connect until 2MSL ran out.
// One departure from RFC 6191, as in Linux: when the old connection had no timestamps, a SYN with
// them is not taken on that alone; its sequence number must lie beyond too (our receiver accepts
// segments without timestamps on a connection that has them, so PAWS could not stop old duplicates).
// An old SYN is ACKed (RFC 5961 4.2, as Linux) where RFC 6191 drops it silently.
// The new connection's ISN must lie beyond the old one's SND.NXT (new_incarnation_isn).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>

#include "corotcp/util/time.hpp"
#include "corotcp/wire/tcp.hpp"

namespace corotcp::tcp {

/// The TSval clock (RFC 7323 5.4 allows 1 ms to 1 s per tick): milliseconds of `now` plus a
/// per-connection offset. One formula for the TCB, its TIME-WAIT record and a SYN cookie's SYN-ACK.
[[nodiscard]] constexpr std::uint32_t tsval_clock(instant now, std::uint32_t offset) noexcept {
    return static_cast<std::uint32_t>(now.us / 1000) + offset;
}

/// The compact state of a connection in TIME-WAIT.
struct time_wait_record {
    wire::seq32 snd_nxt;        ///< our next sequence number (just past our FIN)
    wire::seq32 rcv_nxt;        ///< just past the peer's FIN
    std::uint16_t window = 0;   ///< the window field we keep advertising
    /// When an ACK for an invalid segment last went (invalid_segment_ack_allowed), in the low 16
    /// bits of the millisecond clock: enough for a 500 ms limit within a 60 s TIME-WAIT, and the
    /// record stays 32 bytes.
    std::uint16_t last_oow_ack_ms = 0;
    std::uint32_t ts_recent = 0; ///< TS.Recent: the peer's newest TSval, echoed
    std::uint32_t ts_offset = 0; ///< our TSval = milliseconds of `now` + this
    std::uint32_t two_msl_ms : 31 = 0; ///< the connection's 2MSL, in milliseconds
    std::uint32_t ts_ok : 1 = 0;       ///< timestamps were negotiated: every ACK carries them (RFC 7323)
    instant expires;            ///< when 2MSL runs out

    /// When TIME-WAIT began, or last restarted (the FIN that arrived then).
    [[nodiscard]] instant began() const noexcept { return expires - duration::millis(two_msl_ms); }

    [[nodiscard]] std::optional<wire::tcp_timestamps> timestamps(instant now) const noexcept {
        if (!ts_ok) return std::nullopt;
        return wire::tcp_timestamps{tsval_clock(now, ts_offset), ts_recent};
    }
};

enum class time_wait_verdict : std::uint8_t { drop, ack, ack_and_restart, new_incarnation };

/// A rate limit of one event per `limit` (0: none): true, and the event noted in `last_ms` (in ms
/// of `now`; 0 means never), if the last one was at least `limit` ago.
/// The clock is the low bits of milliseconds that `T` holds (a limit beyond its range is cut to it).
template <std::unsigned_integral T>
[[nodiscard]] constexpr bool rate_limit_allows(T& last_ms, instant now, duration limit) noexcept {
    const auto t = static_cast<T>(static_cast<T>(now.us / 1000) | 1u); // (never 0)
    const auto l = std::min<std::uint64_t>(static_cast<std::uint64_t>(std::max<std::int64_t>(limit.us / 1000, 0)),
                                           std::numeric_limits<T>::max());
    if (l > 0 && last_ms != 0 && static_cast<T>(t - last_ms) < l) return false;
    last_ms = t;
    return true;
}

/// RFC 5961 7 ACK throttling (Linux's tcp_oow_rate_limited with tcp_invalid_ratelimit, for an
/// established connection and a TIME-WAIT alike): the ACK owed to a segment dropped as invalid
/// (out of window, PAWS, an old SYN, an ACK of unsent data) goes at most once per `limit`, so
/// two desynchronized ends cannot ACK each other in a loop and forged segments cannot make us
/// send at their rate. A segment with data or a FIN (and no SYN) is always answered: it is a
/// retransmission, no ACK loop, and its sender needs the ACK.
template <std::unsigned_integral T>
[[nodiscard]] constexpr bool invalid_segment_ack_allowed(T& last_ms, const wire::tcp_repr& seg, instant now,
                                                         duration limit) noexcept {
    if (seg.segment_length() > 0 && !seg.has(wire::tcp_flags::syn)) return true;
    return rate_limit_allows(last_ms, now, limit);
}

[[nodiscard]] constexpr time_wait_verdict classify_in_time_wait(const time_wait_record& r,
                                                                const wire::tcp_repr& seg) noexcept {
    using wire::tcp_flags;
    if (seg.has(tcp_flags::rst)) return time_wait_verdict::drop;
    if (seg.has(tcp_flags::syn)) {
        if (seg.has(tcp_flags::ack) || seg.has(tcp_flags::fin)) return time_wait_verdict::ack;
        const bool seq_beyond = seg.seq > r.rcv_nxt;
        if (r.ts_ok && seg.options.timestamps) {
            const auto newer = static_cast<std::int32_t>(seg.options.timestamps->value - r.ts_recent);
            if (newer > 0 || (newer == 0 && seq_beyond)) return time_wait_verdict::new_incarnation;
            return time_wait_verdict::ack;
        }
        return seq_beyond ? time_wait_verdict::new_incarnation : time_wait_verdict::ack;
    }
    if (seg.has(tcp_flags::fin)) {
        // A retransmission of the FIN we already took ends exactly at RCV.NXT.
        const bool retransmitted_fin = seg.seq + seg.segment_length() == r.rcv_nxt;
        return retransmitted_fin ? time_wait_verdict::ack_and_restart : time_wait_verdict::ack;
    }
    return seg.payload.empty() ? time_wait_verdict::drop : time_wait_verdict::ack;
}

/// The ISN of a connection that replaces a TIME-WAIT: `generated` (RFC 6528) when it lies more
/// than a 64 KiB window beyond the old connection's SND.NXT, else just past that window, so that
/// no old duplicate of ours can land in the new connection (RFC 1122 4.2.2.13).
[[nodiscard]] constexpr wire::seq32 new_incarnation_isn(const time_wait_record& r, wire::seq32 generated) noexcept {
    const wire::seq32 floor = r.snd_nxt + 65537u;
    return generated > floor ? generated : floor;
}

} // namespace corotcp::tcp
