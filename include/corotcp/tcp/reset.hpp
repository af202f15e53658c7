// corotcp/tcp/reset.hpp: the RST a segment earns when no connection wants it.
//
// RFC 9293 3.10.7.1 (CLOSED state) and 3.5.2 rule 1: an arriving segment that is not itself a RST
// gets a reset whose sequence number the sender will find acceptable:
//   if the segment has ACK:  <SEQ=SEG.ACK><CTL=RST>
//   otherwise:               <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
#pragma once

#include <optional>

#include "corotcp/wire/tcp.hpp"

namespace corotcp::tcp {

/// The reset answering `seg` (ports swapped), or nothing if `seg` is a RST (never answer a RST).
[[nodiscard]] inline std::optional<wire::tcp_repr> reset_for(const wire::tcp_repr& seg) noexcept {
    using wire::tcp_flags;
    if (seg.has(tcp_flags::rst)) return std::nullopt;
    wire::tcp_repr r{};
    r.src_port = seg.dst_port;
    r.dst_port = seg.src_port;
    if (seg.has(tcp_flags::ack)) {
        r.seq = seg.ack;
        r.flags = tcp_flags::rst;
    } else {
        r.seq = wire::seq32(0);
        r.ack = seg.seq + seg.segment_length();
        r.flags = tcp_flags::rst | tcp_flags::ack;
    }
    return r;
}

} // namespace corotcp::tcp
