// corotcp/link/concept.hpp: what the stack needs from a link.
//
// A link moves whole IPv4 datagrams (no link-layer framing) between this stack and something else:
// another stack in the same process (memory_pipe), the kernel (a TUN device), or another link that
// it wraps (tracer, pcap_link). The contract:
//
//   * `mtu()` is the largest packet, in bytes including the IP header, the link carries. The stack
//     derives its MSS from it. A link may drop (and count) a packet larger than its MTU.
//   * `transmit(now, std::move(p))` takes ownership of one packet (by value, or as `packet&&` that
//     it moves from: the wrappers and the pipe do, so that a packet is moved once on its way down,
//     not once per layer). It never blocks and never fails visibly: a packet the link cannot carry
//     is dropped, exactly as a real network may drop it.
//   * `receive(now, out)` appends to `out`, in delivery order, every packet that is deliverable at
//     `now`, and returns how many it appended. It never removes or reorders what `out` already holds,
//     so a caller can collect from several links into one batch and recycle the batch between calls.
//   * `poll_at()` is the earliest instant at which receive() may yield more without anything being
//     transmitted first (a packet delayed in flight), or instant::never() if nothing is pending. It may
//     be at or before the last `now` if packets are already deliverable. A run loop with a virtual
//     clock jumps to min(stack deadline, link poll_at()) when nothing is runnable.
//
// `now` is the caller's time. Links in this folder never read a clock themselves, which keeps them
// deterministic under a virtual clock. (A kernel-backed link that blocks on I/O adds to this contract
// in its own header; it still models this concept.)
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "corotcp/link/packet.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {

template <class L>
concept link = requires(L& l, const L& cl, packet p, packet_batch& out, instant now) {
    { cl.mtu() } -> std::convertible_to<std::size_t>;
    l.transmit(now, std::move(p));
    { l.receive(now, out) } -> std::convertible_to<std::size_t>;
    { cl.poll_at() } -> std::same_as<instant>;
};

namespace detail {
/// The least a link can be; wrappers static_assert that wrapping it still gives a link.
struct link_archetype {
    std::size_t mtu() const;
    void transmit(instant now, packet p);
    std::size_t receive(instant now, packet_batch& out);
    instant poll_at() const;
};
static_assert(link<link_archetype>);

/// A link (or a reference to one) with `bool wait(instant deadline)`: it can block until packets may
/// be ready (a real device; see blocking_link in async/stack.hpp). Wrappers forward wait() exactly
/// when the link they wrap has it, so wrapping a TUN link keeps it blocking.
template <class L>
concept waitable_link = requires(std::remove_reference_t<L>& l, instant deadline) {
    { l.wait(deadline) } -> std::convertible_to<bool>;
};
} // namespace detail

} // namespace corotcp
