// corotcp/async/timer_policy.hpp: what "now" is and how deadlines are kept.
//
// A run loop is parameterised by a timer policy. The policy owns the clock and the set of armed
// timer_nodes; the loop asks it for the time, to fire what is due, for the next deadline, and to wait.
// Models (each static_asserts this concept next to its definition):
//
//   virtual_clock  (async/virtual_clock.hpp)  now() is a number; wait_until() jumps to the deadline.
//                                             Deterministic: a 60 s timeout passes in microseconds.
//   real_clock     (async/real_clock.hpp)     now() reads std::chrono::steady_clock; wait_until()
//                                             sleeps the thread.
//
// Both keep deadlines in a timer_wheel, so schedule/cancel are O(1) and never allocate.
#pragma once

#include <concepts>
#include <cstddef>

#include "corotcp/async/timer_node.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {

// clang-format off
template <class P>
concept timer_policy = requires(P& policy, const P& cpolicy, timer_node& node, instant t) {
    /// The current time. Cheap; may read a clock.
    { cpolicy.now() } noexcept -> std::same_as<instant>;
    /// Arm (or re-arm) `node` to expire at `t`. `node` must stay put while linked.
    { policy.schedule(node, t) } noexcept -> std::same_as<void>;
    /// Disarm `node`; a no-op if it is not armed.
    { policy.cancel(node) } noexcept -> std::same_as<void>;
    /// Fire every node due at now(): unlink it, then call its on_expire. Returns how many fired.
    { policy.expire() } -> std::same_as<std::size_t>;
    /// The earliest armed deadline (instant::never() if none). May be early, never late: the loop
    /// waits until then and calls expire(), which may find nothing due yet.
    { cpolicy.next_deadline() } noexcept -> std::same_as<instant>;
    /// Let time pass until `t` (t is finite): jump there, or sleep until then.
    { policy.wait_until(t) } -> std::same_as<void>;
};
// clang-format on

} // namespace corotcp
