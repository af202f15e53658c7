// corotcp/tcp/rtt.hpp: the retransmission timeout, RFC 6298.
//
// The estimator only does arithmetic on the samples it is given. Choosing samples is the TCB's job:
// Karn's algorithm (RFC 6298 section 3) says never to take an RTT sample from a segment that was
// retransmitted (unless timestamps, RFC 7323 section 4, disambiguate it), and at most one sample per
// RTT is taken without timestamps. Re-initialising the RTO to 3 s after a SYN timeout
// (RFC 6298 5.7) is also the TCB's decision.
//
// Arithmetic is in integer microseconds; the 1/4 and 1/8 gains truncate toward zero.
#pragma once

#include <algorithm>
#include <cstdint>

#include "corotcp/util/time.hpp"

namespace corotcp::tcp {

/// Tunables of `rtt_estimator` (also reachable as `rtt_estimator::config`). Declared outside the
/// class so that `config = {}` can be a default argument (a nested aggregate's member initializers
/// are not usable until the enclosing class is complete).
struct rtt_config {
    duration initial_rto = duration::seconds(1); // RFC 6298 2.1
    duration min_rto = duration::millis(200);    // RFC 6298 2.4 says 1 s; Linux (and we) use 200 ms
    duration max_rto = duration::seconds(120);   // RFC 6298 2.5 allows an upper bound (>= 60 s)
    duration granularity = duration::millis(1);  // G, the clock granularity (RFC 6298 section 2)
};

class rtt_estimator {
public:
    using config = rtt_config;

    explicit rtt_estimator(config cfg = {}) noexcept : cfg_(cfg) {}

    /// Takes a measured round-trip time R (negative values are treated as 0).
    ///  First sample (RFC 6298 2.2): SRTT = R, RTTVAR = R/2.
    ///  Later (2.3), in this order: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|; SRTT = 7/8 SRTT + 1/8 R.
    /// A sample also ends any exponential backoff: RTO is recomputed from the new estimate, which
    /// may "collapse" it after doubling (RFC 6298 section 5, the note after step 5.7).
    void sample(duration rtt) noexcept {
        const std::int64_t r = std::max<std::int64_t>(rtt.us, 0);
        if (!has_sample_) {
            srtt_ = r;
            rttvar_ = r / 2;
            has_sample_ = true;
        } else {
            const std::int64_t err = srtt_ > r ? srtt_ - r : r - srtt_;
            rttvar_ = (3 * rttvar_ + err) / 4;
            srtt_ = (7 * srtt_ + r) / 8;
        }
        backoffs_ = 0;
    }

    /// The current retransmission timeout: the base RTO (RFC 6298 2.2/2.3:
    /// SRTT + max(G, 4*RTTVAR), or initial_rto before any sample), clamped to [min_rto, max_rto]
    /// (2.4, 2.5), then doubled once per `backoff()` (5.5), still clamped to max_rto.
    [[nodiscard]] duration rto() const noexcept {
        std::int64_t base = has_sample_ ? srtt_ + std::max(cfg_.granularity.us, 4 * rttvar_) : cfg_.initial_rto.us;
        base = std::clamp(base, cfg_.min_rto.us, std::max(cfg_.min_rto.us, cfg_.max_rto.us));
        for (unsigned i = 0; i < backoffs_ && base < cfg_.max_rto.us; ++i) base = std::min(base * 2, cfg_.max_rto.us);
        return duration::micros(base);
    }

    /// The retransmission timer expired: double the RTO (RFC 6298 5.5).
    void backoff() noexcept {
        if (backoffs_ != ~0u) ++backoffs_;
    }
    /// Forget the backoff without a new sample. The TCB does this only when a handshake completes;
    /// after data losses it keeps the backed-off RTO until a clean sample (RFC 6298 5.3, Karn).
    void reset_backoff() noexcept { backoffs_ = 0; }
    /// How many consecutive backoffs are in effect (the TCB's retry limit reads this).
    [[nodiscard]] unsigned backoffs() const noexcept { return backoffs_; }

    [[nodiscard]] bool has_sample() const noexcept { return has_sample_; }
    /// Smoothed RTT; zero before the first sample.
    [[nodiscard]] duration srtt() const noexcept { return duration::micros(srtt_); }
    /// RTT variation; zero before the first sample.
    [[nodiscard]] duration rttvar() const noexcept { return duration::micros(rttvar_); }
    [[nodiscard]] const config& settings() const noexcept { return cfg_; }

private:
    config cfg_;
    std::int64_t srtt_ = 0;   // µs; valid only when has_sample_
    std::int64_t rttvar_ = 0; // µs; valid only when has_sample_
    unsigned backoffs_ = 0;   // number of consecutive doublings since the last sample/reset
    bool has_sample_ = false;
};

} // namespace corotcp::tcp
