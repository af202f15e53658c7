// corotcp/tcp/congestion.hpp: congestion control, as a policy the TCB holds per connection.
//
// A model owns cwnd and ssthresh (in bytes) and reacts to six events; the TCB decides when they
// happen (loss detection, recovery, the RTO are the TCB's, RFC 5681 3.2 / RFC 6582 / RFC 6675):
//
//     on_sample(sample, now)        an ACK of new data, in or out of recovery, before on_ack: its
//                                   RTT sample and the send sequence space (as Linux's pkts_acked)
//     on_ack(acked, rtt, now)       new data acknowledged outside recovery (slow start or CA)
//     enter_recovery(flight, now)   a loss was detected by duplicate ACKs / SACK: reduce once
//     exit_recovery(now)            the recovery point was acknowledged
//     on_rto(flight, now)           the retransmission timer expired: loss window of 1 SMSS
//     on_idle(idle, now)            data goes out with nothing in flight, `idle` after the last
//                                   data sent (Linux's CA_EVENT_TX_START)
//
// and set_cwnd() for the TCB's recovery mechanics (NewReno's inflation and deflation, RFC 6582 3.2).
// set_ssthresh() carries ssthresh over when a connection switches algorithms (switch_to()).
// Models: `newreno` (RFC 5681, with RFC 3465's L = 2 SMSS in slow start) and `cubic` (RFC 9438,
// with Linux's HyStart to end the first slow start before the queue overflows).
// `congestion_controller` holds either (a variant: no virtual calls) and is what the TCB uses.
//
// Arithmetic: bytes in integers for NewReno; CUBIC computes in segments and seconds with doubles
// (as RFC 9438 writes its formulas), and keeps its window as a double of bytes so that per-ACK
// increments below one byte accumulate.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <variant>

#include "corotcp/tcp/config.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/wire/seq.hpp"

namespace corotcp::tcp {

/// What an ACK of new data tells a model besides the bytes it acknowledged (as Linux's
/// pkts_acked): the round-trip time it measured, if it measured one, and where the send sequence
/// space stands. The TCB's sample is the age of the most recently sent segment the ACK newly
/// delivered (RACK's send times, as Linux's ca_rtt_us), else the timestamp echo, else the timed
/// segment.
struct ack_sample {
    std::optional<duration> rtt; ///< this ACK's RTT sample (none: it gave no sample)
    duration srtt;               ///< the smoothed RTT after it (zero before any sample)
    wire::seq32 una;             ///< SND.UNA after the ACK
    wire::seq32 max;             ///< SND.MAX: the highest sequence number sent, plus one
    bool in_recovery = false;    ///< the TCB is in fast recovery (HyStart does not act then)
};

template <class M>
concept congestion_model = requires(M m, const M cm, std::uint32_t n, duration d, instant t, ack_sample a) {
    { cm.cwnd() } -> std::same_as<std::uint32_t>;
    { cm.ssthresh() } -> std::same_as<std::uint32_t>;
    m.on_sample(a, t);
    m.on_ack(n, d, t);
    m.enter_recovery(n, t);
    m.exit_recovery(t);
    m.on_rto(n, t);
    m.on_idle(d, t);
    m.set_cwnd(n);
    m.set_ssthresh(n);
    m.set_mss(n);
};

/// RFC 5681 slow start and congestion avoidance; RFC 6582 recovery (the TCB inflates/deflates).
class newreno {
public:
    newreno(std::uint32_t mss, std::uint32_t initial_cwnd) noexcept : mss_(mss), cwnd_(initial_cwnd) {}

    [[nodiscard]] std::uint32_t cwnd() const noexcept { return cwnd_; }
    [[nodiscard]] std::uint32_t ssthresh() const noexcept { return ssthresh_; }

    void on_sample(const ack_sample& /*s*/, instant /*now*/) noexcept {}
    /// RFC 5681 3.1: slow start adds min(acked, L * SMSS) with L = 2 (RFC 3465); congestion
    /// avoidance adds one SMSS per cwnd of acknowledged bytes (byte counting).
    void on_ack(std::uint32_t acked, duration /*rtt*/, instant /*now*/) noexcept {
        if (cwnd_ < ssthresh_) {
            cwnd_ += std::min(acked, 2 * mss_);
            return;
        }
        ca_bytes_ += acked;
        if (ca_bytes_ >= cwnd_) {
            ca_bytes_ -= cwnd_;
            cwnd_ += mss_;
        }
    }
    /// RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 * SMSS); cwnd = ssthresh (the TCB adds the
    /// 3 * SMSS of NewReno's inflation when it recovers without SACK).
    void enter_recovery(std::uint32_t flight, instant /*now*/) noexcept {
        ssthresh_ = std::max(flight / 2, 2 * mss_);
        cwnd_ = ssthresh_;
        ca_bytes_ = 0;
    }
    void exit_recovery(instant /*now*/) noexcept {}
    /// RFC 5681 (4) and 3.1: after an RTO, cwnd = 1 SMSS (the loss window).
    void on_rto(std::uint32_t flight, instant /*now*/) noexcept {
        ssthresh_ = std::max(flight / 2, 2 * mss_);
        cwnd_ = mss_;
        ca_bytes_ = 0;
    }
    void on_idle(duration /*idle*/, instant /*now*/) noexcept {}
    void set_cwnd(std::uint32_t c) noexcept { cwnd_ = c; }
    void set_ssthresh(std::uint32_t s) noexcept { ssthresh_ = s; }
    void set_mss(std::uint32_t mss) noexcept { mss_ = mss; }

private:
    std::uint32_t mss_;
    std::uint32_t cwnd_;
    std::uint32_t ssthresh_ = 0x7FFFFFFF;
    std::uint32_t ca_bytes_ = 0; ///< bytes acknowledged toward the next SMSS of growth
};

/// RFC 9438 CUBIC: after a reduction, the window follows W_cubic(t) = C (t - K)^3 + W_max, at
/// least the Reno-friendly estimate W_est; slow start as NewReno's.
///
/// Slow start before the first reduction ends early with HyStart (Ha and Rhee, "Taming the
/// elephants", 2008), as in Linux's tcp_cubic (hystart=1, hystart_detect=3): from 16 segments of
/// cwnd on, per round trip (a round ends when SND.UNA passes what SND.MAX was at its start),
///  * ACK train: ACKs that keep arriving within 2 ms of each other for longer than (minimum RTT +
///    an allowance for ACK compression) / 2 mean the window already fills the path;
///  * delay: from the round's 9th RTT sample on, the least sample of the round exceeds the minimum
///    RTT by more than clamp(min RTT / 8, 4 ms, 16 ms): a queue is building.
/// Either sets ssthresh = cwnd, and congestion avoidance starts there. While there is no W_max to
/// return to (before the first reduction, and after an RTO), congestion avoidance grows by at least
/// 5 % per round trip (Linux: cnt at most 20 while last_max_cwnd is 0); without that floor,
/// W_cubic's convex start from K = 0 would take seconds to grow the window on a long path.
/// After an RTO, as RFC 9438 4.8 has it, the first congestion avoidance starts with K = 0 and
/// W_max = the cwnd it starts at (Linux likewise forgets last_max_cwnd in TCP_CA_Loss), and
/// HyStart is re-armed for the slow start that leads there.
class cubic {
public:
    static constexpr double c = 0.4;    ///< C, segments / s^3 (RFC 9438 4.1)
    static constexpr double beta = 0.7; ///< beta_cubic, the multiplicative decrease (4.6)
    /// alpha_cubic = 3 (1 - beta) / (1 + beta): W_est grows like Reno with this beta (4.3).
    static constexpr double alpha = 3.0 * (1.0 - beta) / (1.0 + beta);

    // HyStart's constants, Linux's values (tcp_cubic.c)
    static constexpr std::uint32_t hystart_low_window = 16;              ///< segments of cwnd before it looks
    static constexpr duration hystart_ack_delta = duration::millis(2);   ///< the most between ACKs of a train
    static constexpr unsigned hystart_min_samples = 8;                   ///< RTT samples per round for the delay signal
    static constexpr duration hystart_delay_min = duration::millis(4);   ///< the delay threshold's bounds
    static constexpr duration hystart_delay_max = duration::millis(16);
    /// Delay samples are not used this soon after a congestion epoch starts (Linux: HZ).
    static constexpr duration hystart_epoch_quiet = duration::seconds(1);

    /// Why HyStart ended slow start.
    enum class hystart_exit : std::uint8_t { none, ack_train, delay };

    cubic(std::uint32_t mss, std::uint32_t initial_cwnd,
          std::uint8_t hystart_detect = hystart_ack_train | hystart_delay) noexcept
        : mss_(mss), cwnd_(initial_cwnd), hystart_detect_(hystart_detect) {}

    [[nodiscard]] std::uint32_t cwnd() const noexcept { return static_cast<std::uint32_t>(cwnd_); }
    [[nodiscard]] std::uint32_t ssthresh() const noexcept { return ssthresh_; }
    /// W_max in segments: the window before the last reduction (after fast convergence).
    [[nodiscard]] double w_max() const noexcept { return w_max_; }
    /// K in seconds: when W_cubic returns to W_max (RFC 9438 eq. 2), for the current epoch.
    [[nodiscard]] double k() const noexcept { return k_; }
    /// W_est in segments, the Reno-friendly estimate (4.3).
    [[nodiscard]] double w_est() const noexcept { return w_est_; }
    [[nodiscard]] bool in_epoch() const noexcept { return epoch_started_; }
    /// How the last slow start was ended by HyStart (none: it was not, or it is still running).
    [[nodiscard]] hystart_exit hystart_found() const noexcept { return found_; }
    /// The least RTT sample seen (HyStart's delay_min), zero before any.
    [[nodiscard]] duration delay_min() const noexcept { return duration::micros(delay_min_us_); }

    /// RFC 9438 eq. 1, in segments: W_cubic(t) = C (t - K)^3 + W_max, t in seconds since the epoch.
    [[nodiscard]] double w_cubic(double t) const noexcept { return c * std::pow(t - k_, 3) + w_max_; }

    /// HyStart's input (Linux's cubictcp_acked): the minimum RTT, then both signals while in slow start.
    void on_sample(const ack_sample& s, instant now) noexcept {
        if (!s.rtt) return;
        if (epoch_started_ && now - epoch_start_ < hystart_epoch_quiet) return; // just after a recovery
        const std::uint32_t delay = static_cast<std::uint32_t>(std::clamp<std::int64_t>(s.rtt->us, 1, UINT32_MAX));
        if (delay_min_us_ == 0 || delay < delay_min_us_) delay_min_us_ = delay;
        if (hystart_detect_ != 0 && found_ == hystart_exit::none && !s.in_recovery && cwnd_ < ssthresh_ &&
            cwnd_ >= static_cast<double>(hystart_low_window) * mss_)
            hystart_update(s, delay, now);
    }

    void on_ack(std::uint32_t acked, duration rtt, instant now) noexcept {
        if (cwnd_ < ssthresh_) { // slow start (RFC 9438 4.10 leaves it to RFC 5681)
            cwnd_ += std::min<double>(acked, 2.0 * mss_);
            return;
        }
        if (!epoch_started_) start_epoch(now);
        const double seg = mss_;
        const double w = cwnd_ / seg;
        const double t = (now - epoch_start_).seconds_f();
        // no W_max yet (or an RTO forgot it): at least 5 % per round trip, 1 segment per 20 acknowledged
        const double floor = reduced_ ? 0.0 : acked / 20.0;
        // 4.3: W_est grows by alpha segments per window of acknowledged segments, by 1 once it
        // reaches cwnd_prior (not W_max, which fast convergence puts below it)
        const double a = w_est_ * seg >= cwnd_prior_ ? 1.0 : alpha;
        w_est_ += a * (acked / seg) / w;
        if (w_cubic(t) < w_est_) { // 4.3: the Reno-friendly region
            cwnd_ = std::max(cwnd_ + floor, w_est_ * seg);
            return;
        }
        // 4.4 / 4.5: concave and convex regions; target = W_cubic(t + RTT) in [cwnd, 1.5 cwnd]
        const double target = std::clamp(w_cubic(t + rtt.seconds_f()), w, 1.5 * w);
        cwnd_ += std::max((target - w) / w * acked, floor);
    }

    /// RFC 9438 4.6 and 4.7: W_max = cwnd (or, with fast convergence, cwnd (1 + beta) / 2 when it
    /// is below the previous W_max); ssthresh = max(flight * beta, 2 SMSS); cwnd = ssthresh.
    void enter_recovery(std::uint32_t flight, instant /*now*/) noexcept {
        reduce(flight);
        cwnd_ = ssthresh_;
    }
    void exit_recovery(instant /*now*/) noexcept {}
    /// RFC 9438 4.8: ssthresh as for a congestion event (4.6), cwnd = 1 SMSS (RFC 5681); the
    /// congestion avoidance that follows starts from K = 0 and W_max = its first cwnd (no W_max is
    /// kept: start_epoch takes the window it starts at). HyStart starts over.
    void on_rto(std::uint32_t flight, instant /*now*/) noexcept {
        reduce(flight);
        cwnd_ = mss_;
        w_max_ = 0;
        reduced_ = false;
        found_ = hystart_exit::none;
        delay_min_us_ = 0;
    }
    /// RFC 9438 5.8: t in eq. 1 does not include the time the application sent nothing, or
    /// W_cubic would have run far ahead when it sends again. As Linux's CA_EVENT_TX_START: the
    /// epoch moves forward by the time since the last data sent, never past now.
    void on_idle(duration idle, instant now) noexcept {
        if (!epoch_started_ || idle <= duration::zero()) return;
        epoch_start_ = std::min(epoch_start_ + idle, now);
    }
    /// The epoch's start (RFC 9438's t = 0), for tests.
    [[nodiscard]] instant epoch_start() const noexcept { return epoch_start_; }
    void set_cwnd(std::uint32_t cw) noexcept { cwnd_ = cw; }
    void set_ssthresh(std::uint32_t s) noexcept { ssthresh_ = s; }
    void set_mss(std::uint32_t mss) noexcept { mss_ = mss; }

private:
    void reduce(std::uint32_t flight) noexcept {
        cwnd_prior_ = static_cast<std::uint32_t>(cwnd_);
        const double w = cwnd_ / mss_;
        w_max_ = w < w_max_ ? w * (1.0 + beta) / 2.0 : w; // 4.7 fast convergence
        ssthresh_ = std::max(static_cast<std::uint32_t>(flight * beta), 2 * mss_);
        epoch_started_ = false;
        reduced_ = true;
        round_open_ = false; // a slow start after this (cwnd below ssthresh) starts a fresh round
    }

    /// RFC 9438 4.2: the epoch starts at the first ACK in congestion avoidance after a reduction;
    /// K = cbrt((W_max - cwnd_epoch) / C), or 0 if cwnd is already at or above W_max.
    void start_epoch(instant now) noexcept {
        epoch_started_ = true;
        epoch_start_ = now;
        const double w = cwnd_ / mss_;
        if (w_max_ <= w) {
            w_max_ = w;
            k_ = 0;
        } else {
            k_ = std::cbrt((w_max_ - w) / c);
        }
        w_est_ = w;
    }

    /// Linux's hystart_update: a new round once SND.UNA passes the last round's SND.MAX; then the
    /// two signals.
    void hystart_update(const ack_sample& s, std::uint32_t delay, instant now) noexcept {
        const auto clock = static_cast<std::uint32_t>(now.us); // microseconds, wrapping
        if (!round_open_ || round_end_ < s.una) {
            round_open_ = true;
            round_end_ = s.max;
            round_start_ = last_ack_ = clock;
            round_min_us_ = UINT32_MAX;
            samples_ = 0;
        }
        if ((hystart_detect_ & hystart_ack_train) != 0 && clock - last_ack_ <= hystart_ack_delta.us) {
            last_ack_ = clock;
            // half the minimum RTT: an unpaced sender's round is a train of ACKs spaced by the
            // bottleneck, which lasts as long as the window takes to drain through it
            const std::int64_t threshold = (delay_min_us_ + ack_allowance(s.srtt).us) / 2;
            if (clock - round_start_ > threshold) return leave_slow_start(hystart_exit::ack_train);
        }
        if ((hystart_detect_ & hystart_delay) != 0) {
            round_min_us_ = std::min(round_min_us_, delay);
            if (samples_ < hystart_min_samples) {
                ++samples_;
            } else {
                const std::int64_t eta = std::clamp<std::int64_t>(delay_min_us_ / 8, hystart_delay_min.us, hystart_delay_max.us);
                if (round_min_us_ > delay_min_us_ + eta) return leave_slow_start(hystart_exit::delay);
            }
        }
    }

    /// Linux's hystart_ack_delay: the time 4 GSO super-segments (64 KiB) take at the pacing rate
    /// Linux computes in slow start (2 cwnd / SRTT), at most 1 ms; ACKs compressed by receive
    /// offload or delayed ACKs may arrive that much late or early.
    [[nodiscard]] duration ack_allowance(duration srtt) const noexcept {
        if (srtt <= duration::zero()) return duration::zero();
        const double rate = 2.0 * cwnd_ / srtt.seconds_f(); // bytes per second
        const double seconds = 4.0 * 65536.0 / rate;
        return seconds >= 0.001 ? duration::millis(1) : duration::micros(static_cast<std::int64_t>(seconds * 1e6));
    }

    void leave_slow_start(hystart_exit why) noexcept {
        found_ = why;
        ssthresh_ = cwnd();
    }

    std::uint32_t mss_;
    std::uint32_t ssthresh_ = 0x7FFFFFFF;
    double cwnd_; ///< bytes
    double w_max_ = 0; ///< segments
    double k_ = 0;     ///< seconds
    double w_est_ = 0; ///< segments
    instant epoch_start_;
    // HyStart; times as the low 32 bits of the microsecond clock, RTTs in microseconds (an idle
    // connection stays within 1 KiB)
    wire::seq32 round_end_;                   ///< the round ends when SND.UNA passes this
    std::uint32_t round_start_ = 0;
    std::uint32_t last_ack_ = 0;              ///< the last ACK of the current train
    std::uint32_t round_min_us_ = UINT32_MAX; ///< the least RTT sample of this round
    std::uint32_t delay_min_us_ = 0;          ///< the least RTT sample of the connection (0: none yet)
    std::uint32_t cwnd_prior_ = 0;            ///< cwnd when ssthresh was last set, bytes (RFC 9438 4.3)
    bool epoch_started_ = false;
    bool reduced_ = false; ///< a congestion event set W_max (none yet, or an RTO forgot it)
    std::uint8_t hystart_detect_;
    hystart_exit found_ = hystart_exit::none;
    bool round_open_ = false;
    std::uint8_t samples_ = 0; ///< RTT samples taken this round (up to hystart_min_samples)
};

static_assert(congestion_model<newreno>);
static_assert(congestion_model<cubic>);

/// The TCB's congestion control: one of the models, chosen by config::congestion.
class congestion_controller {
public:
    congestion_controller(congestion_control which, std::uint32_t mss, std::uint32_t initial_cwnd,
                          std::uint8_t hystart_detect = hystart_ack_train | hystart_delay) noexcept
        : model_(which == congestion_control::cubic ? model{cubic(mss, initial_cwnd, hystart_detect)}
                                                    : model{newreno(mss, initial_cwnd)}) {}

    [[nodiscard]] congestion_control algorithm() const noexcept {
        return std::holds_alternative<cubic>(model_) ? congestion_control::cubic : congestion_control::newreno;
    }
    [[nodiscard]] std::uint32_t cwnd() const noexcept {
        return std::visit([](const auto& m) { return m.cwnd(); }, model_);
    }
    [[nodiscard]] std::uint32_t ssthresh() const noexcept {
        return std::visit([](const auto& m) { return m.ssthresh(); }, model_);
    }
    void on_sample(const ack_sample& a, instant now) noexcept {
        std::visit([&](auto& m) { m.on_sample(a, now); }, model_);
    }
    void on_ack(std::uint32_t acked, duration rtt, instant now) noexcept {
        std::visit([&](auto& m) { m.on_ack(acked, rtt, now); }, model_);
    }
    void enter_recovery(std::uint32_t flight, instant now) noexcept {
        std::visit([&](auto& m) { m.enter_recovery(flight, now); }, model_);
    }
    void exit_recovery(instant now) noexcept {
        std::visit([&](auto& m) { m.exit_recovery(now); }, model_);
    }
    void on_rto(std::uint32_t flight, instant now) noexcept {
        std::visit([&](auto& m) { m.on_rto(flight, now); }, model_);
    }
    void on_idle(duration idle, instant now) noexcept {
        std::visit([&](auto& m) { m.on_idle(idle, now); }, model_);
    }
    void set_cwnd(std::uint32_t c) noexcept {
        std::visit([&](auto& m) { m.set_cwnd(c); }, model_);
    }
    void set_mss(std::uint32_t mss) noexcept {
        std::visit([&](auto& m) { m.set_mss(mss); }, model_);
    }
    /// Changes the algorithm of a running connection (TCP_CONGESTION): the new model starts from
    /// the current cwnd and ssthresh with none of the old one's private state (CUBIC's epoch and
    /// W_max), as Linux's tcp_reinit_congestion_control does. The same algorithm: nothing changes.
    void switch_to(congestion_control which, std::uint32_t mss,
                   std::uint8_t hystart_detect = hystart_ack_train | hystart_delay) noexcept {
        if (which == algorithm()) return;
        const std::uint32_t c = cwnd();
        const std::uint32_t s = ssthresh();
        *this = congestion_controller(which, mss, c, hystart_detect);
        set_ssthresh(s);
    }
    void set_ssthresh(std::uint32_t s) noexcept {
        std::visit([&](auto& m) { m.set_ssthresh(s); }, model_);
    }
    /// The CUBIC state, for tests and netstat views (nullptr under NewReno).
    [[nodiscard]] const cubic* as_cubic() const noexcept { return std::get_if<cubic>(&model_); }

private:
    using model = std::variant<newreno, cubic>;
    model model_;
};

} // namespace corotcp::tcp
