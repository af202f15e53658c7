// corotcp/async/memory_pair.hpp: two stacks in one process, joined by an in-memory pipe.
//
// The basis of the tests, the deterministic simulation and the benchmarks:
//
//     corotcp::memory_pair<> net;                       // virtual clock: 2MSL passes instantly
//     auto l = net.server().listen(80);
//     net.spawn(server(std::move(*l)));
//     net.run(client(net.client(), net.server_address()));
//
// The client stack is 10.0.0.1 on the pipe's end A, the server 10.0.0.2 on end B (configurable).
// Each end is wrapped in a tracer, off unless asked for: with trace on, the client's tracer prints
// every segment of both directions once, tcpdump-style.
#pragma once

#include <utility>

#include "corotcp/async/run_loop.hpp"
#include "corotcp/async/stack.hpp"
#include "corotcp/async/virtual_clock.hpp"
#include "corotcp/link/memory_pipe.hpp"
#include "corotcp/link/tracer.hpp"

namespace corotcp {

namespace detail {
[[nodiscard]] inline iface::settings settings_for(wire::ipv4_address a) {
    iface::settings s;
    s.address = a;
    return s;
}
} // namespace detail

struct memory_pair_options {
    memory_pipe_config pipe{};
    iface::settings client = detail::settings_for(wire::ipv4_address::from_octets(10, 0, 0, 1));
    iface::settings server = detail::settings_for(wire::ipv4_address::from_octets(10, 0, 0, 2));
    bool trace = false;     ///< print every segment (seen from the client's end)
    trace_sink sink{};      ///< where trace lines go (default: stdout)
};

template <timer_policy Timer = virtual_clock, tcp::buffer_policy Buffers = tcp::heap_buffers>
class memory_pair {
public:
    using link_type = tracer<memory_pipe_end>;
    using stack_type = basic_stack<link_type, Buffers>;
    using connection = typename stack_type::connection;
    using listener = typename stack_type::listener;

    explicit memory_pair(memory_pair_options o = {})
        : pipe_(o.pipe),
          client_(loop_, link_type(pipe_.end_a(), {.name = "", .sink = o.sink, .enabled = o.trace}), o.client),
          server_(loop_, link_type(pipe_.end_b(), {.name = "", .sink = o.sink, .enabled = false}), o.server) {}

    memory_pair(const memory_pair&) = delete;
    memory_pair& operator=(const memory_pair&) = delete;
    /// Spawned tasks hold connections into the stacks: they go first.
    ~memory_pair() { loop_.destroy_spawned(); }

    [[nodiscard]] run_loop<Timer>& loop() noexcept { return loop_; }
    [[nodiscard]] stack_type& client() noexcept { return client_; }
    [[nodiscard]] stack_type& server() noexcept { return server_; }
    [[nodiscard]] memory_pipe& pipe() noexcept { return pipe_; }
    [[nodiscard]] wire::ipv4_address client_address() const noexcept { return client_.address(); }
    [[nodiscard]] wire::ipv4_address server_address() const noexcept { return server_.address(); }
    [[nodiscard]] instant now() const noexcept { return loop_.now(); }

    void spawn(task<void> t) { loop_.spawn(std::move(t)); }
    template <class T>
    T run(task<T> t) { return loop_.run(std::move(t)); }
    template <detail::inline_operation Op>
    typename Op::result_type run(Op op) { return loop_.run(std::move(op)); }
    template <class Pred>
    bool run_until(Pred&& p, duration limit) { return loop_.run_until(std::forward<Pred>(p), limit); }
    void run_for(duration d) { loop_.run_for(d); }

private:
    run_loop<Timer> loop_;
    memory_pipe pipe_;
    stack_type client_;
    stack_type server_;
};

} // namespace corotcp
