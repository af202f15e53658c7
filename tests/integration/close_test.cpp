// Closing connections over the in-memory pipe: four-way close, half-close, simultaneous close,
// TIME_WAIT (full TCB and compact record) and the orphaned FIN_WAIT_2 timeout.
#include "harness.hpp"

using namespace integ;

namespace {

/// A RST from the server's address to the client, with an exact sequence number.
packet rst_to_client(pair_t& net, const iface::four_tuple& client_side, std::uint32_t seq) {
    wire::tcp_repr r{};
    r.src_port = client_side.remote_port;
    r.dst_port = client_side.local_port;
    r.seq = wire::seq32(seq);
    r.flags = tcp_flags::rst;
    return make_tcp_packet(net.server_address(), net.client_address(), r);
}

/// `first` closes first (shutdown), `second` closes as soon as it reads EOF; `first` ends in
/// TIME_WAIT. (Mostly the client first; a server that closes first keeps the TIME_WAIT.)
void four_way_close(pair_t& net, conn_t& first, conn_t& second) {
    auto second_side = [&]() -> task<void> {
        std::uint8_t buf[16];
        auto n = co_await second.read(buf);
        REQUIRE(n);
        CHECK(*n == 0);
        const auto ec = co_await second.shutdown();
        CHECK(!ec);
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(second_side));
    const auto ec = net.run(first.shutdown());
    CHECK(!ec);
    REQUIRE(net.run_until([&] { return first.state() == tcp::state::time_wait && second.state() == tcp::state::closed; },
                          10_s));
}

} // namespace

TEST_CASE("Four-way close: the states of both ends after every segment") {
    pair_t net(with_delay(1_ms));
    timeline tl; // before the listener and connections: their closes call the hook
    tap t(net, &tl);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    tl.watch(net);
    t.segs.clear();
    tl.clear();
    four_way_close(net, c, s);
    net.run_for(61_s);
    INFO(tl.dump());
    const std::vector<std::string> expected{
        "client ESTABLISHED -> FIN_WAIT_1 (close)",
        "C>S [F.]",
        "server ESTABLISHED -> CLOSE_WAIT (rcv FIN)",
        "S>C [.]",
        "server CLOSE_WAIT -> LAST_ACK (close)",
        "S>C [F.]",
        "client FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)",
        "client FIN_WAIT_2 -> TIME_WAIT (rcv FIN)",
        "C>S [.]",
        "server LAST_ACK -> CLOSED (rcv ACK of FIN)",
        "client TIME_WAIT -> CLOSED (2MSL timeout)",
    };
    CHECK(tl.lines == expected);
    // The sequence numbers: each FIN occupies one number and is acknowledged exactly past it.
    REQUIRE(t.segs.size() == 4);
    CHECK(t.segs[1].ack == t.segs[0].seq + 1);
    CHECK(t.segs[2].seq == t.segs[1].seq);
    CHECK(t.segs[3].ack == t.segs[2].seq + 1);
    CHECK(t.segs[3].seq == t.segs[0].seq + 1);
}

TEST_CASE("Half-close: after the client's shutdown() the server sends 1 MiB, every byte arrives, read() == 0 only at the server's FIN") {
    pair_t net(with_delay(1_ms));
    timeline tl;
    tl.watch(net);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    const auto data = random_bytes(42, 1 << 20);
    std::error_code server_result = make_error_code(errc::aborted);
    auto server_side = [&]() -> task<void> {
        std::vector<std::uint8_t> request;
        server_result = co_await read_all(s, request); // EOF: the client half-closed
        if (server_result) co_return;
        CHECK(request.size() == 7);
        CHECK(s.state() == tcp::state::close_wait);
        server_result = co_await s.write(data);
        if (server_result) co_return;
        server_result = co_await s.shutdown();
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(server_side));
    std::vector<std::uint8_t> got;
    instant eof_at;
    net.run([&]() -> task<void> {
        const auto w = co_await c.write(std::string_view("request"));
        REQUIRE(!w);
        const auto sd = co_await c.shutdown();
        REQUIRE(!sd);
        CHECK(c.state() == tcp::state::fin_wait_2);
        const auto w2 = co_await c.write(std::string_view("too late"));
        CHECK(w2 == errc::connection_closing);
        std::vector<std::uint8_t> buf(4096);
        for (;;) {
            auto n = co_await c.read(buf);
            REQUIRE(n);
            if (*n == 0) break;
            // still receiving while half-closed (TIME_WAIT once the FIN came in behind the data)
            CHECK((c.state() == tcp::state::fin_wait_2 || c.state() == tcp::state::time_wait));
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        }
        eof_at = net.now();
    }());
    CHECK(!server_result);
    CHECK(got.size() == data.size());
    CHECK(got == data);
    const auto tw = tl.entered(true, c.endpoints().local_port, tcp::state::time_wait);
    REQUIRE(tw);
    CHECK(eof_at == *tw); // EOF exactly when the server's FIN arrived, not earlier
    CHECK(c.state() == tcp::state::time_wait);
}

TEST_CASE("Simultaneous close: both ends shutdown() at the same instant, go through CLOSING, and both end in TIME_WAIT") {
    pair_t net(with_delay(5_ms)); // the FINs cross in flight
    timeline tl;
    tl.watch(net);
    tap t(net, &tl);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    t.segs.clear();
    tl.clear();
    std::optional<std::error_code> rc, rs;
    auto close_client = [&]() -> task<void> { rc = co_await c.shutdown(); };
    auto close_server = [&]() -> task<void> { rs = co_await s.shutdown(); };
    spawn_guard g{net.loop()};
    net.spawn(owned(close_client));
    net.spawn(owned(close_server));
    REQUIRE(net.run_until([&] { return rc && rs; }, 10_s));
    net.run_for(1_s);
    INFO(tl.dump());
    CHECK(!*rc);
    CHECK(!*rs);
    const std::vector<tcp::state> path{tcp::state::fin_wait_1, tcp::state::closing, tcp::state::time_wait};
    CHECK(tl.path(true, c.endpoints().local_port) == path);
    CHECK(tl.path(false, s.endpoints().local_port) == path);
    CHECK(c.state() == tcp::state::time_wait);
    CHECK(s.state() == tcp::state::time_wait);
    CHECK(t.count([](const segment_record& x) { return x.has(tcp_flags::fin); }) == 2);
    // Both leave TIME_WAIT 2MSL after entering it.
    net.run_for(60_s);
    CHECK(c.state() == tcp::state::closed);
    CHECK(s.state() == tcp::state::closed);
}

TEST_CASE("TIME_WAIT lasts exactly 60 s of virtual time, then CLOSED (handle still held)") {
    pair_t net(with_delay(1_ms));
    timeline tl;
    tl.watch(net);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    four_way_close(net, c, s);
    const auto port = c.endpoints().local_port;
    const auto entered = tl.entered(true, port, tcp::state::time_wait);
    REQUIRE(entered);
    net.run_for(59'999'999_us - (net.now() - *entered));
    CHECK(c.state() == tcp::state::time_wait);
    net.run_for(1_us);
    CHECK(c.state() == tcp::state::closed);
    const auto closed = tl.entered(true, port, tcp::state::closed);
    REQUIRE(closed);
    CHECK((*closed - *entered).us == 60'000'000);
    CHECK(tl.changes.back().why == tcp::event::timeout_2msl);
    CHECK(!c.error());
}

TEST_CASE("A released TIME_WAIT becomes a compact record that expires 60 s after the FIN arrived") {
    pair_t net(with_delay(1_ms));
    timeline tl;
    tl.watch(net);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    four_way_close(net, c, s);
    const auto tuple = c.endpoints();
    const std::uint32_t rcv_nxt = c.tcb()->rcv_nxt().value();
    const std::uint32_t snd_nxt = c.tcb()->snd_nxt().value();
    const auto entered = tl.entered(true, tuple.local_port, tcp::state::time_wait);
    REQUIRE(entered);
    c.close();
    s.close();
    net.run_for(1_ms);
    auto& ci = net.client().iface();
    CHECK(ci.connection_count() == 0); // the TCB and its buffers are gone...
    CHECK(ci.time_wait_count() == 1);  // ...a few bytes remain
    const auto* rec = ci.find_time_wait(tuple);
    REQUIRE(rec);
    CHECK(rec->rcv_nxt.value() == rcv_nxt);
    CHECK(rec->snd_nxt.value() == snd_nxt);
    CHECK(rec->expires == *entered + 60_s);
    CHECK(net.client().netstat().find("TIME_WAIT") != std::string::npos);
    net.run_for(*entered + 60_s - net.now() - 1_us);
    CHECK(ci.time_wait_count() == 1);
    net.run_for(1_us);
    CHECK(ci.time_wait_count() == 0);
    CHECK(ci.find_time_wait(tuple) == nullptr);
    const auto closed = tl.entered(true, tuple.local_port, tcp::state::closed);
    REQUIRE(closed);
    CHECK(*closed == *entered + 60_s);
}

TEST_CASE("connect() reusing a 4-tuple in TIME_WAIT fails with address_in_use, and succeeds after 2MSL") {
    pair_t net;
    auto l = net.server().listen(80);
    {
        auto [c, s] = establish(net, *l, {.local_port = 40000});
        four_way_close(net, c, s);
    } // both handles released: the client keeps a compact TIME_WAIT record
    net.run_for(1_ms);
    REQUIRE(net.client().iface().time_wait_count() == 1);
    auto again = net.run(net.client().connect(net.server_address(), 80, {.local_port = 40000}));
    REQUIRE(!again);
    CHECK(again.error() == errc::address_in_use);
    CHECK(again.error() == std::errc::address_in_use);
    // Another local port is fine at once.
    auto other = net.run(net.client().connect(net.server_address(), 80, {.local_port = 40001}));
    CHECK(other);
    net.run_for(60_s);
    CHECK(net.client().iface().time_wait_count() == 0);
    auto later = net.run(net.client().connect(net.server_address(), 80, {.local_port = 40000}));
    REQUIRE(later);
    CHECK(later->state() == tcp::state::established);
}

namespace {
/// A connection from client port 40000, closed by the client first and released: the client keeps
/// a compact TIME_WAIT record, returned.
tcp::time_wait_record client_time_wait(pair_t& net, listener_t& l) {
    {
        auto [c, s] = establish(net, l, {.local_port = 40000});
        const auto data = random_bytes(3, 2000);
        CHECK(send_and_receive(net, c, s, data, 1_s) == data);
        four_way_close(net, c, s);
    }
    net.run_for(1_ms);
    const auto* r = net.client().iface().find_time_wait(
        iface::four_tuple{net.client_address(), 40000, net.server_address(), 80});
    REQUIRE(r);
    return *r;
}
} // namespace

TEST_CASE("tcp_tw_reuse = 1: connect() takes a TIME_WAIT 4-tuple with timestamps once it is 1 s old") {
    memory_pair_options o;
    o.client.tw_reuse = 1;
    pair_t net(std::move(o));
    timeline tl;
    tl.watch(net);
    auto l = net.server().listen(80);
    const auto old = client_time_wait(net, *l);
    REQUIRE(old.ts_ok);
    auto early = net.run(net.client().connect(net.server_address(), 80, {.local_port = 40000}));
    REQUIRE(!early);
    CHECK(early.error() == errc::address_in_use);
    net.run_for(old.began() + 1_s - net.now());
    const instant t0 = net.now();
    auto [c, s] = establish(net, *l, {.local_port = 40000});
    INFO(tl.dump());
    CHECK(net.now() - t0 < 10_ms); // the first SYN was taken
    auto& ci = net.client().iface();
    CHECK(ci.time_wait_count() == 0);
    CHECK(ci.stats().tw_reused == 1);
    CHECK(c.tcb()->iss() > old.snd_nxt + 65536u); // beyond all the old connection sent
    REQUIRE(!tl.only("client TIME_WAIT").empty());
    CHECK(tl.only("client TIME_WAIT").back() == "client TIME_WAIT -> CLOSED (connect)");
    const auto data = random_bytes(4, 3000);
    CHECK(send_and_receive(net, c, s, data, 1_s) == data);
    CHECK(send_and_receive(net, s, c, data, 1_s) == data);
}

TEST_CASE("tcp_tw_reuse with no delay: at once, with an ISN beyond the old SND.NXT + 64 KiB, never for a held TIME_WAIT") {
    memory_pair_options o;
    o.client.tw_reuse = 1;
    o.client.tw_reuse_delay = duration{};
    pair_t net(std::move(o));
    auto l = net.server().listen(80);
    SECTION("released: compact record, taken") {
        const auto old = client_time_wait(net, *l);
        auto [c, s] = establish(net, *l, {.local_port = 40000});
        CHECK(c.tcb()->iss() == old.snd_nxt + 65537u); // the clock moved a few ms: the floor decides
        CHECK(net.client().iface().stats().tw_reused == 1);
    }
    SECTION("handle held: the full TCB keeps its 4-tuple") {
        auto [c, s] = establish(net, *l, {.local_port = 40000});
        four_way_close(net, c, s);
        auto again = net.run(net.client().connect(net.server_address(), 80, {.local_port = 40000}));
        REQUIRE(!again);
        CHECK(again.error() == errc::address_in_use);
        CHECK(c.state() == tcp::state::time_wait);
    }
}

TEST_CASE("tcp_tw_reuse: 2 (the default) only for 127.0.0.0/8, 0 never, and never without timestamps") {
    CHECK(iface::settings{}.tw_reuse == 2);
    CHECK(iface::settings{}.tw_reuse_delay == 1_s);
    const bool ephemeral = GENERATE(false, true); // (before the sections: Catch2 v2 wants it so)
    CAPTURE(ephemeral);
    memory_pair_options o;
    bool reusable = false;
    SECTION("2 between 10.0.0.1 and 10.0.0.2: no") {}
    SECTION("2 between 127.0.0.1 and 10.0.0.2 (one end on loopback): yes") {
        o.client.address = wire::ipv4_address::from_octets(127, 0, 0, 1);
        o.server.route_localnet = true; // (else 127.0.0.1 is a martian source for 10.0.0.2)
        reusable = true;
    }
    SECTION("2 between 127.0.0.1 and 127.0.0.2: yes") {
        o.client.address = wire::ipv4_address::from_octets(127, 0, 0, 1);
        o.server.address = wire::ipv4_address::from_octets(127, 0, 0, 2);
        reusable = true;
    }
    SECTION("0 between 127.0.0.1 and 127.0.0.2: no") {
        o.client.address = wire::ipv4_address::from_octets(127, 0, 0, 1);
        o.server.address = wire::ipv4_address::from_octets(127, 0, 0, 2);
        o.client.tw_reuse = 0;
    }
    SECTION("1 without timestamps: no") {
        o.client.tw_reuse = 1;
        o.client.tcp.timestamps = false;
    }
    o.client.local_port_low = o.client.local_port_high = 40000; // (one ephemeral port: 40000)
    pair_t net(std::move(o));
    auto l = net.server().listen(80);
    client_time_wait(net, *l);
    net.run_for(5_s);
    auto again = net.run(net.client().connect(net.server_address(), 80, {.local_port = ephemeral ? std::uint16_t{0} : std::uint16_t{40000}}));
    CHECK(net.client().iface().stats().tw_reused == (reusable ? 1u : 0u));
    if (reusable) {
        REQUIRE(again);
        CHECK(again->endpoints().local_port == 40000);
        CHECK(again->state() == tcp::state::established);
    } else {
        REQUIRE(!again);
        CHECK(again.error() == (ephemeral ? errc::address_not_available : errc::address_in_use));
        CHECK(net.client().iface().time_wait_count() == 1);
    }
}

TEST_CASE("connect() reusing a 4-tuple whose TIME_WAIT TCB is still held fails with address_in_use") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l, {.local_port = 40000});
    four_way_close(net, c, s);
    auto again = net.run(net.client().connect(net.server_address(), 80, {.local_port = 40000}));
    REQUIRE(!again);
    CHECK(again.error() == errc::address_in_use);
}

namespace {
/// Closes as in four_way_close, but the client's last ACK is lost: the server retransmits its FIN.
/// Returns when the client re-acknowledged the retransmitted FIN.
struct lost_last_ack {
    pair_t net{with_delay(1_ms)};
    timeline tl;
    std::unique_ptr<tap> t;
    bool release_client;

    explicit lost_last_ack(bool release) : release_client(release) {
        tl.watch(net);
        t = std::make_unique<tap>(net, &tl);
    }

    void run(conn_t& c, conn_t& s) {
        bool dropped = false;
        t->drop = [&](const segment_record& x) {
            // the client's ACK of the server's FIN: the first bare ACK after the client sent its FIN
            if (dropped || !x.from_client || !x.is_pure_ack()) return false;
            return dropped = c.state() == tcp::state::time_wait || !c.is_open();
        };
        auto server_side = [&]() -> task<void> {
            std::uint8_t buf[16];
            auto n = co_await s.read(buf);
            REQUIRE(n);
            s.close(); // orphaned LAST_ACK: the stack retransmits the FIN on its own
        };
        spawn_guard g{net.loop()};
        net.spawn(owned(server_side));
        const auto ec = net.run(c.shutdown());
        REQUIRE(!ec);
        REQUIRE(net.run_until([&] { return dropped; }, 10_s));
        if (release_client) c.close();
        t->drop = {};
    }
};
} // namespace

TEST_CASE("TIME_WAIT (full TCB): a retransmitted FIN is ACKed again and restarts the 2MSL timer") {
    lost_last_ack x(false);
    auto l = x.net.server().listen(80);
    auto [c, s] = establish(x.net, *l);
    x.run(c, s);
    const auto port = c.endpoints().local_port;
    const auto first = x.tl.entered(true, port, tcp::state::time_wait);
    REQUIRE(first);
    REQUIRE(x.net.run_until([&] { return x.net.server().iface().connection_count() == 0; }, 10_s));
    INFO(x.tl.dump());
    // The server's FIN went twice, the client ACKed twice (the first ACK lost), the server closed.
    CHECK(x.t->count([](const segment_record& y) { return !y.from_client && y.has(tcp_flags::fin); }) == 2);
    const auto refin = x.tl.entered(true, port, tcp::state::time_wait); // TIME_WAIT -> TIME_WAIT (rcv FIN)
    REQUIRE(refin);
    CHECK(*refin > *first);
    CHECK(x.tl.only("client TIME_WAIT -> TIME_WAIT (rcv FIN)").size() == 1);
    x.net.run_for(*first + 60_s - x.net.now());
    CHECK(c.state() == tcp::state::time_wait); // the first 2MSL would be over now
    x.net.run_for(*refin + 60_s - x.net.now());
    CHECK(c.state() == tcp::state::closed);
    const auto closed = x.tl.entered(true, port, tcp::state::closed);
    REQUIRE(closed);
    CHECK(*closed == *refin + 60_s);
}

TEST_CASE("TIME_WAIT (compact record): a retransmitted FIN is ACKed again and restarts the 2MSL timer") {
    lost_last_ack x(true);
    auto l = x.net.server().listen(80);
    auto [c, s] = establish(x.net, *l);
    const auto tuple = c.endpoints();
    x.run(c, s);
    auto& ci = x.net.client().iface();
    x.net.run_for(1_ms);
    REQUIRE(ci.time_wait_count() == 1);
    const instant first_expiry = ci.find_time_wait(tuple)->expires;
    const std::size_t acks_before =
        x.t->count([](const segment_record& y) { return y.from_client && y.is_pure_ack(); });
    REQUIRE(x.net.run_until([&] { return x.net.server().iface().connection_count() == 0; }, 10_s));
    INFO(x.tl.dump());
    CHECK(x.t->count([](const segment_record& y) { return y.from_client && y.is_pure_ack(); }) == acks_before + 1);
    const auto* rec = ci.find_time_wait(tuple);
    REQUIRE(rec);
    const instant restarted = rec->expires;
    CHECK(restarted > first_expiry);
    // the retransmitted FIN arrived at restarted - 60 s
    const auto fin2 = std::find_if(x.t->segs.rbegin(), x.t->segs.rend(),
                                   [](const segment_record& y) { return !y.from_client && y.has(tcp_flags::fin); });
    REQUIRE(fin2 != x.t->segs.rend());
    CHECK(restarted == fin2->at + 1_ms + 60_s);
    x.net.run_for(first_expiry - x.net.now());
    CHECK(ci.time_wait_count() == 1);
    x.net.run_for(restarted - x.net.now());
    CHECK(ci.time_wait_count() == 0);
}

TEST_CASE("TIME_WAIT (full TCB): an exact RST does not end it (RFC 1337) and is not answered") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    std::optional<tap> t;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    four_way_close(net, c, s);
    t.emplace(net, &tl);
    const auto entered = tl.entered(true, c.endpoints().local_port, tcp::state::time_wait);
    net.run_for(10_s);
    net.pipe().end_b().transmit(net.now(), rst_to_client(net, c.endpoints(), c.tcb()->rcv_nxt().value()));
    net.run_for(1_ms);
    INFO(tl.dump());
    CHECK(c.state() == tcp::state::time_wait);
    CHECK(!c.error());
    CHECK(t->count([](const segment_record& x) { return x.from_client; }) == 0);
    net.run_for(*entered + 60_s - net.now() - 1_us);
    CHECK(c.state() == tcp::state::time_wait);
    net.run_for(1_us);
    CHECK(c.state() == tcp::state::closed);
}

TEST_CASE("TIME_WAIT (compact record): an exact RST does not end it (RFC 1337) and is not answered") {
    pair_t net;
    auto l = net.server().listen(80);
    iface::four_tuple tuple;
    {
        auto [c, s] = establish(net, *l);
        four_way_close(net, c, s);
        tuple = c.endpoints();
    }
    net.run_for(1_ms);
    auto& ci = net.client().iface();
    const auto* rec = ci.find_time_wait(tuple);
    REQUIRE(rec);
    const instant expires = rec->expires;
    tap t(net); // (declared after the handles: they are gone already)
    net.pipe().end_b().transmit(net.now(), rst_to_client(net, tuple, rec->rcv_nxt.value()));
    net.run_for(1_ms);
    CHECK(ci.time_wait_count() == 1);
    REQUIRE(ci.find_time_wait(tuple));
    CHECK(ci.find_time_wait(tuple)->expires == expires);
    CHECK(t.count([](const segment_record& x) { return x.from_client; }) == 0);
    CHECK(ci.stats().resets_sent == 0);
}

// ================================================================== a new incarnation ends TIME_WAIT

namespace {
/// A server that closes first keeps the TIME_WAIT (compact once released); the client then
/// connects again from the same port, as a kernel client may (RFC 1122 4.2.2.13, RFC 6191).
struct server_time_wait {
    pair_t net;
    timeline tl;
    std::unique_ptr<listener_t> l;
    iface::four_tuple server_side;
    tcp::time_wait_record old;

    explicit server_time_wait(memory_pair_options o = with_delay(1_ms), std::size_t backlog = 128) : net(std::move(o)) {
        tl.watch(net);
        auto listening = net.server().listen(80, {.backlog = backlog});
        REQUIRE(listening);
        l = std::make_unique<listener_t>(std::move(*listening));
    }
    /// One connection from port 40000 with 1000 bytes each way, closed by the server first.
    /// With `keep`, the server's handle is kept (a full TCB in TIME_WAIT) and returned.
    std::optional<conn_t> run(bool keep = false) {
        auto [c, s] = establish(net, *l, {.local_port = 40000});
        const auto data = random_bytes(7, 1000);
        CHECK(send_and_receive(net, c, s, data, 1_s) == data);
        CHECK(send_and_receive(net, s, c, data, 1_s) == data);
        four_way_close(net, s, c);
        server_side = s.endpoints();
        old = s.tcb()->to_time_wait_record();
        c.close();
        if (!keep) s.close();
        net.run_for(1_ms);
        CHECK(net.server().iface().time_wait_count() == (keep ? 0u : 1u));
        if (keep) return std::move(s);
        REQUIRE(net.server().iface().find_time_wait(server_side));
        return std::nullopt;
    }
    /// Connects from port 40000 again: the first SYN must be taken (no 1 s retransmission).
    std::pair<conn_t, conn_t> reconnect() {
        const instant t0 = net.now();
        auto [c, s] = establish(net, *l, {.local_port = 40000});
        CHECK(net.now() - t0 < 100_ms);
        CHECK(s.endpoints() == server_side);
        const auto data = random_bytes(8, 5000);
        CHECK(send_and_receive(net, c, s, data, 1_s) == data);
        CHECK(send_and_receive(net, s, c, data, 1_s) == data);
        return {std::move(c), std::move(s)};
    }
    /// A SYN from the client's address to the server's port 80, from port 40000.
    packet syn(std::uint32_t seq, std::optional<wire::tcp_timestamps> ts) {
        wire::tcp_repr r{};
        r.src_port = 40000;
        r.dst_port = 80;
        r.seq = wire::seq32(seq);
        r.flags = tcp_flags::syn;
        r.window = 65535;
        r.options.mss = 1460;
        r.options.timestamps = ts;
        return make_tcp_packet(net.client_address(), net.server_address(), r);
    }
};
} // namespace

TEST_CASE("TIME_WAIT (compact record): a new incarnation's SYN is taken by the listener at once (RFC 6191)") {
    memory_pair_options o = with_delay(1_ms);
    const bool ts = GENERATE(true, false);
    o.client.tcp.timestamps = ts;
    o.server.tcp.timestamps = ts;
    CAPTURE(ts);
    server_time_wait x(std::move(o));
    x.run();
    x.net.run_for(1_s); // the client's clock-driven ISN (RFC 6528) moves on
    auto [c, s] = x.reconnect();
    INFO(x.tl.dump());
    auto& si = x.net.server().iface();
    CHECK(si.time_wait_count() == 0);
    CHECK(si.stats().tw_new_incarnations == 1);
    CHECK(si.stats().resets_sent == 0);
    REQUIRE(!x.tl.only("server TIME_WAIT").empty());
    CHECK(x.tl.only("server TIME_WAIT").back() == "server TIME_WAIT -> CLOSED (rcv SYN)");
    // our ISN lies beyond everything the old connection sent (RFC 1122 4.2.2.13)
    CHECK(s.tcb()->iss() > x.old.snd_nxt + 65536u);
    CHECK(s.tcb()->timestamps_enabled() == ts);
}

TEST_CASE("TIME_WAIT (full TCB, handle held): a new incarnation ends it without error and the listener takes the SYN") {
    auto x = std::make_unique<server_time_wait>();
    auto held = x->run(/*keep=*/true);
    REQUIRE(held);
    REQUIRE(held->state() == tcp::state::time_wait);
    x->net.run_for(1_ms); // at once: the clock-driven ISN is still below the old SND.NXT + 64 KiB
    auto [c, s] = x->reconnect();
    INFO(x->tl.dump());
    CHECK(held->state() == tcp::state::closed);
    CHECK(!held->error());
    REQUIRE(!x->tl.only("server TIME_WAIT").empty());
    CHECK(x->tl.only("server TIME_WAIT").back() == "server TIME_WAIT -> CLOSED (rcv SYN)");
    CHECK(x->net.server().iface().stats().tw_new_incarnations == 1);
    CHECK(x->net.server().iface().connection_count() == 1); // the new one; the old is out of the table
    CHECK(s.tcb()->iss() == x->old.snd_nxt + 65537u);     // the floor (RFC 1122 4.2.2.13)
    SECTION("the old handle goes while the new connection lives") {
        held.reset();
        x->net.run_for(1_ms);
        const auto data = random_bytes(9, 100);
        CHECK(send_and_receive(x->net, c, s, data, 1_s) == data);
        c.close();
        s.close();
        x->net.run_for(61_s);
        CHECK(x->net.server().iface().connection_count() == 0);
    }
    SECTION("the stack goes while the old handle is held (nothing leaks: LeakSanitizer)") {
        x.reset();
        CHECK(held->state() == tcp::state::closed);
    }
}

TEST_CASE("TIME_WAIT: a new incarnation's SYN gets a real SYN_RCVD and an ISN beyond the old one even with tcp_syncookies = 2") {
    memory_pair_options o = with_delay(1_ms);
    o.server.syncookies = 2;
    server_time_wait x(std::move(o));
    x.run();
    const auto cookies = x.net.server().iface().stats().syncookies_sent;
    CHECK(cookies == 1); // the first connection came through one
    auto [c, s] = x.reconnect();
    CHECK(x.net.server().iface().stats().syncookies_sent == cookies);
    CHECK(x.net.server().iface().stats().tw_new_incarnations == 1);
    CHECK(s.tcb()->iss() > x.old.snd_nxt + 65536u); // (the old ISS was a cookie: no clock relation)
}

TEST_CASE("TIME_WAIT: a new incarnation's SYN meeting a full backlog is dropped, TIME_WAIT stays, and its retry is taken") {
    server_time_wait x(with_delay(1_ms), /*backlog=*/2);
    x.run();
    std::vector<conn_t> pending; // established, not accepted: the accept queue is full
    for (std::uint16_t p : {40001, 40002}) {
        auto c = x.net.run(x.net.client().connect(x.net.server_address(), 80, {.local_port = p}));
        REQUIRE(c);
        pending.push_back(std::move(*c));
    }
    x.net.run_for(5_ms);
    auto& si = x.net.server().iface();
    tap t(x.net);
    const wire::tcp_timestamps newer{x.old.ts_recent + 10, 0};
    x.net.pipe().end_a().transmit(x.net.now(), x.syn(x.old.rcv_nxt.value() + 100000, newer));
    x.net.run_for(5_ms);
    CHECK(si.stats().syn_overflow == 1);
    CHECK(si.stats().tw_new_incarnations == 0);
    CHECK(si.find_time_wait(x.server_side));
    CHECK(t.count([](const segment_record& y) { return !y.from_client; }) == 0);
    auto a = x.net.run(x.l->accept()); // room for one
    REQUIRE(a);
    x.net.pipe().end_a().transmit(x.net.now(), x.syn(x.old.rcv_nxt.value() + 100000, newer));
    x.net.run_for(5_ms);
    CHECK(si.stats().tw_new_incarnations == 1);
    CHECK(!si.find_time_wait(x.server_side));
    REQUIRE(t.count([](const segment_record& y) { return !y.from_client; }) >= 1);
    const auto& sa = *std::find_if(t.segs.begin(), t.segs.end(), [](const segment_record& y) { return !y.from_client; });
    CHECK(sa.flags == (tcp_flags::syn | tcp_flags::ack));
    CHECK(sa.seq == (x.old.snd_nxt + 65537u).value()); // the floor: the clock has hardly moved
}

TEST_CASE("TIME_WAIT: a new incarnation's SYN is taken even when a flood fills the SYN queue: only a full accept queue stops it (Linux)") {
    memory_pair_options o = with_delay(1_ms);
    o.server.syncookies = 0; // no cookies to fall back on: the SYN queue is simply full
    server_time_wait x(std::move(o), /*backlog=*/2);
    x.run();
    const auto spoofed = wire::ipv4_address::from_octets(10, 0, 0, 99); // nobody answers
    for (std::uint16_t p : {20000, 20001, 20002}) {
        wire::tcp_repr r{};
        r.src_port = p;
        r.dst_port = 80;
        r.seq = wire::seq32(1000u * p);
        r.flags = tcp_flags::syn;
        r.window = 65535;
        x.net.pipe().end_a().transmit(x.net.now(), make_tcp_packet(spoofed, x.net.server_address(), r));
    }
    x.net.run_for(1_ms);
    auto& si = x.net.server().iface();
    REQUIRE(x.l->syn_queue_size() == 2);
    CHECK(si.stats().syn_overflow == 1); // the third spoofed SYN
    tap t(x.net);
    x.net.pipe().end_a().transmit(x.net.now(), x.syn(x.old.rcv_nxt.value() + 100000, wire::tcp_timestamps{x.old.ts_recent + 10, 0}));
    x.net.run_for(5_ms);
    CHECK(si.stats().tw_new_incarnations == 1);
    CHECK(si.stats().syn_overflow == 1);
    CHECK(!si.find_time_wait(x.server_side));
    REQUIRE(t.count([](const segment_record& y) { return !y.from_client && y.flags == (tcp_flags::syn | tcp_flags::ack); }) == 1);
}

TEST_CASE("A connection that ended while its handle is held does not refuse a new SYN for its 4-tuple: the listener takes it") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l, {.local_port = 40000});
    c.abort(); // the client's RST: the server's side is CLOSED, its handle still held
    net.run_for(1_ms);
    REQUIRE(s.state() == tcp::state::closed);
    auto [c2, s2] = establish(net, *l, {.local_port = 40000}); // refused before: a RST from the old socket
    CHECK(s2.endpoints() == s.endpoints());
    CHECK(s.state() == tcp::state::closed);
    const auto data = random_bytes(11, 3000);
    CHECK(send_and_receive(net, c2, s2, data, 1_s) == data);
    CHECK(send_and_receive(net, s2, c2, data, 1_s) == data);
    CHECK(net.server().iface().stats().resets_sent == 0);
    // a non-SYN segment for a closed socket's 4-tuple with no new connection still gets a RST:
    // covered by "After TIME_WAIT ends, a segment for the connection gets a RST ..."
}

TEST_CASE("TIME_WAIT: an old SYN (not beyond RCV.NXT, or an older TSval) is ACKed and TIME_WAIT stays") {
    server_time_wait x;
    x.run();
    REQUIRE(x.old.ts_ok);
    tap t(x.net);
    auto& si = x.net.server().iface();
    const std::uint32_t rn = x.old.rcv_nxt.value();
    struct probe {
        const char* what;
        std::uint32_t seq;
        std::optional<wire::tcp_timestamps> ts;
    };
    const std::vector<probe> probes{
        {"sequence number at RCV.NXT, no timestamps", rn, std::nullopt},
        {"sequence number below RCV.NXT, no timestamps", rn - 5000, std::nullopt},
        {"sequence number beyond, TSval older than TS.Recent", rn + 100000, wire::tcp_timestamps{x.old.ts_recent - 1, 0}},
        {"sequence number at RCV.NXT, TSval equal to TS.Recent", rn, wire::tcp_timestamps{x.old.ts_recent, 0}},
    };
    const probe& p = probes[GENERATE(range<std::size_t>(0, 4))];
    CAPTURE(p.what);
    const instant sent = x.net.now();
    x.net.pipe().end_a().transmit(sent, x.syn(p.seq, p.ts));
    x.net.run_for(5_ms);
    REQUIRE(si.find_time_wait(x.server_side));
    CHECK(si.find_time_wait(x.server_side)->expires == x.old.expires);
    CHECK(si.stats().tw_new_incarnations == 0);
    REQUIRE(t.count([](const segment_record& y) { return !y.from_client; }) == 1);
    const auto& a = *std::find_if(t.segs.begin(), t.segs.end(), [](const segment_record& y) { return !y.from_client; });
    CHECK(a.flags == tcp_flags::ack);
    CHECK(a.seq == x.old.snd_nxt.value());
    CHECK(a.ack == rn);
    // timestamps were negotiated: the compact record's ACK carries them (RFC 7323 3.2)
    REQUIRE(a.ts);
    CHECK(a.ts->echo == x.old.ts_recent);
    CHECK(a.ts->value == static_cast<std::uint32_t>(a.at.us / 1000) + x.old.ts_offset);
}

TEST_CASE("TIME_WAIT: the compact record ACKs old SYNs at most once per 500 ms (RFC 5961 7)") {
    server_time_wait x;
    x.run();
    tap t(x.net);
    const std::uint32_t rn = x.old.rcv_nxt.value();
    auto acks = [&] { return t.count([](const segment_record& y) { return !y.from_client && y.flags == tcp_flags::ack; }); };
    for (int i = 0; i < 10; ++i) { // a burst of forged old SYNs
        x.net.pipe().end_a().transmit(x.net.now(), x.syn(rn - 1, std::nullopt));
        x.net.run_for(1_ms);
    }
    CHECK(acks() == 1);
    x.net.run_for(500_ms);
    x.net.pipe().end_a().transmit(x.net.now(), x.syn(rn - 1, std::nullopt));
    x.net.run_for(1_ms);
    CHECK(acks() == 2);
    REQUIRE(x.net.server().iface().find_time_wait(x.server_side));
}

TEST_CASE("TIME_WAIT: a new incarnation's SYN with no listener on the port is ACKed and TIME_WAIT stays") {
    server_time_wait x;
    x.run();
    x.l->close();
    tap t(x.net);
    x.net.pipe().end_a().transmit(x.net.now(), x.syn(x.old.rcv_nxt.value() + 100000, wire::tcp_timestamps{x.old.ts_recent + 1000, 0}));
    x.net.run_for(5_ms);
    auto& si = x.net.server().iface();
    REQUIRE(si.find_time_wait(x.server_side));
    CHECK(si.find_time_wait(x.server_side)->expires == x.old.expires); // an ACK, not a restart
    CHECK(si.stats().tw_new_incarnations == 0);
    CHECK(t.count([](const segment_record& y) { return !y.from_client && y.flags == tcp_flags::ack; }) == 1);
    CHECK(si.stats().resets_sent == 0);
}

TEST_CASE("FIN_WAIT_2 timeout: the client close()s, the server never closes, the client's socket is gone after 60 s") {
    pair_t net;
    timeline tl;
    tl.watch(net);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    const auto port = c.endpoints().local_port;
    c.close(); // orphaned: nobody can read anything more, so FIN_WAIT_2 is bounded by tcp_fin_timeout
    net.run_for(1_ms);
    CHECK(net.client().iface().connection_count() == 1);
    const auto fw2 = tl.entered(true, port, tcp::state::fin_wait_2);
    REQUIRE(fw2);
    CHECK(s.state() == tcp::state::close_wait);
    net.run_for(*fw2 + 60_s - net.now() - 1_us);
    CHECK(net.client().iface().connection_count() == 1);
    net.run_for(1_us);
    CHECK(net.client().iface().connection_count() == 0);
    CHECK(net.client().iface().time_wait_count() == 0);
    INFO(tl.dump());
    CHECK(tl.changes.back().why == tcp::event::timeout_fin_wait_2);
    CHECK(s.state() == tcp::state::close_wait); // the server still thinks it is open
    // When the server finally closes, its FIN meets nobody: a RST, and the server's socket ends.
    s.close();
    net.run_for(1_s);
    CHECK(net.server().iface().connection_count() == 0);
    CHECK(net.client().iface().stats().resets_sent == 1);
}

TEST_CASE("A FIN_WAIT_2 whose handle is still held does not time out (only orphans do, as on Linux)") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    const auto ec = net.run(c.shutdown());
    CHECK(!ec);
    net.run_for(300_s);
    CHECK(c.state() == tcp::state::fin_wait_2);
    CHECK(s.state() == tcp::state::close_wait);
    // ...and the server can still talk to it.
    const auto w = net.run(s.write(std::string_view("late")));
    CHECK(!w);
    std::uint8_t buf[8];
    auto n = net.run(c.read(buf));
    REQUIRE(n);
    CHECK(*n == 4);
}

TEST_CASE("After TIME_WAIT ends, a segment for the connection gets a RST even while the closed handle is still held") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    four_way_close(net, c, s);
    net.run_for(61_s);
    REQUIRE(c.state() == tcp::state::closed); // the handle still refers to the finished socket
    tap t(net);
    const auto tuple = c.endpoints();
    wire::tcp_repr seg{};
    seg.src_port = tuple.remote_port;
    seg.dst_port = tuple.local_port;
    seg.seq = c.tcb()->rcv_nxt() - 100; // say, an old retransmission that arrives too late
    seg.ack = c.tcb()->snd_nxt();
    seg.flags = tcp_flags::ack;
    const std::uint8_t payload[10] = {};
    seg.payload = payload;
    net.pipe().end_b().transmit(net.now(), make_tcp_packet(net.server_address(), net.client_address(), seg));
    net.run_for(1_ms);
    CHECK(net.client().iface().stats().resets_sent == 1);
    CHECK(t.count([](const segment_record& x) { return x.from_client && x.flags == tcp_flags::rst; }) == 1);
}
