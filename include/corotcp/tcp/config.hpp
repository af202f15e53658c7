// corotcp/tcp/config.hpp: per-connection TCP settings, with Linux's defaults.
//
// Where Linux has a sysctl for a setting, the field says which one and uses the same default, so that
// what the teaching material says about Linux holds here too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corotcp/util/time.hpp"

namespace corotcp::tcp {

/// The congestion-control algorithm of a connection (tcp/congestion.hpp).
enum class congestion_control : std::uint8_t {
    newreno, ///< RFC 5681 + RFC 6582
    cubic,   ///< RFC 9438, Linux's default and ours
};

/// The signals CUBIC's HyStart may end slow start on (config::hystart_detect, a bit set; Linux's
/// tcp_cubic module parameter hystart_detect uses the same bits).
inline constexpr std::uint8_t hystart_ack_train = 1; ///< ACKs keep coming back to back for half the minimum RTT
inline constexpr std::uint8_t hystart_delay = 2;     ///< the round's minimum RTT grew by an eighth (4..16 ms)

struct config {
    // --- segment size and buffers ---
    /// The MSS we announce and the largest payload we send (the stack sets it from the link's MTU - 40).
    std::uint16_t mss = 1460;
    /// TCP segmentation offload: the most payload one segment handed to the link may carry, as a
    /// super-segment of several MSS that the link cuts up (the stack sets it from the link's
    /// tso_max(); 0, the default: off, no segment is larger than the MSS). Used for new data only,
    /// outside SACK recovery; retransmissions go one MSS at a time.
    std::uint32_t tso_max = 0;
    /// Send and receive buffer capacity in bytes (heap buffers; static buffers fix it at compile time).
    std::size_t send_buffer = 128 * 1024;
    std::size_t recv_buffer = 128 * 1024;
    /// RFC 7323 window scaling; offered on SYN, used only if the peer offers it too.
    bool window_scaling = true;
    /// RFC 7323 timestamps (tcp_timestamps): offered on SYN, used only if both SYNs carry them. Costs
    /// 12 bytes of every header (the payload MSS shrinks by 12), buys RTT samples on every ACK,
    /// samples through retransmissions, and PAWS.
    bool timestamps = true;
    /// RFC 2018 selective acknowledgements (tcp_sack): SACK-permitted offered on SYN, used if both
    /// offer it; then loss recovery follows RFC 6675 and duplicates are reported as D-SACK (RFC 2883).
    bool sack = true;
    /// RFC 8985 7 tail loss probe (tcp_early_retrans 3): with SACK, when the ACK clock stops,
    /// probe after ~2 SRTT with new data or the last segment, instead of waiting for the RTO.
    bool tail_loss_probe = true;
    /// RFC 8985 6 RACK loss detection (tcp_recovery 1): with SACK, a segment is lost when one sent
    /// after it was delivered more than RTT + reo_wnd later (per-segment send times), so holes are
    /// found without waiting for DupThresh duplicate ACKs, lost retransmissions are found too, and
    /// reordering shorter than reo_wnd costs nothing. Off: RFC 6675's DupThresh rule (IsLost).
    bool rack = true;
    /// RFC 6937 Proportional Rate Reduction in a SACK recovery (Linux's only behaviour since 3.2,
    /// no sysctl): cwnd comes down to ssthresh in step with what the peer receives. Off: RFC 6675
    /// alone, cwnd = ssthresh at once (silence until pipe falls below it, then a burst).
    bool prr = true;

    // --- connection establishment (RFC 9293 3.8.1, RFC 6298 2.1) ---
    unsigned syn_retries = 6;    ///< tcp_syn_retries: SYNs resent at 1,2,4,..,32 s; connect() fails after 127 s
    unsigned synack_retries = 5; ///< tcp_synack_retries: SYN-ACKs resent; half-open dropped after 63 s

    // --- retransmission (RFC 6298) ---
    duration rto_initial = duration::seconds(1);
    duration rto_min = duration::millis(200); ///< TCP_RTO_MIN
    duration rto_max = duration::seconds(120); ///< TCP_RTO_MAX
    /// tcp_retries2, read as Linux reads it: a time, not a count. The connection times out at the
    /// first RTO that fires once as long has passed since the unacknowledged data was first sent as
    /// `retries2` retransmissions would take backing off from rto_min (15: 924.6 s), however large
    /// its actual RTO. (SYN and SYN-ACK retries are counts: syn_retries, synack_retries.)
    unsigned retries2 = 15;
    /// tcp_orphan_retries: retries2 for a connection the application has closed (data or a FIN
    /// still unacknowledged); 0, Linux's default, means 8 (102 s) while the RTO is below rto_max and
    /// none after. It also ends an orphan whose zero-window probes back off to rto_max.
    unsigned orphan_retries = 0;
    /// RFC 5482 / TCP_USER_TIMEOUT: give up when data stays unacknowledged, or the peer's window
    /// stays zero, this long (zero: off). When set it replaces the retries2 time, and the RTO is
    /// cut so that the timeout is met on time (Linux's tcp_clamp_rto_to_user_timeout).
    duration user_timeout = duration::zero();

    // --- closing ---
    duration msl = duration::seconds(30);         ///< TIME_WAIT lasts 2*MSL = 60 s, as on Linux
    duration fin_timeout = duration::seconds(60); ///< tcp_fin_timeout: orphaned FIN_WAIT_2 lifetime

    // --- keepalive (RFC 1122 4.2.3.6), off by default as on Linux ---
    bool keepalive = false;
    duration keepalive_idle = duration::seconds(7200);   ///< tcp_keepalive_time
    duration keepalive_interval = duration::seconds(75); ///< tcp_keepalive_intvl
    unsigned keepalive_probes = 9;                       ///< tcp_keepalive_probes

    // --- acknowledgements and small segments ---
    bool delayed_ack = true;                    ///< RFC 1122 4.2.3.2: ACK at least every second full segment
    duration ack_delay = duration::millis(40);  ///< Linux's minimum delayed-ACK timeout
    /// Quick ACK mode (Linux's TCP_MAX_QUICKACKS): the first data of a connection, the first after
    /// a silence longer than the RTO, and a retransmitted duplicate start a run of up to this many
    /// ACKs sent at once (half the window in segments, if that is fewer; at least 2), except
    /// while the connection is interactive (a reply goes within ack_delay of the data it answers:
    /// the ACK rides on it). 0: delayed ACKs from the first segment.
    std::uint8_t max_quick_acks = 16;
    bool no_delay = false;                      ///< TCP_NODELAY: disable Nagle's algorithm (RFC 896)
    /// tcp_invalid_ratelimit (RFC 5961 7, ACK throttling): at most one ACK per this interval for
    /// segments we drop without data (out of window, PAWS, an ACK of unsent data) and for challenge
    /// ACKs, so two desynchronized ends cannot ACK each other in a loop and forged segments cannot
    /// make us send at their rate. Zero: no limit.
    duration invalid_ratelimit = duration::millis(500);
    /// Sender SWS avoidance override timer (RFC 9293 3.8.6.2.1), also the persist timer's floor.
    duration sws_override = duration::millis(200);

    // --- congestion control (RFC 5681; RFC 6928 initial window) ---
    std::uint32_t initial_cwnd_segments = 10;
    /// tcp_congestion_control: CUBIC (RFC 9438) as on Linux, or NewReno (RFC 5681, RFC 6582).
    congestion_control congestion = congestion_control::cubic;
    /// CUBIC's HyStart (Linux tcp_cubic: hystart=1, hystart_detect=3): leave slow start when the
    /// ACK train or the rising RTT says the window has reached the path's capacity, before the
    /// queue overflows (tcp/congestion.hpp). 0: off, slow start runs until the first loss
    /// (RFC 5681). NewReno does not use it.
    std::uint8_t hystart_detect = hystart_ack_train | hystart_delay;
    /// tcp_slow_start_after_idle (RFC 5681 4.1, Linux's default 1): data sent after more than an
    /// RTO of sending nothing restarts from a smaller window: cwnd halves per RTO of idle time,
    /// down to min(initial window, cwnd), and ssthresh keeps 3/4 of the old cwnd. Off: cwnd is
    /// kept across idle periods.
    bool slow_start_after_idle = true;

    friend bool operator==(const config&, const config&) = default;
};

} // namespace corotcp::tcp
