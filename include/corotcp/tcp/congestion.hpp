// corotcp/tcp/congestion.hpp: congestion control, as a policy the TCB holds per connection.
//
// A model owns cwnd and ssthresh (in bytes) and reacts to four events; the TCB decides when they
// happen (loss detection, recovery, the RTO are the TCB's, RFC 5681 3.2 / RFC 6582 / RFC 6675):
//
//     on_ack(acked, rtt, now)       new data acknowledged outside recovery (slow start or CA)
//     enter_recovery(flight, now)   a loss was detected by duplicate ACKs / SACK: reduce once
//     exit_recovery(now)            the recovery point was acknowledged
//     on_rto(flight, now)           the retransmission timer expired: loss window of 1 SMSS
//
// and set_cwnd() for the TCB's recovery mechanics (NewReno's inflation and deflation, RFC 6582 3.2).
// set_ssthresh() carries ssthresh over when a connection switches algorithms (switch_to()).
// Models: `newreno` (RFC 5681, with RFC 3465's L = 2 SMSS in slow start) and `cubic` (RFC 9438).
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
#include <variant>

#include "corotcp/tcp/config.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp::tcp {

template <class M>
concept congestion_model = requires(M m, const M cm, std::uint32_t n, duration d, instant t) {
    { cm.cwnd() } -> std::same_as<std::uint32_t>;
    { cm.ssthresh() } -> std::same_as<std::uint32_t>;
    m.on_ack(n, d, t);
    m.enter_recovery(n, t);
    m.exit_recovery(t);
    m.on_rto(n, t);
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
class cubic {
public:
    static constexpr double c = 0.4;    ///< C, segments / s^3 (RFC 9438 4.1)
    static constexpr double beta = 0.7; ///< beta_cubic, the multiplicative decrease (4.6)
    /// alpha_cubic = 3 (1 - beta) / (1 + beta): W_est grows like Reno with this beta (4.3).
    static constexpr double alpha = 3.0 * (1.0 - beta) / (1.0 + beta);

    cubic(std::uint32_t mss, std::uint32_t initial_cwnd) noexcept : mss_(mss), cwnd_(initial_cwnd) {}

    [[nodiscard]] std::uint32_t cwnd() const noexcept { return static_cast<std::uint32_t>(cwnd_); }
    [[nodiscard]] std::uint32_t ssthresh() const noexcept { return ssthresh_; }
    /// W_max in segments: the window before the last reduction (after fast convergence).
    [[nodiscard]] double w_max() const noexcept { return w_max_; }
    /// K in seconds: when W_cubic returns to W_max (RFC 9438 eq. 2), for the current epoch.
    [[nodiscard]] double k() const noexcept { return k_; }
    /// W_est in segments, the Reno-friendly estimate (4.3).
    [[nodiscard]] double w_est() const noexcept { return w_est_; }
    [[nodiscard]] bool in_epoch() const noexcept { return epoch_started_; }

    /// RFC 9438 eq. 1, in segments: W_cubic(t) = C (t - K)^3 + W_max, t in seconds since the epoch.
    [[nodiscard]] double w_cubic(double t) const noexcept { return c * std::pow(t - k_, 3) + w_max_; }

    void on_ack(std::uint32_t acked, duration rtt, instant now) noexcept {
        if (cwnd_ < ssthresh_) { // slow start (RFC 9438 4.10 leaves it to RFC 5681)
            cwnd_ += std::min<double>(acked, 2.0 * mss_);
            return;
        }
        if (!epoch_started_) start_epoch(now);
        const double seg = mss_;
        const double w = cwnd_ / seg;
        const double t = (now - epoch_start_).seconds_f();
        // 4.3: W_est grows by alpha segments per window of acknowledged segments, 1 once past W_max
        const double a = w_est_ >= w_max_ ? 1.0 : alpha;
        w_est_ += a * (acked / seg) / w;
        if (w_cubic(t) < w_est_) { // 4.3: the Reno-friendly region
            cwnd_ = std::max(cwnd_, w_est_ * seg);
            return;
        }
        // 4.4 / 4.5: concave and convex regions; target = W_cubic(t + RTT) in [cwnd, 1.5 cwnd]
        const double target = std::clamp(w_cubic(t + rtt.seconds_f()), w, 1.5 * w);
        cwnd_ += (target - w) / w * acked;
    }

    /// RFC 9438 4.6 and 4.7: W_max = cwnd (or, with fast convergence, cwnd (1 + beta) / 2 when it
    /// is below the previous W_max); ssthresh = max(flight * beta, 2 SMSS); cwnd = ssthresh.
    void enter_recovery(std::uint32_t flight, instant /*now*/) noexcept {
        reduce(flight);
        cwnd_ = ssthresh_;
    }
    void exit_recovery(instant /*now*/) noexcept {}
    /// RFC 9438 4.8: as a congestion event for W_max and ssthresh, then cwnd = 1 SMSS (RFC 5681).
    void on_rto(std::uint32_t flight, instant /*now*/) noexcept {
        reduce(flight);
        cwnd_ = mss_;
    }
    void set_cwnd(std::uint32_t cw) noexcept { cwnd_ = cw; }
    void set_ssthresh(std::uint32_t s) noexcept { ssthresh_ = s; }
    void set_mss(std::uint32_t mss) noexcept { mss_ = mss; }

private:
    void reduce(std::uint32_t flight) noexcept {
        const double w = cwnd_ / mss_;
        w_max_ = w < w_max_ ? w * (1.0 + beta) / 2.0 : w; // 4.7 fast convergence
        ssthresh_ = std::max(static_cast<std::uint32_t>(flight * beta), 2 * mss_);
        epoch_started_ = false;
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

    std::uint32_t mss_;
    double cwnd_; ///< bytes
    std::uint32_t ssthresh_ = 0x7FFFFFFF;
    double w_max_ = 0; ///< segments
    double k_ = 0;     ///< seconds
    double w_est_ = 0; ///< segments
    instant epoch_start_;
    bool epoch_started_ = false;
};

static_assert(congestion_model<newreno>);
static_assert(congestion_model<cubic>);

/// The TCB's congestion control: one of the models, chosen by config::congestion.
class congestion_controller {
public:
    congestion_controller(congestion_control which, std::uint32_t mss, std::uint32_t initial_cwnd) noexcept
        : model_(which == congestion_control::cubic ? model{cubic(mss, initial_cwnd)}
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
    void set_cwnd(std::uint32_t c) noexcept {
        std::visit([&](auto& m) { m.set_cwnd(c); }, model_);
    }
    void set_mss(std::uint32_t mss) noexcept {
        std::visit([&](auto& m) { m.set_mss(mss); }, model_);
    }
    /// Changes the algorithm of a running connection (TCP_CONGESTION): the new model starts from
    /// the current cwnd and ssthresh with none of the old one's private state (CUBIC's epoch and
    /// W_max), as Linux's tcp_reinit_congestion_control does. The same algorithm: nothing changes.
    void switch_to(congestion_control which, std::uint32_t mss) noexcept {
        if (which == algorithm()) return;
        const std::uint32_t c = cwnd();
        const std::uint32_t s = ssthresh();
        *this = congestion_controller(which, mss, c);
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
