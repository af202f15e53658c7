// Tests for corotcp/async/stack.hpp: connection and listener handles that outlive their stack.
//
// Contract: destroying a basic_stack detaches every open handle. Afterwards each call on such a handle
// fails with errc::stack_destroyed (std::errc::network_down), an operation that was waiting wakes and
// fails with it, and destroying the handle (or the task that holds it) is safe. Run under ASan: a
// handle that still pointed into the stack would be a use-after-free here.
#include "corotcp/async/stack.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "corotcp/async/run_loop.hpp"
#include "corotcp/link/memory_pipe.hpp"

namespace {

using namespace corotcp;
using namespace corotcp::time_literals;

using stack_t = basic_stack<memory_pipe_end>;
using conn_t = stack_t::connection;
using listener_t = stack_t::listener;

iface::settings host(std::uint8_t last_octet) {
    iface::settings s;
    s.address = wire::ipv4_address::from_octets(10, 0, 0, last_octet);
    return s;
}

/// Two stacks on one loop, each destroyable on its own. The loop is declared first, so it (and any
/// task still spawned on it) is destroyed last: after the stacks, as in the tests' subject.
struct two_stacks {
    run_loop<> loop;
    memory_pipe pipe;
    std::unique_ptr<stack_t> client = std::make_unique<stack_t>(loop, pipe.end_a(), host(1));
    std::unique_ptr<stack_t> server = std::make_unique<stack_t>(loop, pipe.end_b(), host(2));

    [[nodiscard]] wire::ipv4_address server_address() const { return server->address(); }

    /// An established pair of handles on `l`.
    std::pair<conn_t, conn_t> establish(listener_t& l) {
        auto c = loop.run(client->connect(server_address(), l.port()));
        REQUIRE(c);
        auto s = loop.run(l.accept());
        REQUIRE(s);
        return {std::move(*c), std::move(*s)};
    }
};

template <class F>
task<void> owned(F f) {
    co_await f();
}

} // namespace

TEST_CASE("A connection and a listener outlive their stacks: every call fails with stack_destroyed, destroying them is safe") {
    two_stacks net;
    auto l = net.server->listen(80);
    REQUIRE(l);
    auto [c, s] = net.establish(*l);
    CHECK(net.client->live_handles() == 1);
    CHECK(net.server->live_handles() == 2);

    net.client.reset();
    net.server.reset();

    for (conn_t* h : {&c, &s}) {
        CHECK_FALSE(h->is_open());
        CHECK(h->state() == tcp::state::closed);
        CHECK(h->tcb() == nullptr);
        std::uint8_t buf[16] = {};
        auto n = net.loop.run(h->read(buf));
        REQUIRE_FALSE(n);
        CHECK(n.error() == errc::stack_destroyed);
        CHECK(n.error() == std::errc::network_down);
        auto w = net.loop.run(h->write(std::string_view("after the stack")));
        CHECK(w == errc::stack_destroyed);
        auto sh = net.loop.run(h->shutdown());
        CHECK(sh == errc::stack_destroyed);
        h->abort(); // no-ops, no crash
        h->close();
        // close() does not turn "your stack is gone" into a different story
        auto again = net.loop.run(h->read(buf));
        REQUIRE_FALSE(again);
        CHECK(again.error() == errc::stack_destroyed);
    }

    CHECK(l->port() == 0);
    CHECK(l->accept_queue_size() == 0);
    auto a = net.loop.run(l->accept());
    REQUIRE_FALSE(a);
    CHECK(a.error() == errc::stack_destroyed);
    l->close();
    // c, s and l are destroyed here, long after their stacks (ASan: no use-after-free)
}

TEST_CASE("read, accept and connect waiting when the stack is destroyed wake and fail with stack_destroyed") {
    two_stacks net;
    auto l = net.server->listen(80);
    REQUIRE(l);
    auto ends = net.establish(*l); // (not a structured binding: clang 14 cannot capture one)
    conn_t& c = ends.first;
    auto& pending_listener = *l;

    std::optional<expected<std::size_t>> read_result;
    std::optional<expected<conn_t>> accept_result;
    std::optional<expected<conn_t>> connect_result;
    std::uint8_t buf[64] = {};
    auto reader = [&]() -> task<void> { read_result = co_await c.read(buf); };
    auto acceptor = [&]() -> task<void> { accept_result = co_await pending_listener.accept(); };
    // A SYN that never arrives: connect() keeps waiting through its retries.
    net.pipe.a_to_b().partition();
    auto connector = [&]() -> task<void> { connect_result = co_await net.client->connect(net.server_address(), 81); };
    net.loop.spawn(owned(reader));
    net.loop.spawn(owned(acceptor));
    net.loop.spawn(owned(connector));
    net.loop.run_for(2_s);
    REQUIRE_FALSE(read_result);
    REQUIRE_FALSE(accept_result);
    REQUIRE_FALSE(connect_result);
    CHECK(net.client->live_handles() == 2); // c, and the connection inside the pending connect()

    net.client.reset();
    net.server.reset();
    REQUIRE(net.loop.run_until([&] { return read_result && accept_result && connect_result; }, 1_s));
    REQUIRE_FALSE(*read_result);
    CHECK(read_result->error() == errc::stack_destroyed);
    REQUIRE_FALSE(*accept_result);
    CHECK(accept_result->error() == errc::stack_destroyed);
    REQUIRE_FALSE(*connect_result);
    CHECK(connect_result->error() == errc::stack_destroyed);
    CHECK(net.loop.spawned_count() == 0);
}

TEST_CASE("Tasks still suspended on a destroyed stack's handles are destroyed safely with the loop") {
    two_stacks net;
    auto l = net.server->listen(80);
    REQUIRE(l);
    auto server_side = [&]() -> task<void> {
        auto s = co_await l->accept();
        if (!s) co_return;
        std::uint8_t buf[256];
        for (;;) { // echo until the stream ends (it never does: the stacks go first)
            auto n = co_await s->read(buf);
            if (!n || *n == 0) co_return;
            auto ec = co_await s->write(std::span<const std::uint8_t>(buf, *n));
            if (ec) co_return;
        }
    };
    auto client_side = [&]() -> task<void> {
        auto c = co_await net.client->connect(net.server_address(), 80);
        if (!c) co_return;
        std::vector<std::uint8_t> data(1 << 20, 0x5a);
        auto ec = co_await c->write(data);
        (void)ec;
    };
    net.loop.spawn(owned(server_side));
    net.loop.spawn(owned(client_side));
    net.loop.run_for(10_ms);
    REQUIRE(net.loop.spawned_count() == 2);
    REQUIRE(net.server->live_handles() == 2);
    // The stacks go first, the listener next, and the loop destroys the suspended tasks (and the
    // connections in their frames) last.
    net.client.reset();
    net.server.reset();
    l = errc::aborted;
}

TEST_CASE("The stack's handle list follows moves and closes, so a moved-to handle is the one detached") {
    two_stacks net;
    auto l = net.server->listen(80);
    REQUIRE(l);
    std::vector<conn_t> clients;
    for (int i = 0; i < 5; ++i) { // the vector reallocates: every handle moves at least once
        auto c = net.loop.run(net.client->connect(net.server_address(), 80));
        REQUIRE(c);
        clients.push_back(std::move(*c));
        auto s = net.loop.run(l->accept());
        REQUIRE(s);
    }
    CHECK(net.client->live_handles() == 5);

    conn_t moved_from = std::move(clients[0]);
    conn_t moved_to;
    moved_to = std::move(moved_from);
    CHECK(net.client->live_handles() == 5);
    clients[1].close();
    clients[2] = std::move(clients[3]); // closes what clients[2] held
    CHECK(net.client->live_handles() == 3);
    listener_t l2 = std::move(*l);
    CHECK(net.server->live_handles() == 1);

    net.client.reset();
    net.server.reset();
    std::uint8_t buf[4];
    auto detached = net.loop.run(moved_to.read(buf));
    REQUIRE_FALSE(detached);
    CHECK(detached.error() == errc::stack_destroyed);
    auto empty = net.loop.run(moved_from.read(buf)); // an empty handle was never on the list
    REQUIRE_FALSE(empty);
    CHECK(empty.error() == errc::not_connected);
    auto closed = net.loop.run(clients[1].read(buf));
    REQUIRE_FALSE(closed);
    CHECK(closed.error() == errc::not_connected);
    auto still = net.loop.run(clients[2].read(buf));
    REQUIRE_FALSE(still);
    CHECK(still.error() == errc::stack_destroyed);
    auto a = net.loop.run(l2.accept());
    REQUIRE_FALSE(a);
    CHECK(a.error() == errc::stack_destroyed);
    auto a_empty = net.loop.run(l->accept());
    REQUIRE_FALSE(a_empty);
    CHECK(a_empty.error() == errc::listener_closed);
}

TEST_CASE("A coroutine woken by a packet may destroy the stack that is polling it") {
    two_stacks net;
    auto l = net.server->listen(80);
    REQUIRE(l);
    auto ends = net.establish(*l);
    conn_t& c = ends.first;
    conn_t& s = ends.second;
    bool destroyed = false;
    // Woken by the client's bytes inside the server stack's poll (which lets woken coroutines run
    // before it transmits): it destroys that very stack. The poll must not touch it afterwards.
    auto killer = [&]() -> task<void> {
        std::uint8_t b[4];
        auto n = co_await s.read_exactly(b);
        REQUIRE(n);
        net.server.reset();
        destroyed = true;
    };
    net.loop.spawn(owned(killer));
    net.loop.run_for(10_ms);
    REQUIRE_FALSE(net.loop.run(c.write(std::string_view("kill"))));
    REQUIRE(net.loop.run_until([&] { return destroyed; }, 1_s));
    net.loop.run_for(1_s); // the loop goes on with the client alone (ASan: nothing freed is touched)
    CHECK(s.write(std::string_view("late")).await_ready());
    CHECK(net.server == nullptr);
}
