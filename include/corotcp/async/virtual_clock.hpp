// corotcp/async/virtual_clock.hpp: simulated time for deterministic tests and simulations.
//
// now() is a number that only moves when the run loop has nothing runnable and calls wait_until():
// it then jumps straight to the next deadline. Protocol time (RTOs, 2MSL, keepalives) therefore passes
// as fast as the CPU can process events, and every run with the same inputs is identical.
#pragma once

#include <cstddef>

#include "corotcp/async/timer_policy.hpp"
#include "corotcp/async/timer_wheel.hpp"

namespace corotcp {

class virtual_clock {
public:
    /// Starts the clock at `start` (the epoch of simulated time).
    explicit virtual_clock(instant start = instant{}) noexcept : now_(start), wheel_(start) {}

    [[nodiscard]] instant now() const noexcept { return now_; }

    void schedule(timer_node& node, instant deadline) noexcept { wheel_.insert(node, deadline); }
    void cancel(timer_node& node) noexcept { wheel_.erase(node); }
    std::size_t expire() { return wheel_.advance(now_); }
    [[nodiscard]] instant next_deadline() const noexcept { return wheel_.next_expiry(); }

    /// The jump: time moves to `t` at once (never backwards).
    void wait_until(instant t) noexcept {
        if (t > now_ && !t.is_never()) now_ = t;
    }
    /// Moves time forward by `d` without firing anything (the next expire() does). For tests.
    void advance(duration d) noexcept { wait_until(now_ + d); }

    /// Number of armed timers.
    [[nodiscard]] std::size_t pending() const noexcept { return wheel_.size(); }

private:
    instant now_;
    timer_wheel wheel_;
};

static_assert(timer_policy<virtual_clock>);

} // namespace corotcp
