// Tests for corotcp/async/inline_op.hpp through a connection's read, read_exactly and write.
//
// Contract: an operation is lazy (nothing happens until it is awaited); when it can complete at once
// (a write that fits the send buffer, a read whose data is already there) it completes inline, in
// await_ready, without suspending or starting a coroutine; otherwise it waits and retries, and its
// timeout counts from the first await for the whole operation (read_exactly included).
#include "corotcp/async/stack.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "../integration/harness.hpp"

namespace {

using namespace integ;

task<void> write_later(pair_t& net, conn_t& c, duration after, std::string_view text) {
    co_await net.loop().sleep_for(after);
    const auto ec = co_await c.write(text);
    REQUIRE_FALSE(ec);
}

/// Two stacks and one established connection between them (client end c, server end s).
struct connected {
    explicit connected(memory_pair_options o = {}) : net(o), l(listen(net)) {
        auto [a, b] = establish(net, l);
        c = std::move(a);
        s = std::move(b);
    }
    static listener_t listen(pair_t& net) {
        auto l = net.server().listen(7);
        REQUIRE(l);
        return std::move(*l);
    }
    pair_t net;
    listener_t l;
    conn_t c, s;
};

} // namespace

static_assert(detail::inline_operation<conn_t::read_op>);
static_assert(detail::inline_operation<conn_t::read_exactly_op>);
static_assert(detail::inline_operation<conn_t::write_op>);

TEST_CASE_METHOD(connected, "An operation is lazy: nothing is sent or read before it is awaited") {
    {
        auto w = c.write(std::string_view("never sent"));
        (void)w;
    }
    CHECK(c.tcb()->send_queue() == 0);
    REQUIRE_FALSE(net.run(c.write(std::string_view("sent"))));
    net.run_for(10_ms);
    REQUIRE(s.tcb()->recv_queue() == 4);
    {
        std::array<std::uint8_t, 4> buf{};
        auto r = s.read(buf);
        (void)r;
    }
    CHECK(s.tcb()->recv_queue() == 4); // still unread
}

TEST_CASE_METHOD(connected, "A write that fits and a read whose data is there complete inline, without suspending") {

    auto w = c.write(std::string_view("hello"));
    REQUIRE(w.await_ready()); // done in await_ready: no coroutine frame, no suspension
    CHECK_FALSE(w.await_resume());
    CHECK(c.tcb()->send_queue() == 5);

    std::array<std::uint8_t, 8> buf{};
    {
        auto r = s.read(buf);
        CHECK_FALSE(r.await_ready()); // nothing has arrived: it would have to wait
    }
    net.run_for(10_ms);
    auto r = s.read(buf);
    REQUIRE(r.await_ready());
    const auto n = r.await_resume();
    REQUIRE(n);
    CHECK(*n == 5);
    CHECK(std::string_view(reinterpret_cast<const char*>(buf.data()), 5) == "hello");

    // read_exactly: inline when all it asks for is there, else it has to wait for the rest
    REQUIRE_FALSE(net.run(c.write(std::string_view("abcdef"))));
    net.run_for(10_ms);
    std::array<std::uint8_t, 4> four{};
    auto e = s.read_exactly(four);
    REQUIRE(e.await_ready());
    REQUIRE(e.await_resume().value() == 4);
    std::array<std::uint8_t, 4> more{};
    auto m = s.read_exactly(more);
    CHECK_FALSE(m.await_ready()); // took "ef", needs two more bytes
}

TEST_CASE_METHOD(connected, "An operation that has to wait completes when the data comes, and may be awaited as an lvalue") {
    net.spawn(write_later(net, c, 50_ms, "0123456789"));
    std::array<std::uint8_t, 10> buf{};
    const instant t0 = net.now();
    auto n = net.run([](conn_t& s, std::span<std::uint8_t> b) -> task<expected<std::size_t>> {
        auto op = s.read_exactly(b);
        co_return co_await op;
    }(s, buf));
    REQUIRE(n);
    CHECK(*n == 10);
    CHECK(net.now() - t0 >= 50_ms);
    CHECK(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()) == "0123456789");
}

TEST_CASE_METHOD(connected, "read_exactly's timeout covers the whole operation, not each read within it") {
    // 10 bytes now, 10 more after 200 ms, the last 10 after 400 ms: a 300 ms timeout for all 30
    REQUIRE_FALSE(net.run(c.write(std::string_view("aaaaaaaaaa"))));
    net.spawn(write_later(net, c, 200_ms, "bbbbbbbbbb"));
    net.spawn(write_later(net, c, 400_ms, "cccccccccc"));
    std::array<std::uint8_t, 30> buf{};
    const instant t0 = net.now();
    auto n = net.run(s.read_exactly(buf, {.timeout = 300_ms}));
    REQUIRE_FALSE(n);
    CHECK(n.error() == errc::operation_timed_out);
    CHECK(net.now() - t0 == 300_ms);
}

TEST_CASE("A write larger than the send buffer waits for room and completes once all of it is queued") {
    memory_pair_options o;
    o.client.tcp.send_buffer = 4096;
    connected f(o);
    auto& [net, l, c, s] = f;
    std::vector<std::uint8_t> big(64 * 1024);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
    std::size_t queued = 0;
    {
        auto w = c.write(big);
        CHECK_FALSE(w.await_ready()); // what fits went in; the rest would have to wait
        queued = c.tcb()->send_queue();
    }
    REQUIRE(queued > 0);
    REQUIRE(queued < big.size());
    std::vector<std::uint8_t> got(big.size());
    bool read_all = false;
    net.spawn([](conn_t& s, std::span<std::uint8_t> b, bool& done) -> task<void> {
        auto n = co_await s.read_exactly(b);
        REQUIRE(n);
        CHECK(*n == b.size());
        done = true;
    }(s, got, read_all));
    // the first attempt queued the head; awaiting a fresh op queues the rest as room appears
    REQUIRE_FALSE(net.run(c.write(std::span<const std::uint8_t>(big).subspan(queued))));
    REQUIRE(net.run_until([&] { return read_all; }, 10_s));
    CHECK(got == big);
}

TEST_CASE("A request is answered in the loop turn that delivers it, and with immediate ACKs the ACK leaves first") {
    const bool delayed = GENERATE(true, false);
    memory_pair_options o;
    for (auto* st : {&o.client, &o.server}) {
        st->tcp.no_delay = true;
        st->tcp.delayed_ack = delayed;
        st->tcp.max_quick_acks = 0; // else the connection's first data is ACKed at once (quick ACK mode)
    }
    connected f(o);
    auto& [n2, l2, c2, s2] = f;
    bool answered = false;
    n2.spawn([](conn_t& srv, bool& done) -> task<void> {
        std::array<std::uint8_t, 8> b{};
        auto got = co_await srv.read_exactly(b);
        REQUIRE(got);
        REQUIRE_FALSE(co_await srv.write(std::span<const std::uint8_t>(b)));
        done = true;
    }(s2, answered));
    n2.run_for(10_ms);
    const auto back_before = n2.pipe().b_to_a().counters().sent;
    REQUIRE_FALSE(n2.run(c2.write(std::string_view("request!"))));
    // Step the loop by hand: the turn in which the server's stack receives the request must also
    // carry the answer out (no extra turn for the woken coroutine to reply).
    const auto delivered_before = n2.pipe().a_to_b().counters().delivered;
    int turns = 0;
    while (n2.pipe().a_to_b().counters().delivered == delivered_before && turns < 10) {
        n2.loop().run_once();
        ++turns;
    }
    REQUIRE(n2.pipe().a_to_b().counters().delivered > delivered_before);
    CHECK(answered);
    const auto back = n2.pipe().b_to_a().counters().sent - back_before;
    // delayed ACK: the answer carries the ACK (1 packet); immediate ACKs: a pure ACK, then the answer
    CHECK(back == (delayed ? 1u : 2u));
}

TEST_CASE("An ACK that closes the window on unsent data arms the persist timer, though it leaves nothing to send") {
    memory_pair_options o;
    o.server.tcp.recv_buffer = 4096; // the server never reads: its window closes after 4 KiB
    connected f(o);
    auto& [net, l, c, s] = f;
    std::vector<std::uint8_t> data(16 * 1024, 7);
    net.spawn([](conn_t& c, std::span<const std::uint8_t> d) -> task<void> { (void)co_await c.write(d); }(c, data));
    // The ACK with window 0 settles the client's socket without a turn (nothing can be sent):
    // the persist timer must be armed all the same, or nothing would ever probe the window.
    REQUIRE(net.run_until([&] { return c.tcb()->send_window() == 0 && c.tcb()->snd_una() == c.tcb()->snd_nxt(); }, 1_s));
    CHECK(c.tcb()->persist_deadline() != instant::never());
    const auto sent = net.pipe().a_to_b().counters().sent;
    net.run_for(2_s);
    CHECK(net.pipe().a_to_b().counters().sent > sent); // probes went out
}
