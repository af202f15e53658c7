// corotcp/tcp/tcb.hpp: one TCP connection, sans-IO.
//
// The TCB takes segments and time in and gives segments and the next deadline out:
//
//     tcb.on_segment(now, seg);          // RFC 9293 3.10.7, one arriving segment
//     tcb.poll(now, emit);               // fire due timers, then emit(segment_out) what is ready
//     tcb.next_deadline();               // when poll() must run again at the latest
//
// plus the user calls (open_active, send, recv, shutdown, close, abort). It never reads a clock,
// never does I/O and never allocates after its buffers exist. Every state change goes through the
// table in state.hpp (transition() performs the row's actions, then set_state()).
//
// Segment processing follows RFC 9293 3.10.7.4 step by step; each step is a named member:
//   1 check_sequence   2 on_rst   4 on_syn_in_window   5 on_ack   7 accept_text   8 on_fin
// Sending follows RFC 9293 3.8.6 (window management, SWS avoidance), RFC 896 (Nagle), RFC 6298
// (retransmission timer, Karn), RFC 5681/6582 (slow start, congestion avoidance, fast
// retransmit/NewReno recovery), RFC 1122 4.2.2.17 (persist) and 4.2.3.6 (keepalive).
// Options: RFC 7323 timestamps (RTT from TSecr on every ACK, PAWS) and window scaling; RFC 2018
// SACK blocks and RFC 2883 D-SACK as a receiver; as a sender, with SACK, RFC 6675 loss recovery
// (scoreboard.hpp: pipe, NextSeg; only the holes are resent) with RACK (RFC 8985 6, rack.hpp) as
// the loss detector in place of DupThresh's IsLost (config::rack, as Linux), and the RFC 8985 tail
// loss probe; without SACK, NewReno. RFC 3042 limited transmit sends new data on the first two
// duplicate ACKs. cwnd and ssthresh belong to the congestion model (congestion.hpp: CUBIC by
// default, or NewReno), chosen per connection by config::congestion or set_congestion_control().
// TSO: with config::tso_max (a link that segments), new data may leave as one super-segment of
// several MSS (segment_out::gso_size = MSS); sequence accounting is by bytes, so nothing else changes.
//
// RACK and RFC 6675 (RFC 8985 9.2): every data transmission is logged with its time (rack.hpp);
// each ACK reports what it newly delivered, and a range is lost once a range sent after it was
// delivered and RTT + reo_wnd have passed since it was sent (immediately, with reo_wnd 0, when no
// reordering was seen and DupThresh segments are SACKed; else by the RACK reorder timer). A loss
// starts fast recovery; SetPipe and NextSeg then read RACK's marks, and a retransmission that is
// lost again is marked and resent like any other range (no RTO needed). NextSeg's rule 3 (resend
// holes not deemed lost) is not used with RACK: RACK's timer replaces it. After an RTO, RACK marks
// per RFC 8985 6.3 and go-back-N resends; no fast recovery (RACK's or DupThresh's) starts until the
// data outstanding at the RTO is acknowledged (RFC 6675 5.1, RFC 6582 "recover"), and ssthresh
// follows RFC 5681 3.1 (SACKed octets not in flight; held on a repeated RTO). As a receiver, each
// out-of-order segment gets its own duplicate ACK even when a batch arrives before one poll
// (RFC 5681 4.2).
//
// After an RTO the scoreboard is kept (RFC 6675 5.1 leaves the choice open): go-back-N skips what
// the peer SACKed, as Linux does; a second consecutive RTO clears it in case the receiver reneged.
//
// ICMP (the interface matches the quoted 4-tuple and calls in): on_icmp_error() for destination
// unreachable and time exceeded, on_path_mtu() for fragmentation needed. Both believe a message only
// if it quotes a sequence number we sent and the peer has not acknowledged (RFC 5927 4.1). A
// connection attempt fails at once; a synchronized connection only remembers the error (RFC 5927
// 5.2, as Linux); a smaller path MTU lowers the MSS and resends what is in flight (RFC 1191).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include "corotcp/tcp/buffer.hpp"
#include "corotcp/tcp/config.hpp"
#include "corotcp/tcp/congestion.hpp"
#include "corotcp/tcp/rack.hpp"
#include "corotcp/tcp/reassembly.hpp"
#include "corotcp/tcp/reset.hpp"
#include "corotcp/tcp/rtt.hpp"
#include "corotcp/tcp/scoreboard.hpp"
#include "corotcp/tcp/state.hpp"
#include "corotcp/tcp/time_wait.hpp"
#include "corotcp/util/error.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/util/waker.hpp"
#include "corotcp/wire/icmp.hpp"
#include "corotcp/wire/seq.hpp"
#include "corotcp/wire/tcp.hpp"

namespace corotcp::tcp {

using wire::seq32;
using wire::tcp_flags;

/// A segment the TCB wants sent: a header plus up to two payload pieces (scatter-gather straight
/// from the send ring; the link layer copies them once, fused with the checksum).
struct segment_out {
    wire::tcp_repr header{};
    std::array<std::span<const std::uint8_t>, 2> payload{};
    /// TSO (config::tso_max): > 0 when the payload is several segments of this many bytes (the
    /// MSS), for the link to cut up; 0 for an ordinary segment.
    std::uint16_t gso_size = 0;
    /// The IPv4 header's DF bit: set (path MTU discovery, RFC 1191) unless a router reported a
    /// next-hop MTU below 576, which the path MTU is not lowered to (tcb::on_path_mtu).
    bool dont_fragment = true;

    [[nodiscard]] std::size_t payload_size() const noexcept { return payload[0].size() + payload[1].size(); }
};

/// What congestion control just did (Linux's tcp_probe, for tracing and tests): one sample after
/// each ACK the TCB processes once synchronized (duplicates included; not the SYN-ACK), one when a
/// fast recovery starts and one at each retransmission timeout of data. A loss repaired by a tail
/// loss probe (RFC 8985 7.6.2) reduces cwnd without a sample of its own: the ack sample shows it.
struct cc_sample {
    enum class kind : std::uint8_t {
        ack,      ///< an ACK was processed (its SACK blocks, PRR and a recovery's end included)
        recovery, ///< fast retransmit: ssthresh and cwnd were just reduced from `flight` (with
                  ///< SACK, PRR then sets cwnd on this same ACK: see the ack sample that follows)
        timeout,  ///< retransmission timeout: cwnd is the loss window; ssthresh was reduced from
                  ///< `flight` at the first timeout of this data, and is held at later ones
    };
    kind what = kind::ack;
    instant now;
    /// ack: SND.MAX - SND.UNA before the ACK; recovery: the FlightSize the reduction used (RFC
    /// 5681 3.2: without what limited transmit sent); timeout: the FlightSize at the timeout
    /// (without what the peer SACKed, RFC 5681 3.1 / RFC 6675 5.1).
    std::uint32_t flight = 0;
    std::uint32_t acked = 0; ///< ack: how far it moved SND.UNA (sequence numbers: a FIN counts one)
    std::uint32_t cwnd = 0;  ///< after it
    std::uint32_t ssthresh = 0;
    bool in_recovery = false;
};

/// Called on every state change (for tracing); `why` is the event of the table row taken. `cc`,
/// when set, gets every cc_sample (same context).
struct state_observer {
    void (*fn)(void* ctx, state from, state to, event why) = nullptr;
    void* ctx = nullptr;
    void (*cc)(void* ctx, const cc_sample& s) = nullptr;
};

/// Counters and a snapshot of the interesting variables, for netstat-like views and tests.
struct tcb_stats {
    std::uint64_t segments_in = 0;
    std::uint64_t segments_out = 0;
    std::uint64_t bytes_in = 0;  ///< payload bytes delivered in order
    std::uint64_t bytes_out = 0; ///< payload bytes sent, retransmissions included
    std::uint64_t retransmits = 0;
    std::uint64_t fast_retransmits = 0;
    std::uint64_t challenge_acks = 0;
    std::uint64_t dropped_out_of_window = 0;
    std::uint64_t paws_drops = 0;     ///< segments dropped by PAWS (RFC 7323 5.3)
    std::uint64_t dsacks_sent = 0;    ///< ACKs that reported a duplicate (RFC 2883)
    std::uint64_t tail_loss_probes = 0; ///< probes sent when the PTO fired (RFC 8985 7)
    std::uint64_t timeouts = 0;         ///< retransmission timer expirations (RFC 6298 5.4), SYN or data
    std::uint64_t rack_marked_lost = 0; ///< ranges RACK marked lost (RFC 8985 6.2 step 5)
    std::uint64_t rack_timer_fires = 0; ///< RACK reorder timer expirations (RFC 8985 6.2)
};

/// What an ICMP error did to a connection (the interface counts them).
enum class icmp_outcome : std::uint8_t {
    ignored,     ///< not about anything unacknowledged (RFC 5927 4.1), or nothing to change
    soft_error,  ///< remembered: it becomes the error if the connection later times out
    aborted,     ///< the connection attempt failed with the error the message maps to
    mtu_lowered, ///< the path MTU (and with it the MSS) went down; what was in flight goes again
};

/// The error an ICMP message stands for (as Linux's icmp_err_convert), and whether it is "hard":
/// it says the peer can never be reached on this connection (RFC 1122 4.2.3.9: protocol and port
/// unreachable; Linux adds the "unknown", "prohibited" and "precedence" codes).
struct icmp_error_info {
    errc error = errc::host_unreachable;
    bool hard = false;
};

/// Destination unreachable (except fragmentation needed, which is path MTU discovery), time
/// exceeded and parameter problem (RFC 1122 4.2.3.9: soft; Linux reports EPROTO); nullopt for
/// anything else.
[[nodiscard]] constexpr std::optional<icmp_error_info> classify_icmp_error(std::uint8_t type, std::uint8_t code) noexcept {
    if (type == wire::icmp_type::time_exceeded) return icmp_error_info{errc::host_unreachable, false};
    if (type == wire::icmp_type::parameter_problem) return icmp_error_info{errc::protocol_error, false};
    if (type != wire::icmp_type::dest_unreachable) return std::nullopt;
    switch (code) {
    case wire::icmp_unreach::net: return icmp_error_info{errc::network_unreachable, false};
    case wire::icmp_unreach::host: return icmp_error_info{errc::host_unreachable, false};
    case wire::icmp_unreach::protocol: return icmp_error_info{errc::connection_refused, true};
    case wire::icmp_unreach::port: return icmp_error_info{errc::connection_refused, true};
    case wire::icmp_unreach::frag_needed: return std::nullopt;
    case 5: return icmp_error_info{errc::host_unreachable, false};     // source route failed
    case 6: return icmp_error_info{errc::network_unreachable, true};   // destination network unknown
    case 7: return icmp_error_info{errc::host_unreachable, true};      // destination host unknown
    case 8: return icmp_error_info{errc::host_unreachable, true};      // source host isolated
    case 9: return icmp_error_info{errc::network_unreachable, true};   // network administratively prohibited
    case 10: return icmp_error_info{errc::host_unreachable, true};     // host administratively prohibited
    case 11: return icmp_error_info{errc::network_unreachable, false}; // network unreachable for TOS
    case 12: return icmp_error_info{errc::host_unreachable, false};    // host unreachable for TOS
    case 13: return icmp_error_info{errc::host_unreachable, true};     // communication prohibited (RFC 1812)
    case 14: return icmp_error_info{errc::host_unreachable, true};     // host precedence violation
    case 15: return icmp_error_info{errc::host_unreachable, true};     // precedence cutoff in effect
    default: return std::nullopt;
    }
}

/// RFC 1191 3: no IPv4 path is narrower than 576 bytes (an MSS of 536).
inline constexpr std::uint32_t min_path_mtu = 576;

template <buffer_policy Buffers = heap_buffers>
class tcb {
public:
    using send_ring = ring_buffer<typename Buffers::send_storage>;
    using recv_ring = ring_buffer<typename Buffers::recv_storage>;

    tcb(const config& cfg, std::uint16_t local_port, std::uint16_t remote_port)
        : tcb(std::make_shared<const config>(cfg), local_port, remote_port) {}

    /// Shares the settings with other connections (a stack's connections that use its defaults
    /// hold one copy between them: 16 bytes each instead of sizeof(config)). Not null.
    tcb(std::shared_ptr<const config> cfg, std::uint16_t local_port, std::uint16_t remote_port)
        : cfg_(std::move(cfg)), local_port_(local_port), remote_port_(remote_port),
          rtt_(rtt_config{cfg_->rto_initial, cfg_->rto_min, cfg_->rto_max, duration::millis(1)}),
          cc_(cfg_->congestion, 536, cfg_->initial_cwnd_segments * 536, cfg_->hystart_detect), snd_buf_(cfg_->send_buffer),
          rcv_buf_(cfg_->recv_buffer) {
        snd_mss_ = 536; // RFC 9293 3.7.1: the default when the peer sends no MSS option
        rcv_mss_ = std::min<std::uint32_t>(cfg_->mss, 536);
        rcv_wscale_ = cfg_->window_scaling ? wscale_for(rcv_buf_.capacity()) : 0;
        path_mtu_ = std::uint32_t{cfg_->mss} + 40;
    }

    tcb(const tcb&) = delete;
    tcb& operator=(const tcb&) = delete;

    // ------------------------------------------------------------------ user calls (RFC 9293 3.10)

    /// Active OPEN: CLOSED -> SYN_SENT; the SYN goes out at the next poll().
    void open_active(instant now, seq32 iss) {
        init_send_space(iss);
        transition(now, event::user_connect);
    }

    /// Passive OPEN completed by an arriving SYN (the listener lives in the stack): the new TCB
    /// goes LISTEN -> SYN_RCVD and answers with a SYN-ACK at the next poll().
    void open_passive(instant now, seq32 iss, const wire::tcp_repr& syn) {
        transition(now, event::user_listen);
        init_send_space(iss);
        take_syn(now, syn);
        transition(now, event::rcv_syn);
    }

    /// A SYN cookie came back (tcp/syncookie.hpp): the listener answered `syn` (rebuilt from the
    /// cookie: the peer's ISN, the MSS, and what the timestamps carried) with a SYN-ACK of ISN `iss`
    /// that kept no state, and `ack` completes the handshake. SYN_RCVD as if our SYN-ACK had gone
    /// out untimed (its RTT then comes from the echoed timestamp, if any), then `ack` is processed
    /// like any segment: ESTABLISHED, with whatever data it carries.
    void open_from_cookie(instant now, seq32 iss, const wire::tcp_repr& syn, const wire::tcp_repr& ack) {
        open_passive(now, iss, syn);
        syn_pending_ = false;
        snd_nxt_ = snd_max_ = iss_ + 1;
        last_data_ms_ = stamp_ms(now);
        // No RTT sample from this echo: the TSval we sent was moved back up to 63 ms to carry the
        // options, and a late ACK (the first data) echoes it after the peer's think time.
        wire::tcp_repr a = ack;
        if (a.options.timestamps) a.options.timestamps->echo = 0;
        on_segment(now, a);
    }

    /// The window shift a SYN or SYN-ACK of this configuration offers (the constructor's choice),
    /// for a SYN-ACK sent without a TCB (SYN cookies).
    [[nodiscard]] static std::uint8_t offered_wscale(const config& c) {
        return c.window_scaling ? wscale_for(recv_capacity(c)) : 0;
    }
    /// The receive buffer's capacity a connection of this configuration has.
    [[nodiscard]] static std::size_t recv_capacity(const config& c) { return recv_ring::capacity_for(c.recv_buffer); }

    /// Queues bytes to send; returns how many fit (0 when the buffer is full). Fails with
    /// not_connected before the handshake, connection_closing after shutdown, or the error that
    /// ended the connection.
    std::size_t send(std::span<const std::uint8_t> data, std::error_code& ec) {
        ec = {};
        if (error_ != errc::ok) { ec = error_; return 0; }
        if (fin_queued_) { ec = errc::connection_closing; return 0; }
        if (!can_send_in(state_)) {
            ec = (state_ == state::syn_sent || state_ == state::syn_rcvd) ? errc::not_connected
                                                                          : errc::connection_closing;
            return 0;
        }
        return snd_buf_.write(data);
    }

    /// Copies received bytes out; returns the count. 0 with at_eof() means the peer sent FIN.
    std::size_t recv(std::span<std::uint8_t> out) {
        const std::size_t n = rcv_buf_.read(out);
        if (n > 0) maybe_send_window_update();
        return n;
    }

    /// Where the `len` payload bytes of a segment starting at `seq` will land in the receive
    /// buffer, if that is certain before the segment is processed: it is the next in order, no
    /// out-of-order data is held (nothing there to overwrite), the window holds all of it and the
    /// free space at the tail is contiguous. Otherwise empty. A receive path may copy the payload
    /// there while it verifies the checksum (one pass over the data instead of two) and then hand
    /// on_segment() a segment whose payload points at these bytes: nothing is copied again. If the
    /// segment is then refused (bad checksum, PAWS, ...) the bytes stay beyond the tail, unused.
    [[nodiscard]] std::span<std::uint8_t> receive_landing(seq32 seq, std::size_t len) {
        if (len == 0 || seq != rcv_nxt_ || !ooo_.empty() || !receives_data_in(state_) || orphaned_ ||
            len > rcv_wnd())
            return {};
        const auto spans = rcv_buf_.write_spans();
        return spans[0].size() >= len ? spans[0].first(len) : std::span<std::uint8_t>{};
    }

    /// CLOSE in RFC terms, shutdown(SHUT_WR) in socket terms: the FIN follows the queued data.
    void shutdown(instant now) {
        if (state_ == state::syn_sent) {
            fail_with_ = errc::aborted;
            transition(now, event::user_close);
        } else if (state_ == state::syn_rcvd && !fin_queued_) {
            // RFC 9293 3.10.4, CLOSE in SYN-RECEIVED (after a simultaneous open): the FIN is
            // "queued for processing after entering ESTABLISHED" (enter_established)
            queue_fin();
        } else if (can_send_in(state_) && !fin_queued_) {
            transition(now, event::user_close);
        }
    }

    /// shutdown() plus "the application is gone": unread or later-arriving data answers with RST
    /// (RFC 2525 2.17, as Linux does), and FIN_WAIT_2 is bounded by fin_timeout.
    void close(instant now) {
        orphaned_ = true;
        if (!rcv_buf_.empty() && is_synchronized(state_) && state_ != state::time_wait) {
            abort(now);
            return;
        }
        if (state_ == state::listen) {
            transition(now, event::user_close);
            return;
        }
        shutdown(now);
        if (state_ == state::fin_wait_2) start_fin_wait_2_timer(now);
    }

    /// ABORT: RST to the peer (where it holds state), queued data discarded, error `aborted`.
    void abort(instant now) {
        fail_with_ = errc::aborted;
        if (allows(state_, event::user_abort)) transition(now, event::user_abort);
    }

    // ------------------------------------------------------------------ segment arrival

    /// RFC 9293 3.10.7: one arriving segment for this connection (ports already matched).
    void on_segment(instant now, const wire::tcp_repr& seg) {
        ++stats_.segments_in;
        switch (state_) {
        case state::closed:
        case state::listen: return;
        case state::syn_sent: on_segment_syn_sent(now, seg); break;
        case state::time_wait: on_segment_time_wait(now, seg); break;
        default: on_segment_synchronized(now, seg); break;
        }
        waker_.wake(); // once per segment, whatever it changed (data, room, EOF, state, error)
    }

    // ------------------------------------------------------------------ ICMP

    /// An ICMP destination unreachable (any code but fragmentation needed) or time exceeded about
    /// the segment numbered `quoted_seq` (from the quoted TCP header). Believed only if that number
    /// lies in [SND.UNA, SND.MAX): something we sent that is not acknowledged (RFC 5927 4.1). Then:
    ///   * SYN_SENT: the connect fails at once with the mapped error - network_unreachable,
    ///     host_unreachable, connection_refused for port and protocol unreachable - as on Linux;
    ///   * SYN_RCVD: a hard error drops the embryonic connection (no RST); a soft one is remembered;
    ///   * synchronized states: every error is soft (RFC 1122 4.2.3.9 for soft errors; RFC 5927 5.2
    ///     and Linux treat hard ones alike): it is remembered, and reported instead of timed_out if
    ///     the connection later times out. An ACK of new data forgets it ("something worked").
    icmp_outcome on_icmp_error(instant now, std::uint8_t type, std::uint8_t code, seq32 quoted_seq) {
        const auto info = classify_icmp_error(type, code);
        if (!info || !takes_icmp() || !quotes_unacknowledged(quoted_seq)) return icmp_outcome::ignored;
        if (state_ == state::syn_sent || (state_ == state::syn_rcvd && info->hard)) {
            fail_with_ = info->error;
            transition(now, event::rcv_icmp_error);
            return icmp_outcome::aborted;
        }
        soft_error_ = info->error;
        return icmp_outcome::soft_error;
    }

    /// RFC 1191: "fragmentation needed and DF set" with next-hop MTU `mtu`, about the segment
    /// numbered `quoted_seq` (checked as in on_icmp_error). The path MTU only ever goes down here,
    /// and never below 576 (min_path_mtu; the interface has already replaced an old router's 0 by
    /// an RFC 1191 7 plateau). A report below 576 also clears DF on what follows, so that a
    /// router of a smaller MTU fragments our 576-byte packets instead of dropping them (Linux
    /// locks the path MTU at its minimum and sends without DF: ip_dont_fragment). The MSS
    /// follows (MTU - 40, less the timestamp option), and what is
    /// in flight was dropped by the router: it goes again at once, re-segmented, from SND.UNA
    /// (SACKed ranges skipped; Linux: tcp_simple_retransmit). No congestion signal: cwnd and
    /// ssthresh stay (RFC 1191 6.4).
    icmp_outcome on_path_mtu(instant now, std::uint32_t mtu, seq32 quoted_seq) {
        if (!takes_icmp() || !quotes_unacknowledged(quoted_seq)) return icmp_outcome::ignored;
        if (mtu < min_path_mtu && !pmtu_locked_) {
            pmtu_locked_ = true;
            if (path_mtu_ <= min_path_mtu) { // already at the floor: only DF changes; resend without it
                if (syn_acked_ && is_synchronized(state_)) resend_after_mtu_drop(now);
                return icmp_outcome::mtu_lowered;
            }
        }
        mtu = std::max(mtu, min_path_mtu);
        if (mtu >= path_mtu_) return icmp_outcome::ignored;
        path_mtu_ = mtu;
        const std::uint32_t before = snd_mss_;
        set_path_mss(mtu - 40);
        if (snd_mss_ < before && syn_acked_ && is_synchronized(state_)) resend_after_mtu_drop(now);
        return icmp_outcome::mtu_lowered;
    }

    // ------------------------------------------------------------------ output and time

    /// Fires every timer due at `now`, then emits what is ready: emit(const segment_out&).
    template <class Emit>
    void poll(instant now, Emit&& emit) {
        on_timers(now);
        transmit(now, emit);
    }

    /// The earliest instant at which poll() has work: `instant{}` (the past) if something is ready
    /// to send now, instant::never() if nothing will ever be due.
    [[nodiscard]] [[gnu::always_inline]] instant next_deadline() const noexcept {
        if (has_output()) return instant{};
        instant t = earliest(rtx_deadline_, persist_deadline_);
        t = earliest(t, delack_deadline_);
        t = earliest(t, keepalive_deadline_);
        t = earliest(t, tlp_deadline_);
        t = earliest(t, rack_deadline_);
        return earliest(t, state_deadline_);
    }

    /// The peer's window is closed on data we have not sent and no timer watches it: poll() must
    /// arm the persist timer (RFC 9293 3.8.6.1), even though it has nothing to send.
    [[nodiscard]] bool persist_needed() const noexcept {
        return snd_wnd_ == 0 && persist_deadline_.is_never() && rtx_deadline_.is_never() && is_synchronized(state_) &&
               has_unsent_data();
    }

    // ------------------------------------------------------------------ observers

    [[nodiscard]] state current_state() const noexcept { return state_; }
    [[nodiscard]] std::error_code error() const noexcept { return error_ == errc::ok ? std::error_code{} : error_; }
    /// Data or EOF or an error is waiting for recv().
    [[nodiscard]] bool readable() const noexcept { return !rcv_buf_.empty() || at_eof() || error_ != errc::ok; }
    /// The peer's FIN has arrived and every byte before it has been read.
    [[nodiscard]] bool at_eof() const noexcept { return peer_fin_ && rcv_buf_.empty(); }
    [[nodiscard]] std::size_t send_space() const noexcept { return snd_buf_.free_space(); }
    [[nodiscard]] std::size_t send_queue() const noexcept { return snd_buf_.size(); }
    [[nodiscard]] std::size_t recv_queue() const noexcept { return rcv_buf_.size(); }
    /// Synchronized with the peer: connect()/accept() may complete.
    [[nodiscard]] bool established_once() const noexcept { return syn_acked_ && peer_syn_seen_; }
    /// CLOSED after having been used: the stack may free it once its last segment is out.
    [[nodiscard]] bool finished() const noexcept { return state_ == state::closed && !has_output(); }
    [[nodiscard]] bool orphaned() const noexcept { return orphaned_; }
    [[nodiscard]] const tcb_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const rtt_estimator& rtt() const noexcept { return rtt_; }
    /// What the peer SACKed above SND.UNA (RFC 6675's scoreboard).
    [[nodiscard]] const sack_scoreboard& scoreboard() const noexcept { return board_; }
    [[nodiscard]] bool in_recovery() const noexcept { return in_recovery_; }
    [[nodiscard]] std::uint32_t cwnd() const noexcept { return cc_.cwnd(); }
    [[nodiscard]] std::uint32_t ssthresh() const noexcept { return cc_.ssthresh(); }
    /// The congestion-control model in use (config::congestion), for its algorithm-specific state.
    [[nodiscard]] const congestion_controller& congestion() const noexcept { return cc_; }
    [[nodiscard]] std::uint32_t send_window() const noexcept { return snd_wnd_; }
    [[nodiscard]] std::uint32_t send_mss() const noexcept { return snd_mss_; }
    [[nodiscard]] std::uint16_t local_port() const noexcept { return local_port_; }
    [[nodiscard]] std::uint16_t remote_port() const noexcept { return remote_port_; }
    [[nodiscard]] const config& settings() const noexcept { return *cfg_; }
    [[nodiscard]] instant retransmit_deadline() const noexcept { return rtx_deadline_; }
    [[nodiscard]] instant persist_deadline() const noexcept { return persist_deadline_; }
    [[nodiscard]] instant state_deadline() const noexcept { return state_deadline_; }
    [[nodiscard]] instant keepalive_deadline() const noexcept { return keepalive_deadline_; }
    [[nodiscard]] instant delayed_ack_deadline() const noexcept { return delack_deadline_; }
    [[nodiscard]] instant probe_deadline() const noexcept { return tlp_deadline_; }
    /// When the RACK reorder timer fires (RFC 8985 6.2 step 5), or never.
    [[nodiscard]] instant reorder_deadline() const noexcept { return rack_deadline_; }
    /// RACK's state and transmission log (meaningful when rack_enabled()).
    [[nodiscard]] const tcp::rack& rack_state() const noexcept { return rack_; }
    /// RACK is the loss detector: config::rack and SACK negotiated.
    [[nodiscard]] bool rack_enabled() const noexcept { return cfg_->rack && sack_ok_; }
    /// TCP_CONGESTION: switches this connection to another algorithm, at any time (cwnd and
    /// ssthresh carry over; see congestion_controller::switch_to).
    void set_congestion_control(congestion_control c) noexcept {
        cc_.switch_to(c, snd_mss_, cfg_->hystart_detect);
    }
    // RFC 9293 sequence variables, read-only.
    [[nodiscard]] seq32 iss() const noexcept { return iss_; }
    [[nodiscard]] seq32 irs() const noexcept { return irs_; }
    [[nodiscard]] seq32 snd_una() const noexcept { return snd_una_; }
    [[nodiscard]] seq32 snd_nxt() const noexcept { return snd_nxt_; }
    [[nodiscard]] seq32 rcv_nxt() const noexcept { return rcv_nxt_; }
    [[nodiscard]] std::uint32_t rcv_wnd() const noexcept { return static_cast<std::uint32_t>(rcv_adv_ - rcv_nxt_); }

    /// The compact TIME-WAIT record that can replace this TCB once the application let go.
    [[nodiscard]] time_wait_record to_time_wait_record() const noexcept {
        return {snd_max_,
                rcv_nxt_,
                window_field(false),
                static_cast<std::uint16_t>(oow_ack_ms_),
                ts_recent_,
                ts_offset_,
                static_cast<std::uint32_t>((cfg_->msl * 2).us / 1000),
                ts_ok_,
                state_deadline_};
    }
    /// In TIME_WAIT, `syn` opens a new incarnation of this 4-tuple (RFC 6191; see time_wait.hpp).
    [[nodiscard]] bool is_new_incarnation(const wire::tcp_repr& syn) const noexcept {
        return state_ == state::time_wait &&
               classify_in_time_wait(to_time_wait_record(), syn) == time_wait_verdict::new_incarnation;
    }
    /// TIME_WAIT ends because a listener takes a new incarnation's SYN (is_new_incarnation):
    /// CLOSED, with no error for the application.
    void end_time_wait_for_new_incarnation(instant now) {
        if (state_ == state::time_wait) transition(now, event::rcv_syn);
    }

    void set_waker(waker w) noexcept { waker_ = w; }
    void set_state_observer(state_observer o) noexcept { observer_ = o; }
    /// The path MTU this connection assumes: the link's (config::mss + 40) until an ICMP
    /// fragmentation-needed lowers it (on_path_mtu).
    [[nodiscard]] std::uint32_t path_mtu() const noexcept { return path_mtu_; }
    /// The error an ICMP message reported and a timeout would report (0 if none).
    [[nodiscard]] errc soft_error() const noexcept { return soft_error_; }
    /// Lowers the MSS we send with to fit a path MTU of `mss` + 40 (on_path_mtu; never below 536
    /// per RFC 9293 3.7.1, never above what it was). Option space (timestamps) is taken from it as
    /// from the peer's MSS.
    void set_path_mss(std::uint32_t mss) noexcept {
        const std::uint32_t opt = ts_ok_ ? ts_option_space : 0;
        snd_mss_ = std::min(snd_mss_, std::max<std::uint32_t>(536, mss) - opt);
        cc_.set_mss(snd_mss_);
    }
    /// Both ends agreed on timestamps (RFC 7323) / SACK (RFC 2018).
    [[nodiscard]] bool timestamps_enabled() const noexcept { return ts_ok_; }
    [[nodiscard]] bool sack_enabled() const noexcept { return sack_ok_; }
    /// Our TSval at `now`, and TS.Recent (the peer's TSval we echo).
    [[nodiscard]] std::uint32_t tsval_at(instant now) const noexcept { return tsval(now); }
    [[nodiscard]] std::uint32_t ts_recent() const noexcept { return ts_recent_; }

private:
    // ------------------------------------------------------------------ the state machine

    void transition(instant now, event e) {
        const auto row = find_transition(state_, e);
        if (!row) return; // the table does not allow e here: nothing happens (and nothing breaks)
        const std::uint16_t a = row->actions;
        if ((a & (act::send_syn | act::send_syn_ack)) != 0) syn_pending_ = true;
        if ((a & act::send_ack) != 0) ack_now_ = true;
        if ((a & act::send_fin) != 0) queue_fin();
        if ((a & act::fail) != 0) error_ = error_for(e);
        if ((a & act::send_rst) != 0) queue_abort_reset();
        if ((a & act::start_2msl) != 0) enter_time_wait(now);
        if ((a & act::start_fin_timeout) != 0 && orphaned_) start_fin_wait_2_timer(now);
        if ((a & act::release) != 0) release();
        set_state(row->to, e);
    }

    void set_state(state to, event why) {
        const state from = state_;
        state_ = to;
        if (observer_.fn != nullptr) observer_.fn(observer_.ctx, from, to, why);
        waker_.wake();
    }

    [[nodiscard]] errc error_for(event e) const noexcept {
        if (fail_with_ != errc::ok) return fail_with_;
        switch (e) {
        case event::rcv_rst: return state_ == state::syn_sent ? errc::connection_refused : errc::connection_reset;
        case event::user_abort:
        case event::user_close: return errc::aborted;
        default: return soft_error_ != errc::ok ? soft_error_ : errc::timed_out; // Linux: sk_err_soft ?: ETIMEDOUT
        }
    }

    /// ICMP errors matter from our SYN until TIME-WAIT (which has nothing left to send).
    [[nodiscard]] bool takes_icmp() const noexcept {
        return state_ != state::closed && state_ != state::listen && state_ != state::time_wait;
    }

    /// RFC 5927 4.1: `seq` is in [SND.UNA, SND.MAX), i.e. it numbers something we sent that is
    /// still unacknowledged (our SYN included while it is).
    [[nodiscard]] bool quotes_unacknowledged(seq32 seq) const noexcept { return snd_una_ <= seq && seq < snd_max_; }

    /// After a smaller path MTU: go back to SND.UNA and send everything again in segments of the
    /// new MSS, as cwnd and the peer's window allow (the old segments never arrived: they are not
    /// in flight). Karn's rule: nothing resent is timed. Like the go-back after an RTO but without
    /// its congestion response: until the old flight is acknowledged (rto_recover_), what RACK
    /// finds lost in it does not start fast recovery - the router dropped it for its size.
    void resend_after_mtu_drop(instant now) {
        if (snd_una_ == snd_max_) return;
        snd_nxt_ = snd_una_;
        high_rxt_ = snd_una_;
        rtt_timing_ = false;
        if (!in_recovery_) rto_recover_ = snd_max_;
        if (rtx_deadline_.is_never()) {
            rtx_deadline_ = now + rtt_.rto();
            stall_start_ = now;
        }
    }

    // ------------------------------------------------------------------ setup

    void init_send_space(seq32 iss) {
        iss_ = iss;
        snd_una_ = iss;
        snd_nxt_ = iss;
        snd_max_ = iss;
        cwnd_usage_seq_ = iss;
        rack_.reset(iss + 1);
        restart_congestion_control();
        // RFC 7323 5.4 / 7.1: a per-connection offset, so TSval does not reveal the host's clock.
        // The ISN is already an unpredictable per-connection number (RFC 6528); reuse it.
        ts_offset_ = iss.value();
    }

    /// A fresh model of the connection's algorithm with the initial window for the current MSS.
    void restart_congestion_control() noexcept {
        cc_ = congestion_controller(cc_.algorithm(), snd_mss_, cfg_->initial_cwnd_segments * snd_mss_, cfg_->hystart_detect);
    }

    /// Takes the peer's SYN: IRS, RCV.NXT and its options (RFC 9293 3.10.7.2/3; RFC 7323 2.2).
    void take_syn(instant now, const wire::tcp_repr& syn) {
        irs_ = syn.seq;
        rcv_nxt_ = syn.seq + 1;
        last_ack_sent_ = rcv_nxt_;
        peer_syn_seen_ = true;
        if (syn.options.mss) snd_mss_ = std::max<std::uint32_t>(64, std::min<std::uint32_t>(*syn.options.mss, cfg_->mss));
        else snd_mss_ = std::min<std::uint32_t>(536, cfg_->mss);
        snd_mss_ = std::min(snd_mss_, std::max(path_mtu_, min_path_mtu) - 40); // an ICMP may have come first
        // RFC 7323 3.2 / RFC 2018 2: an option is used only if both SYNs carry it (ours carried
        // it iff the config offers it). Timestamps take 12 bytes of every header from the payload
        // (Linux: mss_cache = mss - TCPOLEN_TSTAMP_ALIGNED).
        ts_ok_ = cfg_->timestamps && syn.options.timestamps.has_value();
        if (ts_ok_) {
            ts_recent_ = syn.options.timestamps->value;
            ts_recent_sec_ = stamp_sec(now);
            snd_mss_ -= ts_option_space;
        }
        sack_ok_ = cfg_->sack && syn.options.sack_permitted;
        if (syn.options.window_scale && cfg_->window_scaling) {
            snd_wscale_ = *syn.options.window_scale;
            wscale_ok_ = true;
        } else {
            snd_wscale_ = 0;
            rcv_wscale_ = 0;
        }
        snd_wnd_ = syn.window; // a window in a SYN is never scaled (RFC 7323 2.2)
        max_snd_wnd_ = snd_wnd_;
        snd_wl1_ = syn.seq;
        snd_wl2_ = syn.ack;
        restart_congestion_control();
        // the window our SYN or SYN-ACK offers is unscaled (RFC 7323 2.2)
        rcv_adv_ = rcv_nxt_ + static_cast<std::uint32_t>(std::min<std::size_t>(rcv_buf_.free_space(), 0xFFFF));
    }

    [[nodiscard]] static std::uint8_t wscale_for(std::size_t capacity) noexcept {
        std::uint8_t s = 0;
        while (s < wire::tcp_max_window_scale && (capacity >> s) > 0xFFFF) ++s;
        return s;
    }

    // ------------------------------------------------------------------ SYN-SENT (RFC 9293 3.10.7.3)

    void on_segment_syn_sent(instant now, const wire::tcp_repr& seg) {
        const bool has_ack = seg.has(tcp_flags::ack);
        // first: the ACK must acknowledge our SYN and nothing beyond it
        if (has_ack && (seg.ack <= iss_ || seg.ack > snd_max_)) {
            if (!seg.has(tcp_flags::rst)) reply_reset(seg);
            return;
        }
        // second: RST, acceptable only with an acceptable ACK
        if (seg.has(tcp_flags::rst)) {
            if (has_ack) transition(now, event::rcv_rst); // connection refused
            return;
        }
        // fourth: SYN
        if (!seg.has(tcp_flags::syn)) return;
        take_syn(now, seg);
        if (has_ack) {
            ack_our_syn(now, seg);
            transition(now, event::rcv_syn_ack);
        } else {
            transition(now, event::rcv_syn); // simultaneous open
        }
    }

    /// Our SYN is acknowledged: SND.UNA advances past it and the window comes from this segment.
    void ack_our_syn(instant now, const wire::tcp_repr& seg) {
        syn_acked_ = true;
        lrcv_ms_ = stamp_ms(now); // a reply sent soon after the open is interactive (note_data_sent)
        syn_pending_ = false;
        snd_una_ = seg.ack;
        if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
        if (rtx_count_ == 0 && rtt_timing_) take_rtt_sample(now, now - rtt_start_);
        else if (const auto r = rtt_from_echo(now, seg)) take_rtt_sample(now, *r); // RFC 7323 4.1: SYN resent too
        // RFC 6298 5.7: if the SYN had to be retransmitted (so Karn's rule left us without a
        // sample), start data transfer with an RTO of at least 3 s.
        if (rtx_count_ > 0 && !rtt_.has_sample() && cfg_->rto_initial < duration::seconds(3))
            rtt_ = rtt_estimator(
                rtt_config{duration::seconds(3), cfg_->rto_min, cfg_->rto_max, duration::millis(1)});
        rtt_timing_ = false;
        // RFC 5681 3.1: after a lost SYN or SYN-ACK the first window is one segment; as Linux
        // (tcp_init_transfer), given the 1 s initial RTO, only after more than one retransmission
        if (rtx_count_ > 1) cc_.set_cwnd(snd_mss_);
        rtx_count_ = 0;
        rtt_.reset_backoff();
        rtx_deadline_ = instant::never();
        const std::uint32_t w = seg.has(tcp_flags::syn) ? seg.window : std::uint32_t{seg.window} << snd_wscale_;
        snd_wnd_ = w;
        max_snd_wnd_ = std::max(max_snd_wnd_, w);
        snd_wl1_ = seg.seq;
        snd_wl2_ = seg.ack;
        arm_keepalive(now);
    }

    // ------------------------------------------------------------------ TIME-WAIT

    void on_segment_time_wait(instant now, const wire::tcp_repr& seg) {
        switch (classify_in_time_wait(to_time_wait_record(), seg)) {
        case time_wait_verdict::drop:
            if (seg.has(tcp_flags::rst)) transition(now, event::rcv_rst); // RFC 1337: stays in TIME_WAIT
            break;
        case time_wait_verdict::ack:
        case time_wait_verdict::new_incarnation: ack_invalid(now, seg); break; // no listener took it
        case time_wait_verdict::ack_and_restart: transition(now, event::rcv_fin); break;
        }
    }

    // ------------------------------------------------------------------ other states (RFC 9293 3.10.7.4)

    /// The part of an arriving segment inside the receive window (after step 1's trimming).
    struct trimmed {
        seq32 seq;
        std::span<const std::uint8_t> payload;
        bool fin = false;
        bool beyond_window = false; ///< a tail beyond the window was cut off (e.g. a zero-window probe's byte)
    };

    void on_segment_synchronized(instant now, const wire::tcp_repr& seg) {
        if (state_ == state::syn_rcvd && seg.has(tcp_flags::syn) && seg.seq == irs_) {
            if (!seg.has(tcp_flags::ack)) {
                syn_pending_ = true; // the peer retransmitted its SYN: our SYN-ACK was lost
                return;
            }
            if (seg.ack == iss_ + 1) { // simultaneous open: the peer's SYN-ACK completes it
                // If our SYN-ACK has not gone out yet, nothing of ours acknowledges the peer's
                // SYN: ACK it now, or the peer sits in SYN_RCVD until its retransmission timer.
                const bool our_syn_ack_unsent = syn_pending_;
                ack_our_syn(now, seg);
                enter_established(now);
                if (our_syn_ack_unsent) ack_now_ = true;
                return;
            }
        }
        if (paws_rejects(now, seg)) {
            ++stats_.paws_drops;
            ack_invalid(now, seg);
            note_duplicate(seg); // an old copy of data we have: a D-SACK (Linux's tcp_send_dupack)
            return;
        }
        const auto t = check_sequence(seg);
        if (!t) {
            if (!seg.has(tcp_flags::rst)) {
                ack_invalid(now, seg);
                note_duplicate(seg);
                // data we already have: the peer resent it, so our ACK came too late or was lost
                if (!seg.payload.empty() && seg.seq < rcv_nxt_) enter_quick_ack_mode();
            }
            ++stats_.dropped_out_of_window;
            return;
        }
        note_duplicate(seg); // partly old: the old part is a D-SACK
        if (t->beyond_window && !seg.has(tcp_flags::rst)) ack_now_ = true; // the sender learns our window at once
        if (seg.has(tcp_flags::rst)) return on_rst(now, seg);
        if (seg.has(tcp_flags::syn)) return challenge_ack(now); // RFC 5961 4.2: SYN in a synchronized state
        if (!seg.has(tcp_flags::ack)) return;
        if (state_ == state::syn_rcvd && !on_ack_in_syn_rcvd(now, seg)) return;
        const bool fin_now = t->fin && t->seq == rcv_nxt_;
        if (!on_ack(now, seg, fin_now)) return;
        if (state_ == state::closed || state_ == state::time_wait) return;
        if (receives_data_in(state_)) accept_text(now, *t);
        if (state_ == state::closed) return; // accept_text may abort an orphaned connection
        if (t->fin) rcv_fin_seq_ = t->seq + static_cast<std::uint32_t>(t->payload.size());
        if (rcv_fin_seq_ && *rcv_fin_seq_ == rcv_nxt_) on_fin(now);
    }

    /// Step 1: is the segment acceptable (the four cases of RFC 9293 3.10.7.4)? If so, trim it to
    /// the window. With a zero window a segment at RCV.NXT is accepted with its text cut off: a bare
    /// FIN needs no buffer, and the ACK, window and SACK of a zero-window probe are used ("special
    /// allowance should be made to accept valid ACKs, URGs, and RSTs"; Linux's tcp_sequence).
    [[nodiscard]] std::optional<trimmed> check_sequence(const wire::tcp_repr& seg) const noexcept {
        const std::uint32_t wnd = rcv_wnd();
        const std::uint32_t len = seg.segment_length();
        const bool ok = wnd == 0 ? seg.seq == rcv_nxt_
                        : len == 0 ? in_window(seg.seq, rcv_nxt_, wnd)
                                   : (in_window(seg.seq, rcv_nxt_, wnd) || in_window(seg.seq + (len - 1), rcv_nxt_, wnd));
        if (!ok) return std::nullopt;
        trimmed t{seg.seq, seg.payload, seg.has(tcp_flags::fin)};
        if (seg.has(tcp_flags::syn)) t.seq += 1; // the SYN itself occupies the first number
        if (t.seq < rcv_nxt_) {                  // drop what we already have
            const auto skip = static_cast<std::size_t>(rcv_nxt_ - t.seq);
            if (skip > t.payload.size()) {
                t.payload = {};
                t.seq = rcv_nxt_;
            } else {
                t.payload = t.payload.subspan(skip);
                t.seq = rcv_nxt_;
            }
        }
        const auto room = static_cast<std::size_t>(static_cast<std::uint32_t>((rcv_nxt_ + wnd) - t.seq));
        if (t.payload.size() > room) { // beyond the window: drop the tail, and the FIN with it
            t.payload = t.payload.first(room);
            t.fin = false;
            t.beyond_window = true;
        }
        return t;
    }

    /// Step 2 with RFC 5961 3.2: only a RST exactly at RCV.NXT resets; any other in-window RST
    /// earns a challenge ACK, so a blind attacker must guess the exact number.
    void on_rst(instant now, const wire::tcp_repr& seg) {
        if (seg.seq != rcv_nxt_) return challenge_ack(now);
        transition(now, event::rcv_rst);
    }

    void challenge_ack(instant now) {
        if (ack_rate_limited(now)) return;
        ++stats_.challenge_acks;
        ack_now_ = true;
    }

    /// An ACK for a segment dropped as invalid, throttled (invalid_segment_ack_allowed).
    void ack_invalid(instant now, const wire::tcp_repr& seg) {
        if (invalid_segment_ack_allowed(oow_ack_ms_, seg, now, cfg_->invalid_ratelimit)) ack_now_ = true;
    }

    /// RFC 5961 7: true if an ACK for an invalid segment already went out within invalid_ratelimit
    /// (then this one is skipped); else notes that one goes out now.
    [[nodiscard]] bool ack_rate_limited(instant now) noexcept {
        return !rate_limit_allows(oow_ack_ms_, now, cfg_->invalid_ratelimit);
    }

    /// Step 5 in SYN_RCVD: an ACK of our SYN-ACK completes the passive open; any other ACK is
    /// answered with <SEQ=SEG.ACK><CTL=RST>.
    bool on_ack_in_syn_rcvd(instant now, const wire::tcp_repr& seg) {
        if (seg.ack <= snd_una_ || seg.ack > snd_max_) {
            reply_reset(seg);
            return false;
        }
        ack_our_syn(now, seg);
        enter_established(now);
        return true;
    }

    /// SYN_RCVD -> ESTABLISHED; a CLOSE that came in SYN_RCVD takes effect now (FIN_WAIT_1).
    void enter_established(instant now) {
        transition(now, event::rcv_ack_of_syn);
        if (fin_queued_ && state_ == state::established) transition(now, event::user_close);
    }

    /// Step 5 (ACK) for the synchronized states. Returns false if the segment must be dropped.
    bool on_ack(instant now, const wire::tcp_repr& seg, bool fin_now) {
        if (seg.ack > snd_max_) { // acknowledges something not yet sent
            ack_invalid(now, seg);
            return false;
        }
        if (seg.ack < snd_una_ - max_snd_wnd_ && max_snd_wnd_ > 0) { // RFC 5961 5.2: too old
            challenge_ack(now);
            return false;
        }
        // Only now, with the RST, SYN and ACK checks passed: a segment those checks drop must not
        // move TS.Recent, or one forged in-window segment with a far-future TSval would make PAWS
        // drop everything the peer sends after it (Linux updates it in tcp_ack for this reason).
        // Keepalive's idle clock likewise (Linux's rcv_tstamp): a stale or forged segment must
        // not keep a dead peer's connection alive.
        update_ts_recent(now, seg);
        note_activity(now);
        const bool window_changed = update_send_window(seg);
        // PRR's DeliveredData (RFC 6937): the growth of SND.UNA plus what is SACKed above it
        const seq32 una_before = snd_una_;
        const std::uint32_t sacked_before = board_.empty() ? 0 : board_.sacked_bytes();
        const bool dsack = rack_enabled() && rack_begin_ack(now, seg);
        const bool sacked_new = take_sack_blocks(now, seg);
        if (seg.ack > snd_una_) {
            on_new_ack(now, seg);
        } else {
            // Linux's pkts_acked runs on every ACK: what a SACK newly delivered gives congestion
            // control (HyStart) an RTT sample too, before loss detection
            if (sacked_new && rack_enabled())
                cc_.on_sample({rack_.ack_rtt(now), rtt_.srtt(), snd_una_, snd_max_, in_recovery_}, now);
            const bool pure_duplicate = seg.ack == snd_una_ && !sacked_new && seg.payload.empty() &&
                                        !seg.has(tcp_flags::fin) && !window_changed;
            if (seg.ack == snd_una_ && snd_max_ > snd_una_ && (sacked_new || pure_duplicate))
                on_duplicate_ack(now); // RFC 6675 2: an ACK that SACKs new data counts even with a window change
            if (tlp_end_) on_ack_for_probe(now, seg.ack, pure_duplicate);
        }
        const unsigned newly_lost = rack_enabled() ? rack_end_ack(now, dsack) : 0;
        if (sack_recovery()) {
            // (negative when a full scoreboard forgot its highest range to hold a new one: then
            // this ACK tells PRR nothing)
            const std::int64_t delivered = std::int64_t{static_cast<std::uint32_t>(snd_una_ - una_before)} +
                                           (board_.empty() ? 0 : board_.sacked_bytes()) - sacked_before;
            if (delivered > 0) prr_update(static_cast<std::uint32_t>(delivered), una_before < snd_una_, newly_lost > 0);
        }
        probes_out_ = 0;
        if (observer_.cc != nullptr) [[unlikely]]
            note_ack_cc(now, una_before);
        const bool fin_acked = our_fin_acked();
        switch (state_) {
        case state::fin_wait_1:
            if (fin_acked && !fin_now) transition(now, event::rcv_ack_of_fin);
            break;
        case state::closing:
            if (fin_acked) transition(now, event::rcv_ack_of_fin);
            break;
        case state::last_ack:
            if (fin_acked) transition(now, event::rcv_ack_of_fin);
            break;
        default: break;
        }
        return true;
    }

    /// RFC 9293 3.10.7.4 step 5: SND.WND comes from the newest segment (SND.WL1/SND.WL2 order).
    bool update_send_window(const wire::tcp_repr& seg) {
        if (!(snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= seg.ack))) return false;
        const std::uint32_t w = std::uint32_t{seg.window} << snd_wscale_;
        const bool changed = w != snd_wnd_;
        const bool opened = snd_wnd_ == 0 && w > 0;
        snd_wnd_ = w;
        snd_wl1_ = seg.seq;
        snd_wl2_ = seg.ack;
        max_snd_wnd_ = std::max(max_snd_wnd_, w);
        if (opened) {
            persist_deadline_ = instant::never();
            persist_backoff_ = 0;
        }
        return changed;
    }

    void on_new_ack(instant now, const wire::tcp_repr& seg) {
        const seq32 ack = seg.ack;
        auto acked = static_cast<std::uint32_t>(ack - snd_una_);
        const std::uint32_t flight_before = static_cast<std::uint32_t>(snd_max_ - snd_una_);
        if (fin_sent() && ack == *fin_seq_ + 1) --acked; // the FIN occupies one number, not a byte
        snd_buf_.consume(std::min<std::size_t>(acked, snd_buf_.size()));
        snd_una_ = ack;
        if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
        rack_.on_una(snd_una_);
        if (rto_recover_ && !(snd_una_ < *rto_recover_)) { // RTO recovery is over (RFC 8985 6.2 step 4)
            rto_recover_.reset();
            if (rack_enabled()) rack_.on_recovery_exit();
        }
        // Karn's rule (RFC 6298 3): time only segments that were never retransmitted. The backed-
        // off RTO stays until such a sample collapses it (RFC 6298 5.3 and the note after 5.7;
        // Linux: "only reset backoff on valid RTT measurement"), so no reset_backoff() here.
        // With timestamps (RFC 7323 4.1) every ACK that advances SND.UNA gives a sample, also for
        // retransmitted data (so it ends the backoff); the timed segment, when it is covered, gives
        // a finer one (microseconds, not TSval's milliseconds).
        std::optional<duration> sample;
        if (rtt_timing_ && ack > rtt_seq_) {
            sample = now - rtt_start_;
            rtt_timing_ = false;
        } else {
            sample = rtt_from_echo(now, seg);
        }
        if (sample) take_rtt_sample(now, *sample);
        cc_.on_sample({congestion_rtt(now, sample), rtt_.srtt(), snd_una_, snd_max_, in_recovery_}, now);
        rtx_count_ = 0;
        soft_error_ = errc::ok; // new data got through: an earlier ICMP error is moot (Linux: sk_err_soft = 0)
        // RFC 6582 3.2 step 5, the "impatient" variant: in NewReno recovery only the first partial
        // ACK restarts the timer, so that an RTO and slow start take over when many segments are lost
        const bool later_partial = in_recovery_ && !sack_ok_ && ack < recover_ && partial_acks_++ > 0;
        if (snd_una_ == snd_max_) rtx_deadline_ = instant::never();
        else if (!later_partial) rtx_deadline_ = now + rtt_.rto();
        on_ack_for_probe(now, ack, false);
        arm_probe(now);
        stall_start_ = now;
        on_congestion_ack(now, ack, acked, flight_before); // (on_segment wakes the user: room to send)
    }

    /// The RTT sample congestion control gets for this ACK (HyStart's input): with RACK, the age of
    /// the most recently sent segment it newly delivered, in microseconds (as Linux's ca_rtt_us);
    /// else the RFC 6298 / RFC 7323 sample, except a timestamp sample of 0 ms, which says only that
    /// the RTT is under a millisecond. Without SACK and timestamps this is one sample per round
    /// trip (the timed segment), too few for HyStart's delay signal.
    [[nodiscard]] std::optional<duration> congestion_rtt(instant now, std::optional<duration> sample) const noexcept {
        if (rack_enabled()) return rack_.ack_rtt(now);
        if (sample && sample->us == 0) return std::nullopt;
        return sample;
    }

    // --- timestamps (RFC 7323) ---

    /// Our TSval at `now`: a 1 ms clock (RFC 7323 5.4 allows 1 ms..1 s per tick) plus the offset.
    [[nodiscard]] std::uint32_t tsval(instant now) const noexcept {
        return tsval_clock(now, ts_offset_);
    }

    /// RFC 7323 4.1: RTT = now - TSecr, for an ACK echoing one of our timestamps. TSecr 0 is
    /// taken as "no echo" (Linux does the same: a peer that echoes 0 has nothing to echo).
    [[nodiscard]] std::optional<duration> rtt_from_echo(instant now, const wire::tcp_repr& seg) const noexcept {
        if (!ts_ok_ || !seg.options.timestamps || seg.options.timestamps->echo == 0) return std::nullopt;
        const auto ms = static_cast<std::int32_t>(tsval(now) - seg.options.timestamps->echo);
        if (ms < 0) return std::nullopt; // an echo from the future is forged or broken
        return duration::millis(ms);
    }

    /// RFC 7323 5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is an old
    /// duplicate; drop it (and ACK). TS.Recent is valid only if it is under 24 days old (5.5).
    /// Segments without the option are accepted, as Linux does (7323 3.2 says SHOULD drop).
    [[nodiscard]] bool paws_rejects(instant now, const wire::tcp_repr& seg) const noexcept {
        if (!ts_ok_ || !seg.options.timestamps || seg.has(tcp_flags::rst)) return false;
        if (stamp_sec(now) - ts_recent_sec_ > paws_idle_seconds) return false;
        return static_cast<std::int32_t>(seg.options.timestamps->value - ts_recent_) < 0;
    }

    /// RFC 7323 4.3 / 5.3 R3: TS.Recent follows the TSval of segments that cover Last.ACK.sent,
    /// so the echo measures the RTT of the segment that advanced the window, not of a later one.
    void update_ts_recent(instant now, const wire::tcp_repr& seg) noexcept {
        if (!ts_ok_ || !seg.options.timestamps) return;
        const bool newer = static_cast<std::int32_t>(seg.options.timestamps->value - ts_recent_) >= 0;
        const bool stale = stamp_sec(now) - ts_recent_sec_ > paws_idle_seconds; // invalid: any value replaces it
        if ((newer || stale) && seg.seq <= last_ack_sent_) {
            ts_recent_ = seg.options.timestamps->value;
            ts_recent_sec_ = stamp_sec(now);
        }
    }

    /// RFC 2883: remembers the duplicate part of an arriving segment (below RCV.NXT) for the first
    /// SACK block of the next ACK.
    void note_duplicate(const wire::tcp_repr& seg) noexcept {
        if (!sack_ok_ || seg.payload.empty()) return;
        const seq32 b = seg.has(tcp_flags::syn) ? seg.seq + 1 : seg.seq;
        const seq32 e = b + static_cast<std::uint32_t>(seg.payload.size());
        if (!(b < rcv_nxt_)) return;
        dsack_ = wire::sack_block{b, seq_min(e, rcv_nxt_)};
        ack_now_ = true; // the sender learns of its spurious retransmission at once
    }

    /// RFC 2883: the same for bytes [offset, offset + len) past RCV.NXT that repeat bytes already
    /// queued out of order, wholly or in part, whether the segment itself lies beyond RCV.NXT or
    /// fills the hole at it: the lowest overlap is the D-SACK (Linux's tcp_data_queue_ofo and
    /// tcp_ofo_queue).
    void note_duplicate_queued(std::uint32_t offset, std::uint32_t len) noexcept {
        if (!sack_ok_) return;
        const std::uint32_t end = offset + len;
        for (const byte_range r : ooo_) { // (in order of offset)
            const std::uint32_t b = std::max(r.begin, offset);
            const std::uint32_t e = std::min(r.end, end);
            if (b < e) {
                dsack_ = wire::sack_block{rcv_nxt_ + b, rcv_nxt_ + e};
                ack_now_ = true;
                return;
            }
        }
    }

    // --- the SACK scoreboard and loss recovery (RFC 6675) ---

    /// Records the segment's SACK blocks; true if any octets were newly SACKed. With RACK, what a
    /// block newly SACKs is reported as delivered first (RFC 8985 6.2 steps 2 and 3).
    bool take_sack_blocks(instant now, const wire::tcp_repr& seg) noexcept {
        if (!sack_ok_ || !seg.has(tcp_flags::ack)) return false;
        const seq32 una = seq_max(snd_una_, seg.ack);
        board_.advance(una);
        bool fresh = false;
        for (const auto& b : seg.options.sack_blocks()) {
            if (tlp_end_ && b.right == *tlp_end_ && !(una < b.right)) tlp_dsacked_ = true; // the probe was a duplicate
            if (rack_enabled() && b.left < b.right && b.right <= snd_max_ && una < b.right) {
                board_.for_each_unsacked(seq_max(b.left, una), b.right,
                                         [&](seq32 l, seq32 r) { rack_.on_delivered(l, r, now, echo_on_our_clock(seg)); });
            }
            fresh = board_.add(b.left, b.right, una, snd_max_) || fresh;
        }
        return fresh;
    }

    // --- RACK (RFC 8985 6) ---

    [[nodiscard]] bool going_back() const noexcept { return snd_nxt_ < snd_max_; }

    /// An RTT sample for RFC 6298 and for RACK.min_RTT (RFC 8985 6.2 step 1).
    void take_rtt_sample(instant now, duration r) noexcept {
        rtt_.sample(r);
        rack_.on_rtt_sample(r, now);
    }

    /// The ACK's TSecr as milliseconds of our clock (TSval without its offset), if it echoes one.
    [[nodiscard]] std::optional<std::uint32_t> echo_on_our_clock(const wire::tcp_repr& seg) const noexcept {
        if (!ts_ok_ || !seg.options.timestamps || seg.options.timestamps->echo == 0) return std::nullopt;
        return seg.options.timestamps->echo - ts_offset_;
    }

    /// Before the scoreboard forgets what this ACK covers: reports the newly cumulatively
    /// acknowledged ranges (those not SACKed before) as delivered. Returns whether the ACK carries
    /// a D-SACK (RFC 2883 4: a first block below the ACK field or inside the second block).
    bool rack_begin_ack(instant now, const wire::tcp_repr& seg) noexcept {
        rack_.begin_ack();
        if (seg.ack > snd_una_)
            board_.for_each_unsacked(snd_una_, seg.ack, [&](seq32 l, seq32 r) __attribute__((always_inline)) {
                rack_.on_delivered(l, r, now, echo_on_our_clock(seg));
            });
        const auto blocks = seg.options.sack_blocks();
        if (blocks.empty()) return false;
        if (!(seg.ack < blocks[0].right)) return true;
        return blocks.size() > 1 && blocks[1].left <= blocks[0].left && blocks[0].right <= blocks[1].right;
    }

    /// After the ACK's other processing: the D-SACK step of RACK_update_reo_wnd, then loss detection.
    /// Returns how many segments RACK newly marked lost.
    unsigned rack_end_ack(instant now, bool dsack) {
        if (dsack) rack_.on_dsack(snd_max_);
        return rack_detect(now);
    }

    /// RACK.reo_wnd now (RFC 8985 6.2 step 4). "DupThresh segments SACKed" is RFC 6675's IsLost at
    /// SND.UNA: 3 discontiguous SACKed ranges, or more than 2 SMSS of SACKed octets.
    [[nodiscard]] duration rack_reo_wnd() const noexcept {
        const bool recovering = in_recovery_ || rto_recover_.has_value();
        return rack_.reo_wnd(recovering, board_.is_lost(snd_una_, snd_mss_), rtt_.srtt());
    }

    /// RACK_detect_loss_and_arm_timer (RFC 8985 6.2 step 5); a loss outside recovery starts fast
    /// recovery (not while an RTO's go-back is still being acknowledged: that is RTO recovery). The
    /// reorder timer takes precedence over the PTO (RFC 8985 8): one is armed, never both.
    unsigned rack_detect(instant now) {
        // nothing outstanding (the usual state after an ACK of everything): nothing to find
        const auto found = rack_.log().empty() ? rack::detection{} : rack_.detect_loss(now, rack_reo_wnd(), board_);
        stats_.rack_marked_lost += found.newly_lost;
        rack_deadline_ = found.wait ? now + *found.wait : instant::never();
        if (!rack_deadline_.is_never()) tlp_deadline_ = instant::never();
        if (!in_recovery_ && !rto_recover_ && rack_.any_lost(board_)) enter_fast_recovery(now);
        if (rack_deadline_.is_never() && tlp_deadline_.is_never() && !tlp_end_ && !tlp_pending_) arm_probe(now);
        return found.newly_lost;
    }

    [[nodiscard]] bool sack_recovery() const noexcept { return in_recovery_ && sack_ok_; }

    /// RFC 6675 4 SetPipe: the octets thought to be in the network. Per unSACKed segment between
    /// SND.UNA and SND.MAX: its length if not IsLost, plus its length again if retransmitted.
    [[nodiscard]] std::uint32_t pipe() const noexcept {
        if (rack_enabled()) return rack_.pipe(board_); // RACK's marks stand in for IsLost
        std::uint32_t n = 0;
        seq32 s = snd_una_;
        while (s < snd_max_) {
            if (const auto r = board_.containing(s)) {
                s = r->end;
                continue;
            }
            const seq32 hole_end = board_.next_sacked_after(s, snd_max_);
            const std::uint32_t len = std::min<std::uint32_t>(snd_mss_, static_cast<std::uint32_t>(hole_end - s));
            if (!board_.is_lost(s, snd_mss_)) n += len;
            if (s < high_rxt_) n += len;
            s += len;
        }
        return n;
    }

    /// RFC 6675 4 NextSeg rules 1 and 3: the first unSACKed range at or above HighRxt and below the
    /// highest SACKed octet (rule 1 also asks IsLost), at most one SMSS long.
    [[nodiscard]] std::optional<seq_range> next_hole(bool must_be_lost) const noexcept {
        if (board_.empty()) return std::nullopt;
        seq32 s = seq_max(high_rxt_, snd_una_);
        while (s < board_.highest()) {
            if (const auto r = board_.containing(s)) {
                s = r->end;
                continue;
            }
            const seq32 hole_end = board_.next_sacked_after(s, board_.highest());
            if (!must_be_lost || board_.is_lost(s, snd_mss_))
                return seq_range{s, s + std::min<std::uint32_t>(snd_mss_, static_cast<std::uint32_t>(hole_end - s))};
            return std::nullopt; // IsLost only gets weaker further up
        }
        return std::nullopt;
    }

    /// NextSeg rule 1: the first range deemed lost and not yet resent (RACK's marks, or IsLost).
    [[nodiscard]] std::optional<seq_range> lost_segment() const noexcept {
        return rack_enabled() ? rack_.first_lost(board_, snd_mss_) : next_hole(true);
    }
    /// NextSeg rule 3 (a hole not deemed lost); not used with RACK, whose timer decides instead.
    [[nodiscard]] std::optional<seq_range> rescue_segment() const noexcept {
        return rack_enabled() ? std::nullopt : next_hole(false);
    }

    /// RFC 6675 5 steps (4.3) and (C): the head first, then while cwnd - pipe >= 1 SMSS the
    /// segments NextSeg names - lost holes, then new data, then holes not yet deemed lost.
    template <class Emit>
    void send_recovery(instant now, Emit& emit) {
        std::uint32_t in_pipe = pipe();
        if (retransmit_head_) { // the fast retransmit goes whatever pipe says (RFC 6675 5 (4.3))
            retransmit_head_ = false;
            if (rack_enabled()) {
                if (const auto lost = lost_segment()) in_pipe += resend_range(now, emit, lost->begin, lost->len());
            } else {
                const std::uint32_t len = static_cast<std::uint32_t>(
                    board_.next_sacked_after(snd_una_, snd_una_ + std::min<std::uint32_t>(snd_mss_, snd_buf_.size())) - snd_una_);
                in_pipe += resend_range(now, emit, snd_una_, len);
            }
        }
        for (int guard = 0; guard < 1024 && cc_.cwnd() >= in_pipe + snd_mss_; ++guard) {
            std::uint32_t sent = 0;
            if (const auto hole = lost_segment()) {
                sent = resend_range(now, emit, hole->begin, hole->len());
            } else if (sent = send_new_segment(now, emit, true); sent > 0) {
            } else if (const auto maybe = rescue_segment()) {
                sent = resend_range(now, emit, maybe->begin, maybe->len());
            }
            if (sent == 0) return;
            in_pipe += sent;
        }
    }

    /// One past the last data byte ever sent (SND.MAX, or our FIN's number once the FIN went).
    [[nodiscard]] seq32 sent_data_end() const noexcept { return fin_sent() ? *fin_seq_ : snd_max_; }

    /// Retransmits [seq, seq + len) (with our FIN if it ends there); HighRxt moves past it.
    template <class Emit>
    std::uint32_t resend_range(instant now, Emit& emit, seq32 seq, std::uint32_t len) {
        const auto off = static_cast<std::size_t>(static_cast<std::uint32_t>(seq - data_base()));
        len = std::min({len, payload_mss(), static_cast<std::uint32_t>(sent_data_end() - seq)});
        len = static_cast<std::uint32_t>(std::min<std::size_t>(len, snd_buf_.size() > off ? snd_buf_.size() - off : 0));
        const bool fin = fin_sent() && seq + len == *fin_seq_;
        if (len == 0 && !fin) return 0;
        emit_data(now, emit, seq, off, len, fin);
        high_rxt_ = seq_max(high_rxt_, seq + len + (fin ? 1u : 0u));
        return std::max<std::uint32_t>(len, 1);
    }

    // --- tail loss probe (RFC 8985 7) ---

    /// RFC 8985 7.2: PTO = 2 SRTT, plus a worst-case delayed ACK (200 ms) when one segment is in
    /// flight; no later than the RTO, which the probe then replaces (as Linux does). Only
    /// with SACK, outside recovery, with an RTT sample and no probe of this episode outstanding.
    [[gnu::always_inline]] void arm_probe(instant now) noexcept {
        tlp_deadline_ = instant::never();
        if (!cfg_->tail_loss_probe || !sack_ok_ || in_recovery_ || tlp_end_ || snd_max_ == snd_una_ ||
            !rtt_.has_sample() || rtt_.backoffs() > 0 || snd_nxt_ < snd_max_ || !rack_deadline_.is_never())
            return; // (a pending RACK reorder timer takes precedence over the PTO: RFC 8985 8)
        duration pto = rtt_.srtt() * 2;
        // one segment out: the peer may be delaying its ACK; more: two ticks of slack (Linux's
        // TCP_TIMEOUT_MIN), so that a PTO is never zero however short the path
        pto += static_cast<std::uint32_t>(snd_max_ - snd_una_) <= snd_mss_ ? duration::millis(200) : duration::millis(2);
        tlp_deadline_ = earliest(now + pto, rtx_deadline_); // the probe may take the RTO's place (Linux)
    }

    /// RFC 8985 7.3: one new segment if the peer's window allows, else the last segment again.
    /// The RTO is re-armed from now; TLP.end_seq remembers the probe (one per episode).
    template <class Emit>
    void send_probe(instant now, Emit& emit) {
        tlp_pending_ = false;
        tlp_retrans_ = false;
        rtx_deadline_ = now + rtt_.rto();
        if (send_new_segment(now, emit, true) == 0) {
            const seq32 end = fin_sent() ? *fin_seq_ : snd_max_;
            const auto len = std::min<std::uint32_t>(payload_mss(), static_cast<std::uint32_t>(end - snd_una_));
            sending_probe_ = true;
            const std::uint32_t sent = resend_range(now, emit, end - len, len);
            sending_probe_ = false;
            if (sent == 0) return;
            tlp_retrans_ = true;
        }
        tlp_end_ = snd_max_;
        tlp_dsacked_ = false;
        ++stats_.tail_loss_probes;
    }

    /// RFC 8985 7.4.2 (Linux's tcp_process_tlp_ack), for every ACK at or beyond TLP.end_seq: a
    /// probe of new data, or one the peer reported as a duplicate (D-SACK), ends the episode with
    /// no loss; so does a pure duplicate ACK at TLP.end_seq (the original and the probe both
    /// arrived). Only an ACK beyond TLP.end_seq says the probe repaired a real loss: congestion
    /// control reacts once (7.6.2), from cwnd (as Linux's CWR). An ACK exactly at TLP.end_seq
    /// decides nothing: the D-SACK that tells a spurious probe may follow on the next one.
    void on_ack_for_probe(instant now, seq32 ack, bool pure_duplicate) noexcept {
        if (!tlp_end_ || ack < *tlp_end_) return;
        if (!tlp_retrans_ || tlp_dsacked_) return tlp_end_.reset();
        if (ack > *tlp_end_) {
            cc_.enter_recovery(cc_.cwnd(), now);
            cc_.exit_recovery(now);
            return tlp_end_.reset();
        }
        if (pure_duplicate) tlp_end_.reset();
    }

    // --- congestion control (RFC 5681; NewReno recovery RFC 6582) ---

    void on_congestion_ack(instant now, seq32 ack, std::uint32_t acked, std::uint32_t flight_before) {
        dupacks_ = 0;
        limited_bytes_ = 0;
        if (!in_recovery_) { // slow start or CA, per model; only when the window was in use
            if (cwnd_limited()) cc_.on_ack(acked, rtt_.srtt(), now);
            return;
        }
        const std::uint32_t cwnd = cc_.cwnd();
        const std::uint32_t ssthresh = cc_.ssthresh();
        if (ack >= recover_) { // full acknowledgement: leave recovery, deflate the window (RFC 6582 3.2 (3))
            in_recovery_ = false;
            if (rack_enabled()) rack_.on_recovery_exit();
            if (!sack_ok_) cc_.set_cwnd(std::min(ssthresh, std::max(flight_before - acked, snd_mss_) + snd_mss_));
            else cc_.set_cwnd(ssthresh); // the end of PRR's reduction (Linux's tcp_end_cwnd_reduction)
            cc_.exit_recovery(now);
        } else if (!sack_ok_) { // partial acknowledgement: the next hole is lost too; resend it at once
            retransmit_head_ = true;
            // RFC 6582 3.2 step 5: deflate by what it acknowledged, and add one SMSS back only if
            // that was at least one SMSS (at least one segment left the network)
            const std::uint32_t deflated = (cwnd > acked ? cwnd - acked : 0) + (acked >= snd_mss_ ? snd_mss_ : 0);
            cc_.set_cwnd(std::max(deflated, snd_mss_));
        } // with SACK, PRR sets cwnd once this ACK is processed (prr_update); send_recovery sends
          // what cwnd - pipe allows (RFC 6675)
    }

    /// Proportional Rate Reduction (RFC 6937, PRR-SSRB, as Linux's tcp_cwnd_reduction), once per
    /// ACK of a SACK recovery after loss detection: `delivered` bytes reached the receiver. While
    /// pipe is above ssthresh, what may be sent tracks prr_delivered * ssthresh / prior cwnd (whole
    /// segments, rounded up, as Linux counts packets), so the window comes down to ssthresh
    /// smoothly over the round trip instead of going silent and then bursting (RFC 6675 alone);
    /// below ssthresh it may catch up, by at most one segment more than was delivered, and by
    /// that one only when SND.UNA advanced and no new loss was found (Linux). cwnd becomes pipe
    /// plus that allowance; the recovery's first segment always goes.
    void prr_update(std::uint32_t delivered, bool una_advanced, bool newly_lost) noexcept {
        if (!cfg_->prr || delivered == 0 || prr_prior_cwnd_ == 0) return;
        prr_delivered_ += delivered;
        const std::uint32_t in_pipe = pipe();
        const std::uint32_t ssthresh = cc_.ssthresh();
        const auto whole_segments = [this](std::int64_t bytes) { // Linux counts packets: round up
            return bytes <= 0 ? bytes : (bytes + snd_mss_ - 1) / snd_mss_ * snd_mss_;
        };
        std::int64_t sndcnt = 0;
        if (in_pipe > ssthresh) {
            const std::uint64_t share = (std::uint64_t{prr_delivered_} * ssthresh + prr_prior_cwnd_ - 1) / prr_prior_cwnd_;
            sndcnt = whole_segments(static_cast<std::int64_t>(share)) - prr_out_;
        } else {
            std::int64_t limit = whole_segments(std::max<std::int64_t>(std::int64_t{prr_delivered_} - prr_out_, delivered));
            if (una_advanced && !newly_lost) limit += snd_mss_;
            sndcnt = std::min<std::int64_t>(std::int64_t{ssthresh} - in_pipe, limit);
        }
        if (prr_out_ == 0) sndcnt = std::max<std::int64_t>(sndcnt, snd_mss_); // the fast retransmit goes
        sndcnt = std::clamp<std::int64_t>(sndcnt, 0, UINT32_MAX - std::int64_t{in_pipe});
        cc_.set_cwnd(in_pipe + static_cast<std::uint32_t>(sndcnt));
    }

    void on_duplicate_ack(instant now) {
        ++dupacks_;
        if (in_recovery_) {
            if (!sack_ok_) cc_.set_cwnd(cc_.cwnd() + snd_mss_); // one more segment left the network
        } else if (!rack_enabled() && !rto_recover_ &&
                   (dupacks_ == 3 || (sack_ok_ && board_.is_lost(snd_una_, snd_mss_)))) {
            // fast retransmit (RFC 5681 3.2); with SACK, RFC 6675 5 step (4): also when the
            // scoreboard says the head is lost before the third duplicate. (With RACK, its loss
            // marks start recovery instead: rack_detect.) Not while the data outstanding at an RTO
            // is being acknowledged (RFC 6675 5.1 RecoveryPoint, RFC 6582 3.2 step 1 "recover"):
            // that would reduce again, from a FlightSize the go-back has not even resent.
            enter_fast_recovery(now);
        }
    }

    /// Fast retransmit and the start of fast recovery (RFC 5681 3.2, RFC 6582, RFC 6675 5 (4)):
    /// one reduction, RecoveryPoint = SND.MAX, the first lost segment resent at once.
    void enter_fast_recovery(instant now) {
        // RFC 5681 3.2 step 2: what limited transmit sent is not part of this FlightSize
        auto flight = static_cast<std::uint32_t>(snd_max_ - snd_una_);
        flight -= std::min(flight, limited_bytes_);
        limited_bytes_ = 0;
        prr_prior_cwnd_ = cc_.cwnd();
        prr_delivered_ = 0;
        prr_out_ = 0;
        cc_.enter_recovery(flight, now); // cwnd = ssthresh = (NewReno) flight / 2, (CUBIC) flight * 0.7
        // (with SACK, PRR then sets cwnd on each ACK of the recovery, this one included: prr_update)
        if (!sack_ok_) cc_.set_cwnd(cc_.ssthresh() + 3 * snd_mss_); // RFC 6582 inflation; RFC 6675 uses pipe
        high_rxt_ = snd_una_;
        tlp_deadline_ = instant::never();
        tlp_end_.reset(); // recovery repairs what a probe found; no second reduction for the probe
        recover_ = snd_max_;
        in_recovery_ = true;
        partial_acks_ = 0;
        retransmit_head_ = true;
        rtt_timing_ = false;
        ++stats_.fast_retransmits;
        if (observer_.cc != nullptr) [[unlikely]]
            note_cc(now, cc_sample::kind::recovery, flight, 0);
    }

    [[gnu::cold, gnu::noinline]] void note_ack_cc(instant now, seq32 una_before) const {
        note_cc(now, cc_sample::kind::ack, static_cast<std::uint32_t>(snd_max_ - una_before),
                static_cast<std::uint32_t>(snd_una_ - una_before));
    }
    void note_cc(instant now, cc_sample::kind what, std::uint32_t flight, std::uint32_t acked) const {
        observer_.cc(observer_.ctx, cc_sample{what, now, flight, acked, cc_.cwnd(), cc_.ssthresh(), in_recovery_});
    }

    /// Congestion window validation (RFC 7661's aim, Linux's rule, tcp_is_cwnd_limited): cwnd
    /// grows only if the sender used it. In the window of data last sent, either a transmission
    /// found no room for another full segment, or (slow start) cwnd is below twice the most that
    /// was in flight. An application that sends less than cwnd per round trip, such as a request/
    /// response exchange, leaves cwnd where it is instead of inflating it without bound (and then
    /// bursting a huge window into the network when it does have data).
    [[nodiscard]] bool cwnd_limited() const noexcept {
        if (cwnd_limited_) return true;
        return cc_.cwnd() < cc_.ssthresh() && cc_.cwnd() < 2 * max_flight_;
    }

    /// Linux's tcp_cwnd_validate, after data was sent: remembers, for the window now in flight
    /// (until SND.UNA reaches cwnd_usage_seq_), whether cwnd limited it and the most in flight.
    void note_cwnd_use() noexcept {
        const auto flight = static_cast<std::uint32_t>(snd_max_ - snd_una_);
        const bool limited = flight + snd_mss_ > cc_.cwnd();
        if (!(snd_una_ < cwnd_usage_seq_) || limited || (!cwnd_limited_ && flight > max_flight_)) {
            cwnd_limited_ = limited;
            max_flight_ = flight;
            cwnd_usage_seq_ = snd_max_;
        }
    }

    /// RFC 3042 limited transmit: on the first two duplicate ACKs, one more segment of new data
    /// each may go beyond cwnd (never beyond the peer's window; cwnd itself is unchanged).
    [[nodiscard]] std::uint32_t limited_transmit_room(seq32 nxt) const noexcept {
        if (in_recovery_ || dupacks_ == 0 || nxt < snd_max_) return 0;
        return std::min(dupacks_, 2u) * snd_mss_;
    }

    // --- receiving data (step 7) and FIN (step 8) ---

    void accept_text(instant now, const trimmed& t) {
        if (t.payload.empty()) return;
        if (orphaned_) { // nobody will ever read this: reset, as Linux does ("abort on data")
            abort(now);
            return;
        }
        // the peer's full size, for "every second full-sized segment": at most the MSS we offered, so
        // that a link's GSO super-frame (many segments in one) does not stretch the ACKs (Linux:
        // tcp_measure_rcv_mss, rcv_mss = min(len, advmss))
        rcv_mss_ = std::max(rcv_mss_, std::min<std::uint32_t>(static_cast<std::uint32_t>(t.payload.size()), cfg_->mss));
        const auto offset = static_cast<std::uint32_t>(t.seq - rcv_nxt_);
        if (offset > 0) { // out of order: park it in the ring's free space, ACK at once (RFC 5681 4.2)
            note_duplicate_queued(offset, static_cast<std::uint32_t>(t.payload.size()));
            const std::size_t w = rcv_buf_.write_at(offset, t.payload);
            if (w == t.payload.size()) ooo_.add(offset, static_cast<std::uint32_t>(w));
            ack_now_ = true;
            if (dupacks_owed_ < max_dupacks_per_poll) ++dupacks_owed_;
            return;
        }
        const bool filled_hole = !ooo_.empty();
        if (filled_hole) note_duplicate_queued(0, static_cast<std::uint32_t>(t.payload.size()));
        const auto n = static_cast<std::uint32_t>(rcv_buf_.write(t.payload));
        advance_rcv_nxt(n);
        if (filled_hole) {
            ooo_.advance(n);
            if (const std::uint32_t more = ooo_.contiguous_at_start(); more > 0) {
                rcv_buf_.commit(more);
                advance_rcv_nxt(more);
                ooo_.advance(more);
            }
            ack_now_ = true;
        }
        note_data_received(now);
        schedule_ack(now, n); // (on_segment wakes the user: data to read)
    }

    /// Linux's quick ACK mode (tcp_event_data_recv, tcp_incr_quickack): the first data of a
    /// connection, and the first after a silence longer than the RTO, start a run of up to
    /// max_quick_acks (16) ACKs sent at once (fewer when the window holds fewer than 32
    /// segments), so that a sender in
    /// slow start, or restarting after idle, is not held back by delayed ACKs. The run does not
    /// apply while the connection is interactive (pingpong_): there the ACK waits to ride on
    /// the reply.
    void note_data_received(instant now) {
        const std::uint32_t ms = stamp_ms(now);
        const auto silence = duration::millis(static_cast<std::int64_t>(ms - lrcv_ms_));
        if (!data_received_ || (silence > cfg_->rto_min && silence > rtt_.rto())) add_quick_acks();
        data_received_ = true;
        lrcv_ms_ = ms;
    }
    void add_quick_acks() noexcept {
        std::uint32_t n = rcv_wnd() / (2 * std::max<std::uint32_t>(rcv_mss_, 1));
        n = std::min<std::uint32_t>(std::max(n, 2u), cfg_->max_quick_acks);
        quick_acks_ = static_cast<std::uint8_t>(std::max<std::uint32_t>(quick_acks_, n));
    }
    /// Linux's tcp_enter_quickack_mode: quick ACKs, and the connection no longer counts as interactive.
    void enter_quick_ack_mode() noexcept {
        add_quick_acks();
        pingpong_ = false;
    }
    /// Data sent within ack_delay of data received answers it: the connection is interactive, and
    /// its ACKs wait for the reply (Linux's tcp_event_data_sent and pingpong mode, threshold 1).
    void note_data_sent(instant now) noexcept {
        if (duration::millis(static_cast<std::int64_t>(stamp_ms(now) - lrcv_ms_)) < cfg_->ack_delay) pingpong_ = true;
    }

    void advance_rcv_nxt(std::uint32_t n) {
        rcv_nxt_ += n;
        stats_.bytes_in += n;
        if (rcv_adv_ < rcv_nxt_) rcv_adv_ = rcv_nxt_;
    }

    /// Delayed ACK (RFC 1122 4.2.3.2, RFC 5681 4.2): ACK at least every second full-sized segment,
    /// and within ack_delay otherwise.
    void schedule_ack(instant now, std::uint32_t bytes) {
        ack_pending_bytes_ += bytes;
        if (!cfg_->delayed_ack || ack_pending_bytes_ >= 2 * rcv_mss_ || (quick_acks_ > 0 && !pingpong_)) {
            ack_now_ = true;
        } else if (delack_deadline_.is_never()) {
            delack_deadline_ = now + cfg_->ack_delay;
        }
    }

    void on_fin(instant now) {
        rcv_nxt_ += 1;
        rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_);
        rcv_fin_seq_.reset();
        peer_fin_ = true;
        ack_now_ = true;
        if (state_ == state::fin_wait_1 && our_fin_acked()) transition(now, event::rcv_fin_ack_of_fin);
        else transition(now, event::rcv_fin); // ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2; ignored elsewhere
    }

    // ------------------------------------------------------------------ timers

    void on_timers(instant now) {
        if (rack_deadline_ <= now) { // the RACK reorder timer (RFC 8985 6.2 step 5)
            rack_deadline_ = instant::never();
            if (rack_enabled() && is_synchronized(state_)) {
                ++stats_.rack_timer_fires;
                const bool was_recovering = in_recovery_;
                rack_detect(now);
                // Linux (tcp_rack_reo_timeout): a recovery the timer starts reduces as if one
                // segment had been delivered, so that the fast retransmit goes
                if (!was_recovering && sack_recovery()) prr_update(snd_mss_, false, false);
            }
        }
        if (tlp_deadline_ <= now) {
            tlp_deadline_ = instant::never();
            if (!in_recovery_ && snd_max_ > snd_una_) {
                tlp_pending_ = true;
                rtx_deadline_ = instant::never(); // send_probe re-arms it from the probe
            }
        }
        if (state_deadline_ <= now) {
            state_deadline_ = instant::never();
            transition(now, state_ == state::time_wait ? event::timeout_2msl : event::timeout_fin_wait_2);
        }
        if (rtx_deadline_ <= now) on_retransmit_timeout(now);
        if (persist_deadline_ <= now) on_persist_timeout(now);
        if (keepalive_deadline_ <= now) on_keepalive_timeout(now);
        if (delack_deadline_ <= now) {
            delack_deadline_ = instant::never();
            ack_now_ = true;
            pingpong_ = false; // the reply did not come in time: ACK at once again (Linux's delack timer)
        }
    }

    /// RFC 6298 5.4-5.6, with the retry limits of tcp_syn_retries, tcp_synack_retries (counts),
    /// tcp_retries2, tcp_orphan_retries and TCP_USER_TIMEOUT (times: write_timed_out).
    void on_retransmit_timeout(instant now) {
        rtx_deadline_ = instant::never();
        if (snd_max_ == snd_una_ && !syn_in_flight()) return;
        if (!is_synchronized(state_)) {
            if (rtx_count_ >= (state_ == state::syn_sent ? cfg_->syn_retries : cfg_->synack_retries)) {
                transition(now, event::timeout_retransmit);
                return;
            }
        } else if (snd_wnd_ == 0 && !orphaned_) {
            // The peer shrank its window to zero under data in flight (Linux: "receiver dastardly
            // shrinks window"): the retransmission of the head is the zero-window probe (RFC 9293
            // 3.8.6, MUST-35), and the connection does not time out while the peer answers
            // (SHLD-17): only silence for a whole RTO of rto_max, or the user timeout, ends it.
            if ((probes_out_ > 0 && rtt_.rto() >= cfg_->rto_max) ||
                (has_user_timeout() && now - stall_start_ >= cfg_->user_timeout)) {
                transition(now, has_user_timeout() ? event::timeout_user : event::timeout_retransmit);
                return;
            }
            bump(probes_out_);
            retransmit_head_ = true; // whatever the window: it is the probe (SND.NXT goes back to
                                     // SND.UNA below, so all of it goes again once the window opens)
        } else if (rtx_count_ > 0 && write_timed_out(now, orphaned_ ? orphan_retries(rtt_.rto() < cfg_->rto_max) : cfg_->retries2)) {
            transition(now, has_user_timeout() ? event::timeout_user : event::timeout_retransmit);
            return;
        }
        bump(rtx_count_);
        ++stats_.timeouts;
        rtt_.backoff();
        rtt_timing_ = false;
        rack_deadline_ = instant::never();
        if (syn_in_flight()) {
            syn_pending_ = true;
        } else { // go back to SND.UNA with a loss window of one segment (RFC 5681 3.1)
            const std::uint32_t flight = rto_congestion_response(now);
            in_recovery_ = false;
            dupacks_ = 0;
            limited_bytes_ = 0;
            snd_nxt_ = snd_una_;
            // RFC 6675 5.1 leaves the scoreboard to us. The first RTO keeps it, so go-back-N skips
            // what the peer SACKed (as Linux does); a second RTO in a row clears it, in case the
            // receiver reneged (RFC 2018 8) and is waiting for data we think it holds.
            high_rxt_ = snd_una_;
            if (rtx_count_ > 1) board_.clear();
            rto_recover_ = snd_max_; // RTO recovery until this is acknowledged
            if (rack_enabled()) rack_.mark_lost_on_rto(now, rack_reo_wnd(), board_); // RFC 8985 6.3
            tlp_end_.reset();
            tlp_deadline_ = instant::never();
            rtx_deadline_ = now + rto_within_user_timeout(now);
            if (observer_.cc != nullptr) [[unlikely]]
                note_cc(now, cc_sample::kind::timeout, flight, 0);
            return;
        }
        rtx_deadline_ = now + rtt_.rto();
    }

    [[nodiscard]] bool has_user_timeout() const noexcept { return cfg_->user_timeout > duration::zero(); }

    /// Linux's tcp_model_timeout: how long `boundary` retransmissions take when the RTO starts at
    /// rto_min and doubles up to rto_max (15 from 200 ms: 924.6 s).
    [[nodiscard]] duration model_timeout(unsigned boundary) const noexcept {
        const std::int64_t max = cfg_->rto_max.us;
        std::int64_t rto = std::max<std::int64_t>(cfg_->rto_min.us, 1);
        std::int64_t total = 0;
        for (unsigned i = 0; i <= boundary; ++i) {
            if (rto >= max) { // linear from here on
                total += static_cast<std::int64_t>(boundary - i + 1) * max;
                break;
            }
            total += rto;
            rto *= 2;
        }
        return duration::micros(total);
    }

    /// Linux's retransmits_timed_out: the stall (unacknowledged data, or a zero window being probed)
    /// began at least the user timeout ago, or without one, as long ago as `boundary` backed-off
    /// retransmissions from rto_min would take.
    [[nodiscard]] bool write_timed_out(instant now, unsigned boundary) const noexcept {
        return now - stall_start_ >= (has_user_timeout() ? cfg_->user_timeout : model_timeout(boundary));
    }

    /// Linux's tcp_orphan_retries: the configured value, else 8 while the connection is alive (its
    /// RTO, or probe interval, below rto_max), and none once it is not and an ICMP error came.
    [[nodiscard]] unsigned orphan_retries(bool alive) const noexcept {
        unsigned r = cfg_->orphan_retries;
        if (soft_error_ != errc::ok && !alive) r = 0;
        if (r == 0 && alive) r = 8;
        return r;
    }

    /// The backed-off RTO, cut to what is left of the user timeout (Linux's
    /// tcp_clamp_rto_to_user_timeout), so that the connection times out on time.
    [[nodiscard]] duration rto_within_user_timeout(instant now) const noexcept {
        const duration rto = rtt_.rto();
        if (!has_user_timeout()) return rto;
        const duration left = cfg_->user_timeout - (now - stall_start_);
        return left <= duration::zero() ? duration::millis(1) : std::min(rto, left);
    }

    /// RFC 5681 3.1: cwnd = 1 SMSS, ssthresh = no more than max(FlightSize / 2, 2 SMSS), where the
    /// octets the peer SACKed have left the network and are not counted. ssthresh is held (a) on the
    /// second and later RTO for the same data (RFC 5681 3.1's implementation note) and (b) when the
    /// RTO cuts short a fast recovery that already reduced it for this window (never raised: the
    /// outstanding data can be many times cwnd then, Linux keeps it too).
    /// Returns the FlightSize at the timeout (what the first timeout of this data reduced from).
    std::uint32_t rto_congestion_response(instant now) {
        auto flight = static_cast<std::uint32_t>(snd_max_ - snd_una_);
        flight -= std::min(flight, board_.sacked_bytes());
        const std::uint32_t held = cc_.ssthresh();
        if (rtx_count_ > 1) { // the same data timed out again: only the loss window
            cc_.set_cwnd(snd_mss_);
        } else {
            cc_.on_rto(flight, now);
            if (in_recovery_ && cc_.ssthresh() > held) cc_.set_ssthresh(held);
        }
        return flight;
    }

    /// RFC 1122 4.2.2.17: probe a zero window, backing off up to rto_max; Linux's probe is a bare
    /// ACK with an old sequence number, which any live receiver answers with its current window.
    ///
    /// A peer that keeps answering keeps the connection (each ACK resets probes_out_), unless the
    /// user timeout runs out while the window stays zero, or the application has closed the
    /// connection and the probes have backed off to rto_max (Linux's tcp_probe_timer, which stops
    /// an orphan from being held forever by a receiver that never reads).
    void on_persist_timeout(instant now) {
        persist_deadline_ = instant::never();
        if (snd_wnd_ != 0 || snd_buf_.size() <= static_cast<std::size_t>(snd_nxt_ - data_base())) return;
        if (persist_backoff_ == 0) {
            stall_start_ = now; // the first probe of this zero window
        } else if (has_user_timeout() && now - stall_start_ >= cfg_->user_timeout) {
            transition(now, event::timeout_user);
            return;
        }
        unsigned max_probes = cfg_->retries2;
        if (orphaned_) {
            const bool alive = persist_interval() < cfg_->rto_max;
            max_probes = orphan_retries(alive);
            if (!alive && persist_backoff_ >= max_probes) {
                transition(now, event::timeout_retransmit);
                return;
            }
        }
        if (probes_out_ >= max_probes) {
            transition(now, event::timeout_retransmit);
            return;
        }
        bump(probes_out_);
        probe_pending_ = true;
        bump(persist_backoff_);
        arm_persist(now);
    }

    /// RFC 1122 4.2.3.6: after keepalive_idle without an acceptable segment, probe every
    /// keepalive_interval; keepalive_probes unanswered probes end the connection with a RST
    /// (Linux's tcp_keepalive_timer). With TCP_USER_TIMEOUT set, that replaces the probe count: the
    /// end comes at the first timer, after one probe at least, that finds the peer silent for the
    /// user timeout. While data waits to be sent or acknowledged the connection needs no probe (the
    /// retransmission or persist timer watches the peer): the timer only looks again an idle
    /// period later.
    void on_keepalive_timeout(instant now) {
        keepalive_deadline_ = instant::never();
        if (!cfg_->keepalive) return;
        if (snd_max_ != snd_una_ || snd_buf_.size() > 0) {
            keepalive_deadline_ = now + cfg_->keepalive_idle;
            return;
        }
        // silent since the last acceptable segment: the idle time and one interval per probe
        const duration silent = cfg_->keepalive_idle + cfg_->keepalive_interval * keepalive_sent_;
        if (has_user_timeout() ? keepalive_sent_ > 0 && silent >= cfg_->user_timeout
                               : keepalive_sent_ >= cfg_->keepalive_probes) {
            transition(now, event::timeout_keepalive);
            return;
        }
        bump(keepalive_sent_);
        probe_pending_ = true;
        keepalive_deadline_ = now + cfg_->keepalive_interval;
    }

    static void bump(std::uint16_t& counter) noexcept {
        if (counter < UINT16_MAX) ++counter;
    }

    void note_activity(instant now) {
        keepalive_sent_ = 0;
        arm_keepalive(now);
    }

    void arm_keepalive(instant now) {
        if (cfg_->keepalive && is_synchronized(state_) && state_ != state::time_wait)
            keepalive_deadline_ = now + cfg_->keepalive_idle;
        else if (cfg_->keepalive && (state_ == state::syn_rcvd || state_ == state::syn_sent))
            keepalive_deadline_ = now + cfg_->keepalive_idle;
    }

    void arm_persist(instant now) {
        duration d = std::clamp(persist_interval(), cfg_->sws_override, cfg_->rto_max);
        if (has_user_timeout() && persist_backoff_ > 0) // probing: meet the user timeout on time
            d = std::min(d, std::max(cfg_->user_timeout - (now - stall_start_), duration::millis(2))); // (Linux: TCP_TIMEOUT_MIN)
        persist_deadline_ = now + d;
    }
    /// The RTO backed off persist_backoff_ times (until it reaches rto_max).
    [[nodiscard]] duration persist_interval() const noexcept {
        duration d = rtt_.rto();
        for (unsigned i = 0; i < persist_backoff_ && d < cfg_->rto_max; ++i) d = d * 2;
        return d;
    }

    /// An orphan's FIN_WAIT_2 lasts fin_timeout, but at least 3.5 RTOs, so that a slow path's
    /// FIN can still come in (Linux's tcp_fin_time).
    void start_fin_wait_2_timer(instant now) {
        state_deadline_ = now + std::max(cfg_->fin_timeout, rtt_.rto() * 7 / 2);
    }

    void enter_time_wait(instant now) {
        rtx_deadline_ = persist_deadline_ = keepalive_deadline_ = delack_deadline_ = tlp_deadline_ = instant::never();
        rack_deadline_ = instant::never();
        // Everything we sent is acknowledged: pending retransmissions and probes are moot. Left set,
        // they would claim output that TIME-WAIT never sends and hide the 2MSL deadline.
        retransmit_head_ = probe_pending_ = tlp_pending_ = false;
        state_deadline_ = now + cfg_->msl * 2;
    }

    // ------------------------------------------------------------------ sending

    [[nodiscard]] bool syn_in_flight() const noexcept {
        return !syn_acked_ && (state_ == state::syn_sent || state_ == state::syn_rcvd);
    }
    [[nodiscard]] bool fin_sent() const noexcept { return fin_seq_ && snd_max_ > *fin_seq_; }
    [[nodiscard]] bool our_fin_acked() const noexcept { return fin_seq_ && snd_una_ > *fin_seq_; }
    /// The sequence number of the first byte in the send ring.
    [[nodiscard]] seq32 data_base() const noexcept { return syn_acked_ ? snd_una_ : iss_ + 1; }

    void queue_fin() {
        fin_queued_ = true;
        fin_seq_ = data_base() + static_cast<std::uint32_t>(snd_buf_.size());
    }

    void queue_abort_reset() {
        rst_pending_ = true;
        rst_seq_ = snd_max_;
        snd_buf_.clear();
        rcv_buf_.clear();
        ooo_.clear();
    }

    /// A reset in reply to one segment (RFC 9293 3.10.7.3/4, 3.5.2).
    void reply_reset(const wire::tcp_repr& seg) {
        if (auto r = reset_for(seg)) {
            reply_rst_seq_ = r->seq;
            reply_rst_ack_ = r->ack;
            reply_rst_flags_ = r->flags;
        }
    }

    void release() {
        tlp_deadline_ = instant::never();
        rack_deadline_ = instant::never();
        tlp_pending_ = false;
        rtx_deadline_ = persist_deadline_ = keepalive_deadline_ = delack_deadline_ = state_deadline_ =
            instant::never();
        ack_now_ = false;
        syn_pending_ = false;
        probe_pending_ = false;
        retransmit_head_ = false;
        if (!rst_pending_) {
            snd_buf_.clear();
            ooo_.clear();
        }
    }

    [[nodiscard]] [[gnu::always_inline]] bool has_output() const noexcept {
        if (rst_pending_ || reply_rst_flags_ != 0) return true;
        if (state_ == state::closed || state_ == state::listen) return false;
        if (state_ == state::time_wait) return ack_now_; // TIME-WAIT only ever sends ACKs
        if (syn_pending_ || ack_now_ || probe_pending_ || retransmit_head_ || tlp_pending_) return true;
        return sendable_now() > 0;
    }

    /// How much sequence space could go out right now (new data, plus 1 for a FIN; in SACK
    /// recovery also retransmissions), for next_deadline. Must agree with transmit().
    [[nodiscard]] std::uint32_t sendable_now() const noexcept {
        if (!syn_acked_ || !is_synchronized(state_)) return 0;
        if (sack_recovery()) {
            if (cc_.cwnd() < pipe() + snd_mss_) return 0;
            if (const auto h = lost_segment()) return h->len();
            if (const auto p = plan_new_segment(true)) return p->len + (p->fin ? 1u : 0u);
            if (const auto h = rescue_segment()) return h->len();
            return 0;
        }
        const auto p = plan_new_segment(false);
        return p ? p->len + (p->fin ? 1u : 0u) : 0;
    }

    /// The flight for window purposes: SND.NXT - SND.UNA, except that going back after an RTO
    /// (SND.NXT below SND.MAX) what the peer SACKed below `nxt` is not in flight.
    [[nodiscard]] std::uint32_t usable_window(seq32 nxt) const noexcept {
        auto in_flight = static_cast<std::uint32_t>(nxt - snd_una_);
        if (nxt < snd_max_) in_flight -= std::min(in_flight, board_.sacked_below(nxt));
        const std::uint32_t wnd = std::min(snd_wnd_, cc_.cwnd() + limited_transmit_room(nxt));
        return wnd > in_flight ? wnd - in_flight : 0;
    }

    /// Sender SWS avoidance (RFC 9293 3.8.6.2.1) and Nagle (RFC 896): a segment goes if it is
    /// full-sized, or it empties the buffer and nothing is unacknowledged (or Nagle is off, or we
    /// are closing), or it is at least half the largest window the peer offered, or nothing at all
    /// is in flight (so no ACK could ever unblock us).
    [[nodiscard]] bool sender_may_send(std::uint32_t len, std::size_t avail) const noexcept {
        if (len >= payload_mss()) return true; // full-sized, with this segment's options
        const bool idle = snd_nxt_ == snd_una_;
        if (len == avail) return idle || cfg_->no_delay || fin_queued_;
        return len >= max_snd_wnd_ / 2 || idle;
    }

    template <class Emit>
    void transmit(instant now, Emit& emit) {
        tx_tsval_ = tsval(now);
        if (reply_rst_flags_ != 0) {
            wire::tcp_repr r{};
            r.src_port = local_port_;
            r.dst_port = remote_port_;
            r.seq = reply_rst_seq_;
            r.ack = reply_rst_ack_;
            r.flags = reply_rst_flags_;
            segment_out out{r, {}};
            emit_segment(emit, out);
            reply_rst_flags_ = 0;
        }
        if (rst_pending_) {
            rst_pending_ = false;
            emit_control(emit, rst_seq_, tcp_flags::rst | tcp_flags::ack);
            return;
        }
        switch (state_) {
        case state::closed:
        case state::listen: return;
        case state::syn_sent:
        case state::syn_rcvd:
            if (syn_pending_ && !syn_acked_) send_syn(now, emit);
            // an unacceptable segment (out of window, PAWS), or a challenge, is answered in
            // SYN_RCVD too (RFC 9293 3.10.7.4 step 1; Linux's tcp_check_req)
            else if (ack_now_ && state_ == state::syn_rcvd) send_ack(emit);
            return;
        case state::time_wait:
            if (ack_now_) send_ack(emit);
            return;
        default: break;
        }
        const std::uint64_t sent_before = stats_.segments_out;
        const seq32 max_before = snd_max_;
        if (tlp_pending_) send_probe(now, emit);
        if (sack_recovery()) {
            send_recovery(now, emit);
        } else {
            if (retransmit_head_) resend_head(now, emit);
            send_data(now, emit);
        }
        if (stats_.segments_out != sent_before) note_cwnd_use();
        if (max_before < snd_max_) arm_probe(now); // RFC 8985 7.2: after new data
        if (probe_pending_) {
            probe_pending_ = false;
            emit_control(emit, snd_una_ - 1, tcp_flags::ack);
        }
        if (ack_now_ && stats_.segments_out == sent_before) send_ack(emit);
        // RFC 5681 4.2: an ACK for each out-of-order segment, though a batch of them was taken in
        // before this poll (a sender without SACK counts them toward DupThresh); as on Linux, a
        // data segment sent now carries one of them
        for (auto acks = stats_.segments_out - sent_before; acks < dupacks_owed_; ++acks) send_ack(emit);
        dupacks_owed_ = 0;
        if (persist_needed()) arm_persist(now);
    }

    [[nodiscard]] bool has_unsent_data() const noexcept {
        return snd_buf_.size() > static_cast<std::size_t>(static_cast<std::uint32_t>(snd_nxt_ - data_base())) ||
               (fin_queued_ && !fin_sent());
    }

    template <class Emit>
    void send_syn(instant now, Emit& emit) {
        syn_pending_ = false;
        segment_out s{};
        fill_header(s.header, iss_, state_ == state::syn_rcvd ? tcp_flags::syn | tcp_flags::ack : tcp_flags::syn);
        s.header.options.mss = cfg_->mss;
        if (cfg_->window_scaling && (state_ == state::syn_sent || wscale_ok_))
            s.header.options.window_scale = rcv_wscale_; // on a SYN-ACK only if the SYN offered it
        if (cfg_->timestamps && (state_ == state::syn_sent || ts_ok_))
            s.header.options.timestamps = wire::tcp_timestamps{tsval(now), state_ == state::syn_sent ? 0u : ts_recent_};
        if (cfg_->sack && (state_ == state::syn_sent || sack_ok_)) s.header.options.sack_permitted = true;
        s.header.window = window_field(true);
        if (snd_max_ == iss_) { // first transmission: time it, and start the retry clock
            snd_nxt_ = snd_max_ = iss_ + 1;
            rtt_timing_ = true;
            rtt_start_ = now;
        } else if (snd_nxt_ == iss_) {
            snd_nxt_ = iss_ + 1;
        }
        if (rtx_deadline_.is_never()) rtx_deadline_ = now + rtt_.rto();
        last_data_ms_ = stamp_ms(now); // the idle clock starts with the connection
        emit_segment(emit, s);
    }

    template <class Emit>
    void send_data(instant now, Emit& emit) {
        // With nothing in flight only a zero window keeps data back; an idle period ends when data
        // can go, so a zero-window stall stays part of it (as Linux's lsndtime: real sends only).
        if (snd_una_ == snd_max_ && snd_wnd_ != 0 && has_unsent_data()) restart_after_idle(now);
        while (send_new_segment(now, emit, false) > 0) {}
    }

    [[nodiscard]] static std::uint32_t stamp_ms(instant t) noexcept { return static_cast<std::uint32_t>(t.us / 1000); }
    [[nodiscard]] static std::uint32_t stamp_sec(instant t) noexcept { return static_cast<std::uint32_t>(t.us / 1'000'000); }

    /// New data is about to go out with nothing in flight. RFC 9438 5.8: CUBIC's epoch skips the
    /// time since the last data sent (Linux's CA_EVENT_TX_START). RFC 5681 4.1, as Linux's
    /// tcp_cwnd_restart (tcp_slow_start_after_idle): after more than an RTO of it, ssthresh keeps
    /// 3/4 of cwnd, and cwnd halves once per RTO of the idle time beyond the first, down to the
    /// restart window min(IW, cwnd). The planning that follows sees the new cwnd.
    void restart_after_idle(instant now) noexcept {
        const duration idle = duration::millis(stamp_ms(now) - last_data_ms_);
        if (idle <= duration::zero()) return;
        last_data_ms_ = stamp_ms(now); // an idle period counts once, even if nothing may go yet
        cc_.on_idle(idle, now);
        const duration rto = rtt_.rto();
        if (!cfg_->slow_start_after_idle || idle <= rto) return;
        std::uint32_t cwnd = cc_.cwnd();
        const std::uint32_t restart = std::min(cfg_->initial_cwnd_segments * snd_mss_, cwnd);
        cc_.set_ssthresh(std::max(cc_.ssthresh(), cwnd / 2 + cwnd / 4));
        for (duration left = idle - rto; left > duration::zero() && cwnd > restart; left -= rto) cwnd /= 2;
        cc_.set_cwnd(std::max(cwnd, restart));
    }

    /// The next segment from SND.NXT: where it starts, its length, whether the FIN rides on it.
    struct new_segment_plan {
        seq32 seq;
        std::size_t off = 0;
        std::uint32_t len = 0;
        bool fin = false;
    };

    /// What send_new_segment would send, if the windows, SWS avoidance and Nagle allow anything.
    /// `pipe_limited`: in SACK recovery the caller checks cwnd against pipe, so only the peer's
    /// window limits here. After an RTO (SND.NXT below SND.MAX) ranges the scoreboard holds as
    /// SACKed are skipped, not resent.
    [[nodiscard]] std::optional<new_segment_plan> plan_new_segment(bool pipe_limited) const noexcept {
        // Everything buffered has been sent and no FIN waits: nothing to plan (the common case
        // when has_output() asks on every poll of an idle or request/response connection). Inline,
        // so that this answer costs no call.
        if (snd_nxt_ == snd_max_ && !(fin_queued_ && snd_nxt_ == *fin_seq_) &&
            static_cast<std::uint32_t>(snd_nxt_ - data_base()) >= snd_buf_.size())
            return std::nullopt;
        return plan_unsent_segment(pipe_limited);
    }

    [[nodiscard]] [[gnu::noinline]] std::optional<new_segment_plan> plan_unsent_segment(bool pipe_limited) const noexcept {
        seq32 nxt = snd_nxt_;
        const bool going_back = nxt < snd_max_ && !board_.empty();
        if (going_back) {
            while (const auto r = board_.containing(nxt)) nxt = r->end;
        }
        std::uint32_t cap = pipe_limited ? peer_window_room(nxt) : usable_window(nxt);
        if (going_back && nxt < snd_max_)
            cap = std::min(cap, static_cast<std::uint32_t>(board_.next_sacked_after(nxt, snd_max_) - nxt));
        const auto off = static_cast<std::size_t>(static_cast<std::uint32_t>(nxt - data_base()));
        const std::size_t buffered = snd_buf_.size();
        const std::size_t avail = buffered > off ? buffered - off : 0;
        const std::uint32_t mss = payload_mss();
        const std::uint32_t most = tso_allowed(nxt, pipe_limited) ? tso_limit() : mss;
        std::uint32_t len = static_cast<std::uint32_t>(std::min<std::size_t>({avail, cap, most}));
        if (len > mss) len = super_segment_length(len, avail, mss);
        // Nagle and sender SWS avoidance hold back new data only: what goes back below SND.MAX (after
        // an RTO, a path MTU drop) is sent as the window allows (Linux never holds a retransmission)
        else if (len > 0 && !(nxt < snd_max_) && !sender_may_send(len, avail)) len = 0;
        const bool fin = fin_queued_ && off + len == buffered && nxt + len == *fin_seq_ && (len > 0 || avail == 0);
        if (len == 0 && !fin) return std::nullopt;
        return new_segment_plan{nxt, off, len, fin};
    }

    /// The largest TSO payload: config::tso_max, at most what one IPv4 datagram can hold next to a
    /// TCP header with the most options.
    [[nodiscard]] std::uint32_t tso_limit() const noexcept {
        return std::min<std::uint32_t>(cfg_->tso_max, 0xFFFF - wire::ipv4_header_len - 60);
    }

    /// TSO is for new data outside SACK recovery: a retransmission (going back below SND.MAX) or a
    /// recovery segment counted against pipe stays one MSS, so loss accounting never changes.
    [[nodiscard]] bool tso_allowed(seq32 nxt, bool pipe_limited) const noexcept {
        return cfg_->tso_max > snd_mss_ && !pipe_limited && !(nxt < snd_max_);
    }

    /// A super-segment is whole MSS-sized segments, each of which may go (full-sized, RFC 9293
    /// 3.8.6.2.1), plus a shorter tail only if it could go on its own right after them: it empties
    /// the buffer and Nagle is off or the FIN follows (Linux: tcp_mss_split_point).
    [[nodiscard]] std::uint32_t super_segment_length(std::uint32_t len, std::size_t avail, std::uint32_t mss) const noexcept {
        const std::uint32_t whole = len - len % mss;
        const bool tail_may_go = len == avail && (cfg_->no_delay || fin_queued_);
        return whole == len || tail_may_go ? len : whole;
    }

    /// Sends the planned segment; returns the sequence space it used (0: nothing sent).
    template <class Emit>
    std::uint32_t send_new_segment(instant now, Emit& emit, bool pipe_limited) {
        const auto p = plan_new_segment(pipe_limited);
        if (!p) return 0;
        if (!pipe_limited && limited_transmit_room(p->seq) > 0) { // the part beyond cwnd is limited transmit
            const auto before = static_cast<std::uint32_t>(p->seq - snd_una_);
            const std::uint32_t cwnd = cc_.cwnd();
            if (before + p->len > cwnd) limited_bytes_ += std::min(p->len, before + p->len - cwnd);
        }
        snd_nxt_ = p->seq;
        emit_data(now, emit, p->seq, p->off, p->len, p->fin);
        snd_nxt_ += p->len + (p->fin ? 1u : 0u);
        if (snd_max_ < snd_nxt_) snd_max_ = snd_nxt_;
        return p->len + (p->fin ? 1u : 0u);
    }

    /// The payload that fits next to the options of the next segment: SMSS (already net of
    /// timestamps) less the SACK blocks an ACK carries while we hold out-of-order data, so a data
    /// segment never outgrows the path MTU (Linux: tcp_current_mss).
    [[nodiscard]] std::uint32_t payload_mss() const noexcept {
        if (!sack_ok_ || (ooo_.empty() && !dsack_)) return snd_mss_;
        const std::size_t blocks = std::min<std::size_t>(ooo_.count() + (dsack_ ? 1 : 0), ts_ok_ ? 3 : 4);
        const auto space = static_cast<std::uint32_t>(4 + 8 * blocks);
        return snd_mss_ > space + 64 ? snd_mss_ - space : 64;
    }

    /// The peer's window beyond `nxt`.
    [[nodiscard]] std::uint32_t peer_window_room(seq32 nxt) const noexcept {
        const auto used = static_cast<std::uint32_t>(nxt - snd_una_);
        return snd_wnd_ > used ? snd_wnd_ - used : 0;
    }

    /// Fast retransmit / NewReno partial ACK: one segment from SND.UNA, SND.NXT untouched.
    template <class Emit>
    void resend_head(instant now, Emit& emit) {
        retransmit_head_ = false;
        const std::size_t buffered = snd_buf_.size();
        // never beyond what was sent: that would be new data SND.MAX does not know about
        const auto sent = static_cast<std::size_t>(static_cast<std::uint32_t>(sent_data_end() - snd_una_));
        const auto len = static_cast<std::uint32_t>(std::min<std::size_t>({buffered, payload_mss(), sent}));
        const bool fin = fin_seq_ && snd_una_ + len == *fin_seq_ && fin_sent();
        if (len == 0 && !fin) return;
        emit_data(now, emit, snd_una_, 0, len, fin);
    }

    template <class Emit>
    void emit_data(instant now, Emit& emit, seq32 seq, std::size_t off, std::uint32_t len, bool fin) {
        segment_out s{};
        std::uint8_t flags = tcp_flags::ack;
        if (len > 0 && off + len == snd_buf_.size()) flags |= tcp_flags::psh;
        if (fin) flags |= tcp_flags::fin;
        fill_header(s.header, seq, flags);
        s.header.window = window_field(false);
        s.payload = snd_buf_.peek(off, len);
        if (len > payload_mss()) s.gso_size = static_cast<std::uint16_t>(payload_mss()); // TSO: the link cuts it up
        const bool is_retransmission = seq < snd_max_;
        if (rack_enabled()) rack_.on_send(seq, seq + len + (fin ? 1u : 0u), now); // RFC 8985 6.1
        if (is_retransmission) {
            if (!sending_probe_) ++stats_.retransmits; // a tail loss probe counts as a probe
            // Karn (RFC 6298 3): the timed segment, sent again (by a probe, by recovery), can no
            // longer give a sample: its ACK may be for either copy
            if (rtt_timing_ && !(rtt_seq_ < seq) && rtt_seq_ < seq + len + (fin ? 1u : 0u)) rtt_timing_ = false;
        } else if (!rtt_timing_) {
            rtt_timing_ = true;
            rtt_seq_ = seq;
            rtt_start_ = now;
        }
        if (rtx_deadline_.is_never()) {
            rtx_deadline_ = now + rtt_.rto();
            stall_start_ = now;
        }
        if (len > 0) {
            last_data_ms_ = stamp_ms(now);
            note_data_sent(now);
        }
        if (in_recovery_) prr_out_ += len + (fin ? 1u : 0u);
        stats_.bytes_out += len;
        emit_segment(emit, s);
    }

    template <class Emit>
    void send_ack(Emit& emit) {
        // SND.MAX, not SND.NXT: while going back after an RTO, SND.NXT lies below what the peer
        // has received, and an ACK numbered there would be an old duplicate the peer drops
        // (ACK field unread) and answers with an ACK of its own - two ends going back at once
        // would then never read each other's ACKs (BSD tcp_output does the same).
        emit_control(emit, snd_max_, tcp_flags::ack);
    }

    template <class Emit>
    void emit_control(Emit& emit, seq32 seq, std::uint8_t flags) {
        segment_out s{};
        fill_header(s.header, seq, flags);
        s.header.window = window_field(false);
        emit_segment(emit, s);
    }

    void fill_header(wire::tcp_repr& h, seq32 seq, std::uint8_t flags) const noexcept {
        h.src_port = local_port_;
        h.dst_port = remote_port_;
        h.seq = seq;
        h.flags = flags;
        if ((flags & tcp_flags::ack) != 0) h.ack = rcv_nxt_;
        // RFC 7323 3.2: once negotiated, every segment carries timestamps (the SYN's are set in
        // send_syn); RFC 2018 4: every ACK carries SACK blocks while out-of-order data is held.
        if (ts_ok_ && (flags & tcp_flags::syn) == 0) h.options.timestamps = wire::tcp_timestamps{tx_tsval_, ts_recent_};
        if ((flags & tcp_flags::ack) != 0) add_sack_blocks(h.options);
    }

    /// RFC 2018 4 / RFC 2883: the D-SACK block (if a duplicate arrived) first, then the
    /// out-of-order ranges most recently changed first; 3 blocks fit next to timestamps, 4 without.
    void add_sack_blocks(wire::tcp_options& o) const noexcept {
        if (!sack_ok_ || !is_synchronized(state_)) return;
        const std::size_t max = ts_ok_ ? 3 : 4;
        if (dsack_) o.sack[o.sack_count++] = *dsack_;
        ooo_.for_each_most_recent_first([&](byte_range r) {
            if (o.sack_count < max) o.sack[o.sack_count++] = {rcv_nxt_ + r.begin, rcv_nxt_ + r.end};
        });
    }

    template <class Emit>
    void emit_segment(Emit& emit, segment_out& s) {
        s.dont_fragment = !pmtu_locked_;
        if (s.header.has(tcp_flags::ack)) { // every ACK we send carries all we owe
            last_ack_sent_ = s.header.ack;
            if (ack_pending_bytes_ > 0 && quick_acks_ > 0) --quick_acks_; // (Linux's tcp_dec_quickack_mode)
            if (dsack_ && s.header.options.sack_count > 0) { // a D-SACK is reported once (RFC 2883 4)
                dsack_.reset();
                ++stats_.dsacks_sent;
            }
            ack_now_ = false;
            ack_pending_bytes_ = 0;
            delack_deadline_ = instant::never();
        }
        ++stats_.segments_out;
        emit(s);
    }

    /// The window field, with receiver SWS avoidance (RFC 9293 3.8.6.2.2): the right edge moves
    /// only in steps of at least min(buffer/2, MSS), and it never moves left.
    ///
    /// With a window scale the field counts units of 2^shift, so a window that is not a multiple
    /// of the unit (RCV.NXT moved by an odd amount) would be rounded down and the edge the peer
    /// sees would move left by up to 2^shift - 1 bytes (RFC 7323 2.4). As Linux does, the window
    /// is rounded up instead when the buffer holds the extra bytes, and rcv_adv_ takes the edge
    /// so announced (segments up to it are accepted). Only when the buffer is full to the edge
    /// does the field round down; rcv_adv_ keeps the larger edge, which RFC 7323 2.4 asks for.
    [[nodiscard]] [[gnu::always_inline]] std::uint16_t window_field(bool syn) const noexcept {
        const std::uint32_t space = rcv_space(syn);
        const seq32 edge = rcv_nxt_ + space;
        if (edge > rcv_adv_ && static_cast<std::uint32_t>(edge - rcv_adv_) >= sws_step()) rcv_adv_ = edge;
        std::uint32_t wnd = rcv_wnd();
        if (syn) return static_cast<std::uint16_t>(std::min<std::uint32_t>(wnd, 0xFFFF));
        const std::uint32_t unit = (std::uint32_t{1} << rcv_wscale_) - 1;
        if ((wnd & unit) != 0 && (wnd | unit) < space) {
            wnd = (wnd | unit) + 1;
            rcv_adv_ = rcv_nxt_ + wnd;
        }
        return static_cast<std::uint16_t>(std::min<std::uint32_t>(wnd >> rcv_wscale_, 0xFFFF));
    }

    /// Receiver SWS avoidance's step: the right edge moves by at least min(buffer / 2, MSS).
    [[nodiscard]] std::uint32_t sws_step() const noexcept {
        return std::max<std::uint32_t>(static_cast<std::uint32_t>(std::min<std::size_t>(rcv_buf_.capacity() / 2, rcv_mss_)), 1);
    }

    /// The largest window the field can express (RFC 7323 2.3): RCV.WND must be what the peer was
    /// told, not what the buffer could hold.
    [[nodiscard]] std::uint32_t max_rcv_window(bool syn) const noexcept {
        return syn ? 0xFFFFu : 0xFFFFu << rcv_wscale_;
    }
    /// Free receive buffer space we could offer, capped by max_rcv_window.
    [[nodiscard]] std::uint32_t rcv_space(bool syn) const noexcept {
        return static_cast<std::uint32_t>(std::min<std::size_t>(rcv_buf_.free_space(), max_rcv_window(syn)));
    }

    /// After the application read: ACK at once if the window we would now advertise at least
    /// doubled from a value below half the largest window we can offer (Linux's rule, against its
    /// window_clamp), so a sender stalled on a small window resumes promptly. "Would advertise"
    /// with SWS avoidance: while the right edge cannot move (window_field), the ACK would repeat
    /// the last one, which a sender takes for a duplicate ACK.
    void maybe_send_window_update() {
        if (!is_synchronized(state_) || peer_fin_) return;
        const std::uint32_t now_wnd = rcv_wnd();
        const auto cap =
            static_cast<std::uint32_t>(std::min<std::size_t>(rcv_buf_.capacity(), max_rcv_window(false)));
        if (2 * now_wnd > cap) return;
        const std::uint32_t would = rcv_space(false);
        if (would > now_wnd && would - now_wnd >= sws_step() && would >= 2 * now_wnd) ack_now_ = true;
    }

    // ------------------------------------------------------------------ data

    std::shared_ptr<const config> cfg_; ///< this connection's settings, maybe shared with others
    std::uint16_t local_port_;
    std::uint16_t remote_port_;
    state state_ = state::closed;
    std::uint8_t snd_wscale_ = 0;      ///< the peer's window shift (RFC 7323)
    std::uint8_t rcv_wscale_ = 0;      ///< our window shift
    bool ts_ok_ = false;               ///< both SYNs carried timestamps: every segment carries them
    errc error_ = errc::ok;            ///< set once, when the connection ends in failure
    errc fail_with_ = errc::ok;        ///< the error a user-initiated failure reports
    errc soft_error_ = errc::ok;       ///< the last believed ICMP soft error (RFC 1122 4.2.3.9)
    std::uint32_t path_mtu_ = 0xFFFF;  ///< the path MTU: mss + 40, lowered by ICMP (RFC 1191)

    // send sequence space (RFC 9293 3.3.1)
    seq32 iss_;                        ///< initial send sequence number
    seq32 snd_una_;                    ///< oldest unacknowledged number; SND.UNA <= SND.NXT
    seq32 snd_nxt_;                    ///< next number to send (rewound to SND.UNA on RTO)
    seq32 snd_max_;                    ///< one past the highest number ever sent; SND.NXT <= SND.MAX
    seq32 snd_wl1_;                    ///< segment sequence number of the last window update
    seq32 snd_wl2_;                    ///< segment acknowledgment number of the last window update
    std::uint32_t snd_wnd_ = 0;        ///< the peer's receive window, scaled
    std::uint32_t max_snd_wnd_ = 0;    ///< the largest window the peer ever offered
    std::uint32_t snd_mss_;            ///< largest payload we send
    std::optional<seq32> fin_seq_;     ///< the number our FIN occupies, once shutdown() placed it

    // receive sequence space
    seq32 irs_;                        ///< initial receive sequence number
    seq32 rcv_nxt_;                    ///< next number expected; everything before it is in rcv_buf_
    mutable seq32 rcv_adv_;            ///< right edge of the window we advertised; never moves left
    std::uint32_t rcv_mss_;            ///< largest segment seen from the peer (for ACK pacing)
    std::optional<seq32> rcv_fin_seq_; ///< the peer's FIN, seen before the data in front of it

    // options (RFC 7323, RFC 2018)
    static constexpr std::uint32_t ts_option_space = 12;          ///< NOP, NOP, TS (10 bytes)
    static constexpr std::uint32_t paws_idle_seconds = 24 * 24 * 3600; ///< RFC 7323 5.5: 24 days
    std::uint32_t ts_offset_ = 0;      ///< TSval = milliseconds of `now` + this
    std::uint32_t ts_recent_ = 0;      ///< TS.Recent: the TSval we echo (RFC 7323 4.3)
    std::uint32_t oow_ack_ms_ = 0;     ///< when an ACK for an invalid segment last went out (ack_rate_limited)
    std::uint32_t ts_recent_sec_ = 0;  ///< when TS.Recent was last set, in s of `now` (PAWS validity, 5.5; Linux's ts_recent_stamp)
    std::uint32_t lrcv_ms_ = 0;        ///< when data last arrived (first: the handshake's end), in ms (Linux's lrcvtime)
    seq32 last_ack_sent_;              ///< Last.ACK.sent: the ACK field of our latest ACK
    std::uint32_t tx_tsval_ = 0;       ///< TSval of what the running transmit() emits
    std::optional<wire::sack_block> dsack_; ///< a duplicate to report in the next ACK (RFC 2883)

    // flags
    bool wscale_ok_ = false; ///< both SYNs carried the window scale option
    bool syn_acked_ = false;
    bool peer_syn_seen_ = false;
    bool peer_fin_ = false;
    bool fin_queued_ = false;
    bool orphaned_ = false;
    bool syn_pending_ = false;
    bool ack_now_ = false;
    unsigned dupacks_owed_ = 0; ///< out-of-order segments since the last poll, each owed a duplicate ACK
    static constexpr unsigned max_dupacks_per_poll = 16;
    bool probe_pending_ = false;
    bool retransmit_head_ = false;
    bool rst_pending_ = false;
    bool sack_ok_ = false;             ///< both SYNs carried SACK-permitted
    seq32 rst_seq_;
    // A reset owed in reply to one segment (reset_for), without the 96-byte segment record: the
    // ports are ours. Flags 0: none.
    seq32 reply_rst_seq_;
    seq32 reply_rst_ack_;
    std::uint8_t reply_rst_flags_ = 0;
    // quick ACK mode and interactive mode (note_data_received)
    std::uint8_t quick_acks_ = 0;      ///< ACKs still to send at once (Linux's icsk_ack.quick)
    bool pingpong_ = false;            ///< interactive: ACKs wait to ride on our reply (Linux's pingpong mode)
    bool data_received_ = false;       ///< some data has arrived: the first starts quick ACK mode
    std::uint32_t ack_pending_bytes_ = 0;
    bool rtt_timing_ = false;          ///< a segment is being timed for an RTT sample (rtt_seq_, rtt_start_)
    bool in_recovery_ = false;         ///< in fast recovery (RFC 6675 / RFC 6582), until recover_ is acked
    bool cwnd_limited_ = false;        ///< a transmission in the current window found cwnd full (cwnd_limited)
    bool pmtu_locked_ = false;         ///< an ICMP reported a path MTU below 576: send without DF (on_path_mtu)
    seq32 rtt_seq_;                    ///< the sequence number being timed

    // timers
    instant rtx_deadline_ = instant::never();
    instant persist_deadline_ = instant::never();
    instant delack_deadline_ = instant::never();
    instant keepalive_deadline_ = instant::never();
    instant state_deadline_ = instant::never(); ///< 2MSL in TIME_WAIT, fin_timeout in FIN_WAIT_2
    instant stall_start_;                         ///< when the oldest unacknowledged data was first sent, or the first zero-window probe
    // retry counters, each checked against its limit before it grows; they stop at 65535 (a limit
    // configured above that is never reached: more than 90 days of retries at TCP_RTO_MAX)
    std::uint16_t rtx_count_ = 0;
    std::uint16_t persist_backoff_ = 0;
    std::uint16_t probes_out_ = 0;
    std::uint16_t keepalive_sent_ = 0;

    // round-trip time (RFC 6298)
    rtt_estimator rtt_;
    instant rtt_start_;

    // congestion control (tcp/congestion.hpp) and loss recovery (RFC 5681, RFC 6582, RFC 6675)
    congestion_controller cc_;
    unsigned dupacks_ = 0;
    std::uint32_t limited_bytes_ = 0;  ///< sent by limited transmit since the last new ACK (RFC 3042)
    // congestion window validation (cwnd_limited)
    std::uint32_t max_flight_ = 0; ///< the most in flight in the current window (bytes)
    seq32 cwnd_usage_seq_;        ///< the current window ends when SND.UNA reaches this
    unsigned partial_acks_ = 0;        ///< partial ACKs in this NewReno recovery (RFC 6582 3.2 step 5)
    // Proportional Rate Reduction (RFC 6937; Linux's tcp_cwnd_reduction) in a SACK recovery; the
    // other two counters sit in padding further down
    std::uint32_t prr_prior_cwnd_ = 0; ///< cwnd when the recovery began (Linux's prior_cwnd)
    seq32 recover_;                    ///< RecoveryPoint (RFC 6675) / recover (RFC 6582)
    seq32 high_rxt_;                   ///< HighRxt: one past the highest octet retransmitted in recovery
    std::uint32_t last_data_ms_ = 0;   ///< when data was last sent, in ms of `now` (Linux's lsndtime)
    std::uint32_t prr_delivered_ = 0;  ///< PRR: bytes the peer received (ACKed or SACKed) in this recovery
    sack_scoreboard board_;            ///< what the peer SACKed above SND.UNA
    std::optional<seq32> rto_recover_; ///< SND.MAX at the last RTO, until acknowledged (RTO recovery)
    // RACK (RFC 8985 6)
    tcp::rack rack_;                          ///< transmission log and RACK's variables
    instant rack_deadline_ = instant::never(); ///< the RACK reorder timer
    // tail loss probe (RFC 8985 7)
    instant tlp_deadline_ = instant::never(); ///< when the PTO fires
    std::optional<seq32> tlp_end_;            ///< TLP.end_seq: SND.MAX after the probe, while outstanding
    bool tlp_retrans_ = false;                ///< the probe was a retransmission
    bool tlp_dsacked_ = false;                ///< ...which the peer reported as a duplicate
    bool sending_probe_ = false;              ///< emit_data is sending a probe (stats: not a retransmit)
    bool tlp_pending_ = false;                ///< the PTO fired: send a probe at the next poll()
    std::uint32_t prr_out_ = 0;               ///< PRR: bytes sent in this recovery

    send_ring snd_buf_;
    recv_ring rcv_buf_;
    reassembly_queue ooo_;
    waker waker_;
    state_observer observer_;
    tcb_stats stats_;
};

} // namespace corotcp::tcp
