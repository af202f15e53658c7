// SYN cookies between two stacks (tcp_syncookies): a SYN flood from a spoofed address fills a
// listener's SYN queue; a real client still connects, through a cookie, with its options.
#include "harness.hpp"

using namespace integ;

namespace {

const wire::ipv4_address spoofed = wire::ipv4_address::from_octets(10, 0, 0, 99); // nobody answers

/// A SYN to the server's port 80 from `src`:`port`, with the usual options (timestamps optional).
packet syn_from(wire::ipv4_address src, wire::ipv4_address dst, std::uint16_t port, std::uint32_t seq, bool ts) {
    wire::tcp_repr r{};
    r.src_port = port;
    r.dst_port = 80;
    r.seq = wire::seq32(seq);
    r.flags = tcp_flags::syn;
    r.window = 65535;
    r.options.mss = 1460;
    r.options.window_scale = 7;
    r.options.sack_permitted = true;
    if (ts) r.options.timestamps = wire::tcp_timestamps{1000, 0};
    return make_tcp_packet(src, dst, r);
}

/// A server listening on port 80 (backlog 4) whose SYN queue a flood of `n` spoofed SYNs fills.
struct flooded {
    pair_t net;
    std::unique_ptr<tap> t;
    std::unique_ptr<listener_t> l;

    explicit flooded(memory_pair_options o, int n = 20) : net(std::move(o)) {
        t = std::make_unique<tap>(net);
        auto listening = net.server().listen(80, {.backlog = 4});
        REQUIRE(listening);
        l = std::make_unique<listener_t>(std::move(*listening));
        for (int i = 0; i < n; ++i)
            net.pipe().end_a().transmit(net.now(), syn_from(spoofed, net.server_address(), static_cast<std::uint16_t>(20000 + i),
                                                            1000u * static_cast<std::uint32_t>(i), true));
        net.run_for(1_ms);
    }
    [[nodiscard]] const iface::counters& stats() { return net.server().iface().stats(); }
};

} // namespace

TEST_CASE("SYN cookies: with the SYN queue full of a flood, a client still connects and transfers both ways") {
    memory_pair_options o;
    const bool ts = GENERATE(true, false);
    CAPTURE(ts);
    o.client.tcp.timestamps = ts;
    flooded f(std::move(o));
    CHECK(f.l->syn_queue_size() == 4); // the first four spoofed SYNs hold the queue (SYN_RCVD)
    CHECK(f.stats().syncookies_sent == 16);
    CHECK(f.stats().syn_overflow == 0);
    CHECK(f.net.server().iface().connection_count() == 4); // cookies keep no state
    auto c = f.net.run(f.net.client().connect(f.net.server_address(), 80));
    REQUIRE(c);
    CHECK(f.net.now() - instant{} < 10_ms); // the first SYN got through: no retransmission
    auto s = f.net.run(f.l->accept());
    REQUIRE(s);
    CHECK(f.stats().syncookies_sent == 17);
    CHECK(f.stats().syncookies_recv == 1);
    CHECK(f.stats().syncookies_failed == 0);
    CHECK(s->state() == tcp::state::established);
    // what the cookie carried: the MSS always; window scaling and SACK only in the timestamps
    CHECK(s->tcb()->send_mss() == (ts ? 1448u : 1460u));
    CHECK(s->tcb()->timestamps_enabled() == ts);
    CHECK(s->tcb()->sack_enabled() == ts);
    CHECK(c->tcb()->sack_enabled() == ts);
    const auto data = random_bytes(11, 3'000'000); // beyond 64 KiB: the window must scale (or not) alike
    CHECK(send_and_receive(f.net, *c, *s, data, 10_s) == data);
    CHECK(send_and_receive(f.net, *s, *c, data, 10_s) == data);
    // both ends agree on the windows: nothing was sent beyond one, nothing had to be sent again
    for (const auto* e : {c->tcb(), s->tcb()}) {
        CHECK(e->stats().dropped_out_of_window == 0);
        CHECK(e->stats().retransmits == 0);
    }
}

TEST_CASE("SYN cookies: the third segment may carry data (the pure ACK lost), and it is delivered") {
    flooded f(memory_pair_options{});
    bool dropped = false;
    f.t->drop = [&](const segment_record& y) { // the client's pure ACK of the SYN-ACK
        if (dropped || !y.from_client || !y.is_pure_ack()) return false;
        return dropped = true;
    };
    auto c = f.net.run(f.net.client().connect(f.net.server_address(), 80));
    REQUIRE(c);
    REQUIRE(dropped);
    CHECK(f.stats().syncookies_recv == 0);
    const auto data = random_bytes(12, 100);
    REQUIRE(!f.net.run(c->write(data)));
    auto s = f.net.run(f.l->accept());
    REQUIRE(s);
    CHECK(f.stats().syncookies_recv == 1);
    std::vector<std::uint8_t> got(data.size());
    auto n = f.net.run(s->read_exactly(got));
    REQUIRE(n);
    CHECK(got == data);
}

TEST_CASE("SYN cookies: a forged, misdirected or stale ACK is answered with RST, and no connection is made") {
    memory_pair_options o;
    o.server.syncookies = 2; // every SYN gets a cookie
    pair_t net(std::move(o));
    tap t(net);
    auto l = net.server().listen(80);
    REQUIRE(l);
    const auto& st = net.server().iface().stats();
    auto ack_to_server = [&](std::uint16_t port, std::uint32_t seq, std::uint32_t ack,
                             std::optional<wire::tcp_timestamps> ts = std::nullopt) {
        wire::tcp_repr r{};
        r.src_port = port;
        r.dst_port = 80;
        r.seq = wire::seq32(seq);
        r.ack = wire::seq32(ack);
        r.flags = tcp_flags::ack;
        r.window = 1000;
        r.options.timestamps = ts;
        net.pipe().end_a().transmit(net.now(), make_tcp_packet(net.client_address(), net.server_address(), r));
        net.run_for(1_ms);
    };
    // before any cookie was sent, an ACK is not even looked at
    ack_to_server(41000, 5000, 123456789);
    CHECK(st.resets_sent == 1);
    CHECK(st.syncookies_failed == 0);
    // a real cookie: the client's ACK of it is lost
    t.drop = [](const segment_record& y) { return y.from_client && y.is_pure_ack(); };
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c);
    t.drop = {};
    const auto sa = std::find_if(t.segs.begin(), t.segs.end(), [](const segment_record& y) {
        return !y.from_client && y.flags == (tcp_flags::syn | tcp_flags::ack);
    });
    REQUIRE(sa != t.segs.end());
    const std::uint32_t cookie = sa->seq, client_isn = sa->ack - 1;
    const std::uint16_t port = sa->dst_port;
    REQUIRE(sa->ts); // the SYN-ACK offered timestamps: the options are in its TSval
    const wire::tcp_timestamps echo{5, sa->ts->value};
    ack_to_server(41000, 5000, 123456789, echo); // forged
    CHECK(st.syncookies_failed == 1);
    CHECK(st.resets_sent == 2);
    ack_to_server(static_cast<std::uint16_t>(port + 1), client_isn + 1, cookie + 1, echo); // another 4-tuple
    CHECK(st.syncookies_failed == 2);
    CHECK(st.resets_sent == 3);
    ack_to_server(port, client_isn + 2, cookie + 1, echo); // SEG.SEQ one off (a lost byte of data)
    CHECK(st.syncookies_failed == 3);
    ack_to_server(port, client_isn + 1, cookie + 1); // no timestamps, though the SYN-ACK had them
    CHECK(st.syncookies_failed == 4);
    CHECK(st.resets_sent == 5);
    // 130 s on (two 64 s periods and more), with a fresh cookie sent to someone else: too old
    net.run_for(130_s);
    net.pipe().end_a().transmit(net.now(), syn_from(spoofed, net.server_address(), 20000, 1, true));
    net.run_for(1_ms);
    CHECK(st.syncookies_sent == 2);
    ack_to_server(port, client_isn + 1, cookie + 1, echo);
    CHECK(st.syncookies_failed == 5);
    CHECK(st.syncookies_recv == 0);
    CHECK(l->accept_queue_size() == 0);
    CHECK(net.server().iface().connection_count() == 0);
}

TEST_CASE("SYN cookies: tcp_syncookies = 0 drops the client's SYN while the flood holds the queue") {
    memory_pair_options o;
    o.server.syncookies = 0;
    flooded f(std::move(o));
    CHECK(f.stats().syncookies_sent == 0);
    CHECK(f.stats().syn_overflow == 16);
    auto c = f.net.run(f.net.client().connect(f.net.server_address(), 80, {.timeout = 2_s}));
    REQUIRE(!c);
    CHECK(c.error() == errc::operation_timed_out); // connect_options::timeout, not the SYN retries
    CHECK(f.stats().syn_overflow == 16 + 2); // its SYN at 0 s and again at 1 s
}

TEST_CASE("SYN cookies: tcp_syncookies = 2 answers every SYN with a cookie, and the accept queue still limits") {
    memory_pair_options o;
    o.server.syncookies = 2;
    pair_t net(std::move(o));
    auto l = net.server().listen(80, {.backlog = 2});
    REQUIRE(l);
    std::vector<conn_t> conns = connect_clients(net, 80, 2);
    net.run_for(1_ms);
    CHECK(net.server().iface().stats().syncookies_sent == 2);
    CHECK(net.server().iface().stats().syncookies_recv == 2);
    CHECK(l->accept_queue_size() == 2);
    CHECK(l->syn_queue_size() == 0);
    // the accept queue is full: a third SYN is dropped, not answered with a cookie
    auto third = net.run(net.client().connect(net.server_address(), 80, {.timeout = 500_ms}));
    CHECK(!third);
    CHECK(net.server().iface().stats().syncookies_sent == 2);
    CHECK(net.server().iface().stats().syn_overflow >= 1);
    auto a = net.run(l->accept());
    REQUIRE(a);
    const auto data = random_bytes(13, 200'000);
    CHECK(send_and_receive(net, conns[0], *a, data, 5_s) == data);
}

TEST_CASE("SYN cookies: a cookie's ACK meeting a full accept queue is dropped, and the client's data later gets in") {
    pair_t net; // tcp_syncookies = 1, the default
    auto l = net.server().listen(80, {.backlog = 2});
    REQUIRE(l);
    std::vector<conn_t> conns;
    auto one = [&]() -> task<void> {
        auto c = co_await net.client().connect(net.server_address(), 80);
        REQUIRE(c);
        conns.push_back(std::move(*c));
    };
    spawn_guard g{net.loop()};
    for (int i = 0; i < 3; ++i) net.spawn(owned(one));
    // the third SYN met a full SYN queue and got a cookie: all three clients are connected at once
    REQUIRE(net.run_until([&] { return conns.size() == 3; }, 10_ms));
    net.run_for(1_ms);
    const auto& st = net.server().iface().stats();
    CHECK(st.syncookies_sent == 1);
    CHECK(st.syncookies_recv == 0);
    CHECK(st.syn_overflow == 1); // its ACK found the accept queue full (the first two)
    CHECK(l->accept_queue_size() == 2);
    auto a1 = net.run(l->accept());
    REQUIRE(a1);
    // the third client's first data carries the ACK again: the cookie is still good
    const auto data = random_bytes(14, 1000);
    REQUIRE(!net.run(conns[2].write(data)));
    net.run_for(1_ms);
    CHECK(st.syncookies_recv == 1);
    auto a2 = net.run(l->accept()); // the second client's
    auto a3 = net.run(l->accept()); // the third's, built from the cookie
    REQUIRE(a2);
    REQUIRE(a3);
    std::vector<std::uint8_t> got(data.size());
    auto n = net.run(a3->read_exactly(got));
    REQUIRE(n);
    CHECK(got == data);
}
