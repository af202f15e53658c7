// Resets and listener queues over the in-memory pipe: refused connections, abort(), a crashed and
// restarted peer, RST for unknown segments, the backlog and tcp_abort_on_overflow.
#include "harness.hpp"

using namespace integ;

TEST_CASE("connect() to a port with no listener fails with connection_refused at once") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    auto c = net.run(net.client().connect(net.server_address(), 9));
    REQUIRE(!c);
    CHECK(c.error() == errc::connection_refused);
    CHECK(c.error() == std::errc::connection_refused);
    CHECK(net.now().us == 0);
    INFO(tl.dump());
    CHECK(net.server().iface().stats().resets_sent == 1);
    REQUIRE(t.segs.size() == 2);
    CHECK(t.segs[1].flags == (tcp_flags::rst | tcp_flags::ack)); // RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+1>
    CHECK(t.segs[1].seq == 0);
    CHECK(t.segs[1].ack == t.segs[0].seq + 1);
    CHECK(tl.only("client SYN_SENT -> CLOSED (rcv RST)").size() == 1);
    net.run_for(1_ms);
    CHECK(net.client().iface().connection_count() == 0);
}

TEST_CASE("abort(): the peer's read fails with connection_reset, and data it had not read yet is discarded") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    const auto data = random_bytes(1, 1000);
    const auto w = net.run(c.write(data));
    REQUIRE(!w);
    net.run_for(1_ms);
    REQUIRE(s.tcb()->recv_queue() == 1000); // arrived, not read
    c.abort();
    CHECK(!c.is_open());
    net.run_for(1_ms);
    INFO(tl.dump());
    CHECK(t.count([](const segment_record& x) { return x.from_client && x.has(tcp_flags::rst); }) == 1);
    CHECK(s.state() == tcp::state::closed);
    CHECK(s.error() == errc::connection_reset);
    std::uint8_t buf[2000];
    auto n = net.run(s.read(buf));
    REQUIRE(!n);
    CHECK(n.error() == errc::connection_reset);
    CHECK(n.error() == std::errc::connection_reset);
    auto w2 = net.run(s.write(std::string_view("anyone?")));
    CHECK(w2 == errc::connection_reset);
    CHECK(net.client().iface().connection_count() == 0);
}

TEST_CASE("abort() discards the aborting side's unsent data: nothing but the RST follows it") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    tap t(net);
    const auto data = random_bytes(2, 1 << 20);
    // More than the server's window: part of it is still queued in the client when it aborts.
    std::optional<std::error_code> w;
    auto writer = [&]() -> task<void> { w = co_await c.write(data); };
    {
        spawn_guard g{net.loop()};
        net.spawn(owned(writer));
        net.run_for(10_ms);
        REQUIRE(!w); // still blocked on a full send buffer
        REQUIRE(c.tcb()->send_queue() > 0);
        c.abort();
        net.run_for(10_ms);
        REQUIRE(w);
        CHECK(*w == errc::not_connected); // the write's handle is gone
    }
    net.run_for(1_s);
    const auto rst = std::find_if(t.segs.begin(), t.segs.end(), [](const segment_record& x) { return x.has(tcp_flags::rst); });
    REQUIRE(rst != t.segs.end());
    CHECK(rst->from_client);
    CHECK(std::none_of(rst + 1, t.segs.end(), [](const segment_record& x) { return x.from_client; }));
    CHECK(s.error() == errc::connection_reset);
}

namespace {
/// Two stacks on one pipe, either of which can be destroyed and made anew (a crash and restart).
struct rig {
    using stack_t = basic_stack<memory_pipe_end>;
    run_loop<> loop;
    memory_pipe pipe;
    std::optional<stack_t> client;
    std::optional<stack_t> server;

    static iface::settings at(std::uint8_t last) {
        iface::settings s;
        s.address = wire::ipv4_address::from_octets(10, 0, 0, last);
        return s;
    }
    rig() {
        client.emplace(loop, pipe.end_a(), at(1));
        server.emplace(loop, pipe.end_b(), at(2));
    }
    ~rig() { loop.destroy_spawned(); }
    void restart_server() {
        server.reset();
        server.emplace(loop, pipe.end_b(), at(2));
    }
};
} // namespace

TEST_CASE("A crashed and restarted peer answers the client's next segment with RST: the client sees connection_reset") {
    const bool listening_again = GENERATE(false, true);
    INFO("the restarted server listens on the port again: " << listening_again);
    rig r;
    auto l = r.server->listen(80);
    REQUIRE(l);
    auto c = r.loop.run(r.client->connect(r.server->address(), 80));
    REQUIRE(c);
    {
        auto s = r.loop.run(l->accept());
        REQUIRE(s);
        const auto w = r.loop.run(c->write(std::string_view("before the crash")));
        REQUIRE(!w);
        std::uint8_t buf[64];
        REQUIRE(r.loop.run(s->read_exactly(std::span(buf, 16))).value() == 16);
    } // the crash: the server's handles and the whole stack vanish before it polls again
    *l = {};
    r.restart_server();
    std::optional<rig::stack_t::listener> l2;
    if (listening_again) l2.emplace(std::move(*r.server->listen(80)));
    const auto w = r.loop.run(c->write(std::string_view("after the crash")));
    CHECK(!w); // queued: the write itself cannot know yet
    std::uint8_t buf[64];
    auto n = r.loop.run(c->read(buf));
    REQUIRE(!n);
    CHECK(n.error() == errc::connection_reset);
    CHECK(r.server->iface().stats().resets_sent == 1);
    CHECK(c->state() == tcp::state::closed);
}

TEST_CASE("A segment for an unknown connection gets a RST built from it (RFC 9293 3.10.7.1)") {
    pair_t net;
    tap t(net);
    auto l = net.server().listen(80); // a listener on another port changes nothing
    wire::tcp_repr seg{};
    seg.src_port = 1234;
    seg.dst_port = 4321;
    seg.seq = wire::seq32(1000);
    seg.ack = wire::seq32(777777);
    seg.flags = tcp_flags::ack | tcp_flags::psh;
    const std::uint8_t payload[5] = {1, 2, 3, 4, 5};
    seg.payload = payload;
    net.pipe().end_a().transmit(net.now(), make_tcp_packet(net.client_address(), net.server_address(), seg));
    net.run_for(1_ms);
    CHECK(net.server().iface().stats().resets_sent == 1);
    REQUIRE(t.segs.size() == 2);
    CHECK(t.segs[1].flags == tcp_flags::rst); // <SEQ=SEG.ACK><CTL=RST>
    CHECK(t.segs[1].seq == 777777);
    CHECK(t.segs[1].src_port == 4321);
    CHECK(t.segs[1].dst_port == 1234);
    // A RST for an unknown connection is never answered.
    seg.flags = tcp_flags::rst;
    seg.payload = {};
    net.pipe().end_a().transmit(net.now(), make_tcp_packet(net.client_address(), net.server_address(), seg));
    net.run_for(1_ms);
    CHECK(net.server().iface().stats().resets_sent == 1);
    // An ACK to the listening port (no such connection) is reset too.
    seg.flags = tcp_flags::ack;
    seg.dst_port = 80;
    net.pipe().end_a().transmit(net.now(), make_tcp_packet(net.client_address(), net.server_address(), seg));
    net.run_for(1_ms);
    CHECK(net.server().iface().stats().resets_sent == 2);
    CHECK(net.server().iface().connection_count() == 0);
}

TEST_CASE("Backlog 2: the third SYN is dropped while the accept queue is full, and gets in once accept() drains it") {
    memory_pair_options o;
    o.server.syncookies = 0; // (with SYN cookies the third SYN, meeting a full SYN queue, gets one: syncookie_test)
    pair_t net(o);
    auto l = net.server().listen(80, {.backlog = 2});
    std::vector<std::pair<instant, std::error_code>> done;
    std::vector<conn_t> conns;
    auto one = [&]() -> task<void> {
        auto c = co_await net.client().connect(net.server_address(), 80);
        done.emplace_back(net.now(), c ? std::error_code{} : c.error());
        if (c) conns.push_back(std::move(*c));
    };
    spawn_guard g{net.loop()};
    for (int i = 0; i < 3; ++i) net.spawn(owned(one));
    REQUIRE(net.run_until([&] { return done.size() == 2; }, 1_s));
    CHECK(net.now().us == 0);
    net.run_for(2_s);
    CHECK(done.size() == 2);
    CHECK(l->accept_queue_size() == 2);
    CHECK(l->syn_queue_size() == 0);
    const auto overflows = net.server().iface().stats().syn_overflow;
    CHECK(overflows == 2); // the SYN at 0 s and its retransmission at 1 s
    CHECK(net.server().iface().stats().resets_sent == 0);
    auto a = net.run(l->accept());
    REQUIRE(a);
    REQUIRE(net.run_until([&] { return done.size() == 3; }, 10_s));
    CHECK(net.now().us == 3'000'000); // the next SYN retransmission
    CHECK(!done[2].second);
    CHECK(l->accept_queue_size() == 2);
    CHECK(net.server().iface().stats().syn_overflow == overflows);
    auto a2 = net.run(l->accept());
    auto a3 = net.run(l->accept());
    CHECK(a2);
    CHECK(a3);
}

TEST_CASE("Backlog 2: an ACK completing a handshake while the accept queue is full is ignored, or with abort_on_overflow reset (Linux)") {
    const bool abort_on_overflow = GENERATE(false, true);
    CAPTURE(abort_on_overflow);
    memory_pair_options o;
    o.server.abort_on_overflow = abort_on_overflow;
    o.server.syncookies = 0;
    pair_t net(o);
    auto l = net.server().listen(80, {.backlog = 2});
    tap t(net);
    // an embryonic connection from an address the client stack does not answer for: we play it
    const auto x = wire::ipv4_address::from_octets(10, 0, 0, 99);
    wire::tcp_repr r{};
    r.src_port = 20000;
    r.dst_port = 80;
    r.seq = wire::seq32(5000);
    r.flags = tcp_flags::syn;
    r.window = 65535;
    net.pipe().end_a().transmit(net.now(), make_tcp_packet(x, net.server_address(), r));
    net.run_for(1_ms);
    REQUIRE(l->syn_queue_size() == 1);
    const auto syn_ack = std::find_if(t.segs.begin(), t.segs.end(), [](const segment_record& y) { return !y.from_client && y.dst_port == 20000; });
    REQUIRE(syn_ack != t.segs.end());
    const std::uint32_t server_isn = syn_ack->seq; // (t.segs grows below)
    // two real clients fill the accept queue (the SYN queue has room for each in turn)
    std::vector<conn_t> conns = connect_clients(net, 80, 2);
    net.run_for(1_ms);
    REQUIRE(l->accept_queue_size() == 2);
    // SYNs meeting the full accept queue are dropped, never reset, whatever abort_on_overflow says
    auto refused = net.run(net.client().connect(net.server_address(), 80, {.timeout = 500_ms}));
    CHECK(!refused);
    CHECK(refused.error() == errc::operation_timed_out);
    CHECK(net.server().iface().stats().resets_sent == 0);
    // now the embryonic connection's handshake completes: no room for it
    const auto overflows = net.server().iface().stats().syn_overflow;
    r.flags = tcp_flags::ack;
    r.seq = wire::seq32(5001);
    r.ack = wire::seq32(server_isn + 1);
    const std::size_t before = t.segs.size();
    net.pipe().end_a().transmit(net.now(), make_tcp_packet(x, net.server_address(), r));
    net.run_for(1_ms);
    CHECK(net.server().iface().stats().syn_overflow == overflows + 1);
    const auto rst = std::find_if(t.segs.begin() + static_cast<std::ptrdiff_t>(before), t.segs.end(),
                                  [](const segment_record& y) { return !y.from_client && y.has(tcp_flags::rst); });
    if (abort_on_overflow) {
        REQUIRE(rst != t.segs.end());
        CHECK(rst->dst_port == 20000);
        CHECK(rst->seq == server_isn + 1);
        CHECK(l->syn_queue_size() == 0);
    } else {
        CHECK(rst == t.segs.end());
        CHECK(l->syn_queue_size() == 1); // still SYN_RCVD: the ACK was ignored
        auto a = net.run(l->accept());  // room again: the peer's next ACK gets in
        REQUIRE(a);
        net.pipe().end_a().transmit(net.now(), make_tcp_packet(x, net.server_address(), r));
        net.run_for(1_ms);
        CHECK(l->syn_queue_size() == 0);
        CHECK(l->accept_queue_size() == 2);
    }
    CHECK(net.server().iface().stats().resets_sent == (abort_on_overflow ? 1u : 0u));
}

TEST_CASE("Destroying a listener fails a pending accept() and frees the port") {
    pair_t net;
    auto l = net.server().listen(80);
    std::optional<std::error_code> accepted;
    auto acceptor = [&]() -> task<void> {
        auto a = co_await l->accept();
        accepted = a ? std::error_code{} : a.error();
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(acceptor));
    net.run_for(1_s);
    CHECK(!accepted);
    *l = {}; // the listener handle is destroyed
    net.run_for(1_ms);
    REQUIRE(accepted);
    CHECK((*accepted == errc::listener_closed || *accepted == errc::operation_canceled));
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(!c);
    CHECK(c.error() == errc::connection_refused);
    CHECK(net.server().listen(80)); // the port is free again
}

TEST_CASE("Closing a listener resets its embryonic and unaccepted connections, accepted ones live on") {
    pair_t net;
    tap t(net);
    auto l = net.server().listen(80);
    auto accepted = establish(net, *l);
    auto unaccepted = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(unaccepted);
    net.run_for(1_ms);
    REQUIRE(l->accept_queue_size() == 1);
    t.drop = [](const segment_record& x) { return x.from_client && x.is_pure_ack(); }; // the next stays embryonic
    auto embryonic = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(embryonic); // the client saw the SYN-ACK
    REQUIRE(l->syn_queue_size() == 1);
    t.drop = {};
    l->close();
    net.run_for(1_ms);
    std::uint8_t buf[4];
    for (auto* c : {&*unaccepted, &*embryonic}) {
        auto n = net.run(c->read(buf));
        REQUIRE(!n);
        CHECK(n.error() == errc::connection_reset);
    }
    CHECK(accepted.first.state() == tcp::state::established);
    CHECK(accepted.second.state() == tcp::state::established);
    CHECK(net.server().iface().connection_count() == 1);
}
