// corotcp/async/timer_node.hpp: an intrusive deadline, embedded in whoever waits for it.
//
// Awaitables (sleep, notifier waits) and timer policies share this one node type: the awaiter
// contains the node, the policy links it into its wheel, so arming a timer never allocates. When the
// deadline passes the policy unlinks the node and calls `on_expire` (which must not resume a
// coroutine inline: it posts to the ready queue). A node must stay at one address while linked.
#pragma once

#include <cstdint>

#include "corotcp/util/time.hpp"
#include "corotcp/util/waker.hpp"

namespace corotcp {

namespace detail {
/// Links of a circular doubly-linked list; the timer wheel's slot heads are bare links.
struct timer_link {
    timer_link* prev = nullptr;
    timer_link* next = nullptr;
};
} // namespace detail

struct timer_node : detail::timer_link {
    instant deadline = instant::never(); ///< when on_expire runs; set by the policy's schedule().
    waker on_expire;                     ///< called once, after the node has been unlinked.

    timer_node() = default;
    explicit timer_node(waker w) noexcept : on_expire(w) {}
    timer_node(const timer_node&) = delete; // the wheel points at it
    timer_node& operator=(const timer_node&) = delete;

    /// True while scheduled and not yet expired or canceled.
    [[nodiscard]] bool linked() const noexcept { return next != nullptr; }

    /// Where the policy keeps it (wheel level * 64 + slot); meaningful only while linked.
    std::uint16_t slot = 0;
};

} // namespace corotcp
