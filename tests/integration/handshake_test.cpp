// Opening connections over the in-memory pipe: the three-way handshake and its failure modes.
#include "harness.hpp"

#include <set>

using namespace integ;

namespace {

task<void> echo_once(listener_t l, std::error_code& result) {
    auto c = co_await l.accept();
    if (!c) { result = c.error(); co_return; }
    std::uint8_t buf[256];
    for (;;) {
        auto n = co_await c->read(buf);
        if (!n) { result = n.error(); co_return; }
        if (*n == 0) break;
        if (auto ec = co_await c->write(std::span<const std::uint8_t>(buf, *n))) { result = ec; co_return; }
    }
    result = co_await c->shutdown();
}

} // namespace

TEST_CASE("A client connects, writes, reads the echo, half-closes, and sees the server's FIN as read() == 0") {
    pair_t net;
    auto l = net.server().listen(7);
    REQUIRE(l);
    std::error_code server_result = make_error_code(errc::aborted);
    net.spawn(echo_once(std::move(*l), server_result));

    const std::string reply = net.run([&]() -> task<std::string> {
        auto c = co_await net.client().connect(net.server_address(), 7);
        REQUIRE(c);
        CHECK(c->state() == tcp::state::established);
        const auto w = co_await c->write(std::string_view("hello, world"));
        CHECK(!w);
        std::uint8_t buf[64];
        auto n = co_await c->read_exactly(std::span(buf, 12));
        REQUIRE(n);
        const auto sd = co_await c->shutdown();
        CHECK(!sd);
        auto eof = co_await c->read(buf);
        REQUIRE(eof);
        CHECK(*eof == 0);
        CHECK(c->state() == tcp::state::time_wait);
        co_return std::string(reinterpret_cast<const char*>(buf), *n);
    }());
    CHECK(reply == "hello, world");
    net.run_for(1_s);
    CHECK(!server_result);
    CHECK(net.server().iface().connection_count() == 0);
    CHECK(net.client().iface().time_wait_count() == 1);
}

TEST_CASE("connect() completes when the SYN-ACK arrives, while the server is still in SYN_RCVD") {
    memory_pair_options o;
    o.pipe.a_to_b.delay = 10_ms;
    o.pipe.b_to_a.delay = 10_ms;
    pair_t net(o);
    auto l = net.server().listen(80);
    REQUIRE(l);
    std::optional<conn_t> client;
    instant connected_at;
    std::size_t server_syn_queue_then = 99;
    tcp::state client_state_then = tcp::state::closed;
    spawn_guard g{net.loop()};
    net.spawn(owned([&]() -> task<void> {
        auto c = co_await net.client().connect(net.server_address(), 80);
        REQUIRE(c);
        connected_at = net.now();
        server_syn_queue_then = l->syn_queue_size();
        client_state_then = c->state();
        client = std::move(*c);
    }));
    REQUIRE(net.run_until([&] { return client.has_value(); }, 1_s));
    CHECK(connected_at.us == 20'000); // SYN 0 -> 10 ms, SYN-ACK 10 -> 20 ms
    CHECK(client_state_then == tcp::state::established);
    CHECK(server_syn_queue_then == 1);
    REQUIRE(net.run_until([&] { return l->accept_queue_size() == 1; }, 1_s));
    CHECK(net.now().us == 30'000); // the third segment lands 10 ms later
    CHECK(l->syn_queue_size() == 0);
}

TEST_CASE("The three-way handshake moves both ends through exactly CLOSED, SYN_SENT/SYN_RCVD, ESTABLISHED") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    auto l = net.server().listen(80);
    REQUIRE(l);
    spawn_guard g{net.loop()};
    std::optional<conn_t> server_conn;
    net.spawn(owned([&]() -> task<void> {
        auto c = co_await l->accept();
        REQUIRE(c);
        server_conn = std::move(*c);
    }));
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c);
    REQUIRE(net.run_until([&] { return server_conn.has_value(); }, 1_s));
    INFO(tl.dump());
    const std::vector<std::string> expected{
        "server CLOSED -> LISTEN (listen)",
        "client CLOSED -> SYN_SENT (connect)",
        "C>S [S]",
        "server LISTEN -> SYN_RCVD (rcv SYN)",
        "S>C [S.]",
        "client SYN_SENT -> ESTABLISHED (rcv SYN,ACK)",
        "C>S [.]",
        "server SYN_RCVD -> ESTABLISHED (rcv ACK of SYN)",
    };
    CHECK(tl.lines == expected);
    // The segments themselves: SYN carries ISN, the SYN-ACK acknowledges ISN+1, the ACK both.
    REQUIRE(t.segs.size() == 3);
    CHECK(t.segs[0].seq == c->tcb()->iss().value());
    CHECK(t.segs[1].ack == t.segs[0].seq + 1);
    CHECK(t.segs[1].seq == server_conn->tcb()->iss().value());
    CHECK(t.segs[2].seq == t.segs[0].seq + 1);
    CHECK(t.segs[2].ack == t.segs[1].seq + 1);
    CHECK(server_conn->state() == tcp::state::established);
    CHECK(c->endpoints().remote_port == 80);
    CHECK(server_conn->endpoints().remote_port == c->endpoints().local_port);
}

TEST_CASE("Ephemeral ports (RFC 6056 Algorithm 3): consecutive toward one destination, an unrelated offset toward another") {
    memory_pair_options o;
    o.client.isn_secret = std::array<std::uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}; // deterministic
    pair_t net(std::move(o));
    auto l80 = net.server().listen(80);
    auto l81 = net.server().listen(81);
    REQUIRE(l80);
    REQUIRE(l81);
    const auto port_to = [&](std::uint16_t dst) {
        auto c = net.run(net.client().connect(net.server_address(), dst));
        REQUIRE(c);
        const std::uint16_t p = c->endpoints().local_port;
        c->abort();
        net.run_for(1_ms);
        return p;
    };
    const auto next = [&](std::uint16_t p) { return p == 60999 ? std::uint16_t{32768} : static_cast<std::uint16_t>(p + 1); };
    const std::uint16_t a = port_to(80);
    const std::uint16_t b = port_to(80);
    const std::uint16_t c = port_to(81);
    const std::uint16_t d = port_to(80);
    for (std::uint16_t p : {a, b, c, d}) {
        CHECK(p >= 32768); // ip_local_port_range
        CHECK(p <= 60999);
    }
    CHECK(b == next(a));
    CHECK(d == next(next(b))); // the counter moved on for port 81 too
    // toward port 81 the same counter lands elsewhere: seeing the ports used toward one peer does not
    // give away the next port used toward another (this secret's offsets differ; 1 in 28,232 would not)
    CHECK(c != next(b));
}

TEST_CASE("Simultaneous open: two stacks connect to each other's fixed ports at the same instant") {
    memory_pair_options o;
    o.pipe.a_to_b.delay = 5_ms; // the SYNs cross in flight
    o.pipe.b_to_a.delay = 5_ms;
    pair_t net(o);
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    std::optional<expected<conn_t>> a, b;
    spawn_guard g{net.loop()};
    net.spawn(owned([&]() -> task<void> { a = co_await net.client().connect(net.server_address(), 6000, {.local_port = 5000}); }));
    net.spawn(owned([&]() -> task<void> { b = co_await net.server().connect(net.client_address(), 5000, {.local_port = 6000}); }));
    REQUIRE(net.run_until([&] { return a.has_value() && b.has_value(); }, 5_s));
    INFO(tl.dump());
    REQUIRE(*a);
    REQUIRE(*b);
    const std::vector<tcp::state> path{tcp::state::syn_sent, tcp::state::syn_rcvd, tcp::state::established};
    CHECK(tl.path(true, 5000) == path);
    CHECK(tl.path(false, 6000) == path);
    CHECK(t.count([](const segment_record& s) { return s.flags == tcp_flags::syn; }) == 2);
    CHECK(t.count([](const segment_record& s) { return s.flags == (tcp_flags::syn | tcp_flags::ack); }) == 2);
    CHECK(net.now().us == 10'000); // one crossing of SYNs, one of SYN-ACKs: no retransmission
    // And the connection works both ways.
    net.run([&]() -> task<void> {
        const auto w1 = co_await (*a)->write(std::string_view("ping"));
        const auto w2 = co_await (*b)->write(std::string_view("pong"));
        CHECK(!w1);
        CHECK(!w2);
        std::uint8_t x[4], y[4];
        const auto r1 = co_await (*b)->read_exactly(x);
        const auto r2 = co_await (*a)->read_exactly(y);
        CHECK(r1.value() == 4);
        CHECK(r2.value() == 4);
        CHECK(std::string_view(reinterpret_cast<char*>(x), 4) == "ping");
        CHECK(std::string_view(reinterpret_cast<char*>(y), 4) == "pong");
    }());
}

TEST_CASE("A lost third segment: the server retransmits its SYN-ACK and the client's ACK completes the open") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    bool dropped_one = false;
    t.drop = [&](const segment_record& s) {
        if (s.from_client && s.is_pure_ack() && !dropped_one) return dropped_one = true;
        return false;
    };
    auto l = net.server().listen(80);
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c);
    CHECK(net.now().us == 0);
    REQUIRE(net.run_until([&] { return l->accept_queue_size() == 1; }, 10_s));
    INFO(tl.dump());
    CHECK(dropped_one);
    CHECK(net.now().us == 1'000'000); // the SYN-ACK's retransmission timer: the initial RTO of 1 s
    CHECK(t.count([](const segment_record& s) { return s.flags == (tcp_flags::syn | tcp_flags::ack); }) == 2);
    CHECK(tl.path(false, 80) == std::vector<tcp::state>{tcp::state::syn_rcvd, tcp::state::established});
}

TEST_CASE("A lost third segment: data from the client completes the handshake without any retransmission") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    t.drop = [](const segment_record& s) { return s.from_client && s.is_pure_ack(); }; // every bare ACK
    auto l = net.server().listen(80);
    std::string got;
    spawn_guard g{net.loop()};
    net.spawn(owned([&]() -> task<void> {
        auto c = co_await l->accept();
        REQUIRE(c);
        std::uint8_t buf[16];
        auto n = co_await c->read(buf);
        REQUIRE(n);
        got.assign(reinterpret_cast<char*>(buf), *n);
    }));
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c);
    const auto w = net.run(c->write(std::string_view("GET /")));
    CHECK(!w);
    REQUIRE(net.run_until([&] { return !got.empty(); }, 10_s));
    INFO(tl.dump());
    CHECK(got == "GET /");
    CHECK(net.now().us == 0);
    CHECK(t.count([](const segment_record& s) { return s.has(tcp_flags::syn | tcp_flags::ack); }) == 1);
    CHECK(tl.only("server SYN_RCVD -> ESTABLISHED").size() == 1);
}

TEST_CASE("connect() to a partitioned server fails with timed_out after exactly 127 s (6 SYN retries)") {
    pair_t net;
    tap t(net);
    net.pipe().partition();
    const instant start = net.now();
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(!c);
    CHECK(c.error() == errc::timed_out);
    CHECK(c.error() == std::errc::timed_out);
    CHECK((net.now() - start).us == 127'000'000);
    net.run_for(1_ms); // the stack frees the failed connection at its next poll
    CHECK(net.pipe().a_to_b().counters().dropped.partition == 7); // SYNs at 0, 1, 3, 7, 15, 31, 63 s
    CHECK(net.client().iface().connection_count() == 0);
}

TEST_CASE("connect() with tcp.syn_retries = 2 fails with timed_out after exactly 7 s") {
    pair_t net;
    net.pipe().partition();
    tcp::config cfg = net.client().iface().config().tcp;
    cfg.syn_retries = 2;
    auto c = net.run(net.client().connect(net.server_address(), 80, {.tcp = cfg}));
    REQUIRE(!c);
    CHECK(c.error() == errc::timed_out);
    CHECK(net.now().us == 7'000'000);
    CHECK(net.pipe().a_to_b().counters().dropped.partition == 3);
}

TEST_CASE("The stack-wide syn_retries setting applies to connect() without per-connection settings") {
    memory_pair_options o;
    o.client.tcp.syn_retries = 1;
    pair_t net(o);
    net.pipe().partition();
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(!c);
    CHECK(c.error() == errc::timed_out);
    CHECK(net.now().us == 3'000'000);
}

TEST_CASE("A half-open connection in SYN_RCVD is dropped after 63 s and the listener's SYN queue empties") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    t.drop = [](const segment_record& s) { return s.from_client && !s.has(tcp_flags::syn); }; // only the SYN gets through
    auto l = net.server().listen(80);
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c); // the client is established: it saw the SYN-ACK
    CHECK(l->syn_queue_size() == 1);
    REQUIRE(net.run_until([&] { return l->syn_queue_size() == 0; }, 120_s));
    INFO(tl.dump());
    CHECK(net.now().us == 63'000'000); // SYN-ACKs at 0, 1, 3, 7, 15, 31 s; give up at 63 s
    CHECK(t.count([](const segment_record& s) { return s.flags == (tcp_flags::syn | tcp_flags::ack); }) == 6);
    CHECK(l->accept_queue_size() == 0);
    CHECK(net.server().iface().connection_count() == 0);
    const auto why = tl.changes.back();
    CHECK(!why.client);
    CHECK(why.from == tcp::state::syn_rcvd);
    CHECK(why.to == tcp::state::closed);
    CHECK(why.why == tcp::event::timeout_retransmit);
}

TEST_CASE("Initial sequence numbers differ per connection and do not form an arithmetic progression (RFC 6528)") {
    pair_t net;
    auto l = net.server().listen(80);
    std::vector<std::uint32_t> client_isn, server_isn;
    spawn_guard g{net.loop()};
    net.spawn(owned([&]() -> task<void> {
        for (;;) {
            auto c = co_await l->accept();
            if (!c) co_return;
            server_isn.push_back(c->tcb()->iss().value());
        }
    }));
    net.run([&]() -> task<void> {
        for (int i = 0; i < 40; ++i) {
            auto c = co_await net.client().connect(net.server_address(), 80);
            REQUIRE(c);
            client_isn.push_back(c->tcb()->iss().value());
            co_await net.loop().sleep_for(1_ms);
        }
    }());
    REQUIRE(net.run_until([&] { return server_isn.size() == 40; }, 1_s));
    for (const auto* v : {&client_isn, &server_isn}) {
        CHECK(std::set<std::uint32_t>(v->begin(), v->end()).size() == v->size());
        std::set<std::uint32_t> steps;
        for (std::size_t i = 1; i < v->size(); ++i) steps.insert((*v)[i] - (*v)[i - 1]);
        CHECK(steps.size() > v->size() / 2); // not a counter: the steps themselves look random
    }
    // Two stacks with independent secrets: the same 4-tuple would still get unrelated numbers.
    std::set<std::uint32_t> both(client_isn.begin(), client_isn.end());
    both.insert(server_isn.begin(), server_isn.end());
    CHECK(both.size() == 80);
}
