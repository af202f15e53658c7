// corotcp/tcp/time_wait.hpp: what a connection in TIME-WAIT does with an arriving segment.
//
// One rule set serves both the full TCB in TIME_WAIT and the compact record the stack keeps once
// the application has let go of the connection (a few dozen bytes instead of a TCB with buffers).
//
//   RST                          -> ignored: TIME-WAIT is not assassinated (RFC 1337, fix 1)
//   the peer's FIN, retransmitted -> ACK it again and restart the 2MSL timer (RFC 9293 3.10.7.4)
//   SYN, data, other FINs        -> ACK (RFC 5961 4.2 for SYN; the data is never delivered)
//   a bare ACK                   -> dropped (ACKing an ACK would loop between two TIME-WAITs)
#pragma once

#include <cstdint>

#include "corotcp/util/time.hpp"
#include "corotcp/wire/tcp.hpp"

namespace corotcp::tcp {

/// The compact state of a connection in TIME-WAIT.
struct time_wait_record {
    wire::seq32 snd_nxt;        ///< our next sequence number (just past our FIN)
    wire::seq32 rcv_nxt;        ///< just past the peer's FIN
    std::uint16_t window = 0;   ///< the window field we keep advertising
    instant expires;            ///< when 2MSL runs out
};

enum class time_wait_verdict : std::uint8_t { drop, ack, ack_and_restart };

[[nodiscard]] constexpr time_wait_verdict classify_in_time_wait(wire::seq32 rcv_nxt,
                                                                const wire::tcp_repr& seg) noexcept {
    using wire::tcp_flags;
    if (seg.has(tcp_flags::rst)) return time_wait_verdict::drop;
    if (seg.has(tcp_flags::syn)) return time_wait_verdict::ack;
    if (seg.has(tcp_flags::fin)) {
        // A retransmission of the FIN we already took ends exactly at RCV.NXT.
        const bool retransmitted_fin = seg.seq + seg.segment_length() == rcv_nxt;
        return retransmitted_fin ? time_wait_verdict::ack_and_restart : time_wait_verdict::ack;
    }
    return seg.payload.empty() ? time_wait_verdict::drop : time_wait_verdict::ack;
}

} // namespace corotcp::tcp
