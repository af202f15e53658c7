// corotcp/async/real_clock.hpp: wall time from std::chrono::steady_clock.
//
// now() is steady_clock's time since its epoch in microseconds; wait_until() sleeps the thread until
// the deadline. Deadlines are kept in a timer_wheel. This is the policy for talking to the real world
// (the TUN link); tests that need determinism use virtual_clock instead.
#pragma once

#include <chrono>
#include <cstddef>
#include <thread>

#include "corotcp/async/timer_policy.hpp"
#include "corotcp/async/timer_wheel.hpp"

namespace corotcp {

class real_clock {
public:
    using clock = std::chrono::steady_clock;

    real_clock() noexcept : wheel_(read()) {}

    [[nodiscard]] instant now() const noexcept { return read(); }

    void schedule(timer_node& node, instant deadline) noexcept { wheel_.insert(node, deadline); }
    void cancel(timer_node& node) noexcept { wheel_.erase(node); }
    std::size_t expire() { return wheel_.advance(read()); }
    [[nodiscard]] instant next_deadline() const noexcept { return wheel_.next_expiry(); }

    /// Sleeps the calling thread until `t` (returns at once if `t` has passed). Sleeps of more than
    /// an hour are cut to an hour (the loop then simply waits again), which keeps the conversion to
    /// nanoseconds far from overflow.
    void wait_until(instant t) const {
        const instant cap = read() + duration::seconds(3600);
        std::this_thread::sleep_until(to_time_point(earliest(t, cap)));
    }

    /// Number of armed timers.
    [[nodiscard]] std::size_t pending() const noexcept { return wheel_.size(); }

    /// Conversions at the boundary between corotcp time and std::chrono.
    [[nodiscard]] static instant from_time_point(clock::time_point tp) noexcept {
        return instant{std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count()};
    }
    [[nodiscard]] static clock::time_point to_time_point(instant t) noexcept {
        return clock::time_point{std::chrono::duration_cast<clock::duration>(std::chrono::microseconds{t.us})};
    }

private:
    [[nodiscard]] static instant read() noexcept { return from_time_point(clock::now()); }

    timer_wheel wheel_;
};

static_assert(timer_policy<real_clock>);

} // namespace corotcp
