// The coroutine API over the in-memory pipe: per-operation timeouts and cancellation, handles
// destroyed mid-way, netstat(), and ICMP echo.
#include "harness.hpp"

#include <stop_token>

using namespace integ;

TEST_CASE("read() with a timeout returns operation_timed_out after exactly that long, and the connection still works") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    const instant start = net.now();
    std::uint8_t buf[16];
    auto n = net.run(c.read(buf, {.timeout = 250_ms}));
    REQUIRE(!n);
    CHECK(n.error() == errc::operation_timed_out);
    CHECK(n.error() == std::errc::timed_out);
    CHECK((net.now() - start).us == 250'000);
    CHECK(c.state() == tcp::state::established);
    CHECK(!c.error());
    const auto w = net.run(s.write(std::string_view("still here")));
    CHECK(!w);
    auto m = net.run(c.read(buf, {.timeout = 250_ms}));
    REQUIRE(m);
    CHECK(std::string_view(reinterpret_cast<char*>(buf), *m) == "still here");
}

TEST_CASE("write() with a timeout returns operation_timed_out when the peer does not read") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    const auto data = random_bytes(3, 1 << 20); // more than both buffers together
    const auto w = net.run(c.write(data, {.timeout = 5_s}));
    CHECK(w == errc::operation_timed_out);
    CHECK(c.state() == tcp::state::established);
    // The peer drains what arrived; the connection carries on.
    std::vector<std::uint8_t> got;
    auto reader = [&]() -> task<void> {
        std::vector<std::uint8_t> buf(64 * 1024);
        while (got.size() < 256 * 1024) {
            auto n = co_await s.read(buf);
            REQUIRE(n);
            REQUIRE(*n > 0);
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
        }
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(reader));
    REQUIRE(net.run_until([&] { return got.size() >= 256 * 1024; }, 60_s));
    CHECK(std::equal(got.begin(), got.begin() + 256 * 1024, data.begin()));
}

TEST_CASE("A std::stop_source cancels a pending read() with operation_canceled, the connection survives") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    std::stop_source stop;
    std::optional<expected<std::size_t>> result;
    std::uint8_t buf[16];
    // (named options: GCC 12 destroys a braced temporary inside a co_await expression twice)
    auto reader = [&]() -> task<void> {
        const op_options o{.stop = stop.get_token()};
        result = co_await c.read(buf, o);
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(reader));
    net.run_for(3_s);
    CHECK(!result);
    stop.request_stop();
    REQUIRE(net.run_until([&] { return result.has_value(); }, 1_ms));
    REQUIRE(!*result);
    CHECK(result->error() == errc::operation_canceled);
    CHECK(result->error() == std::errc::operation_canceled);
    CHECK(net.now().us < 3'001'000);
    // An already-stopped token completes at once without reading.
    const auto w = net.run(s.write(std::string_view("x")));
    CHECK(!w);
    net.run_for(1_ms);
    const op_options stopped{.stop = stop.get_token()};
    auto again = net.run(c.read(buf, stopped));
    // data is ready: a read that need not wait succeeds even with a stopped token
    REQUIRE(again);
    CHECK(*again == 1);
    CHECK(c.state() == tcp::state::established);
}

TEST_CASE("A std::stop_source cancels a pending accept() with operation_canceled, the listener still accepts") {
    pair_t net;
    auto l = net.server().listen(80);
    std::stop_source stop;
    std::optional<expected<conn_t>> result;
    auto acceptor = [&]() -> task<void> {
        const op_options o{.stop = stop.get_token()};
        result = co_await l->accept(o);
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(acceptor));
    net.run_for(1_s);
    CHECK(!result);
    stop.request_stop();
    REQUIRE(net.run_until([&] { return result.has_value(); }, 1_ms));
    REQUIRE(!*result);
    CHECK(result->error() == errc::operation_canceled);
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c);
    auto a = net.run(l->accept({.timeout = 1_s}));
    CHECK(a);
}

TEST_CASE("accept() with a timeout returns operation_timed_out") {
    pair_t net;
    auto l = net.server().listen(80);
    auto a = net.run(l->accept({.timeout = 2_s}));
    REQUIRE(!a);
    CHECK(a.error() == errc::operation_timed_out);
    CHECK(net.now().us == 2'000'000);
}

TEST_CASE("A std::stop_source cancels a pending connect(): the half-open attempt is aborted") {
    pair_t net;
    net.pipe().b_to_a().partition(); // the SYN-ACKs never arrive
    auto l = net.server().listen(80);
    std::stop_source stop;
    std::optional<expected<conn_t>> result;
    auto connector = [&]() -> task<void> {
        const connect_options o{.stop = stop.get_token()};
        result = co_await net.client().connect(net.server_address(), 80, o);
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(connector));
    net.run_for(2_s);
    stop.request_stop();
    REQUIRE(net.run_until([&] { return result.has_value(); }, 1_ms));
    REQUIRE(!*result);
    CHECK(result->error() == errc::operation_canceled);
    net.run_for(1_ms);
    CHECK(net.client().iface().connection_count() == 0);
}

TEST_CASE("Destroying a connection with data still queued closes it in order: the peer reads every byte, then EOF") {
    pair_t net;
    auto l = net.server().listen(80);
    const auto data = random_bytes(4, 300 * 1024); // more than the buffers: the close waits behind it
    std::optional<std::error_code> write_result;
    auto server_side = [&]() -> task<void> {
        auto s = co_await l->accept();
        REQUIRE(s);
        write_result = co_await s->write(data);
        // s goes out of scope here with up to 128 KiB still in its send buffer
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(server_side));
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(c);
    std::vector<std::uint8_t> got;
    const auto ec = net.run(read_all(*c, got));
    CHECK(!ec);
    REQUIRE(write_result);
    CHECK(!*write_result);
    CHECK(got == data);
    CHECK(c->state() == tcp::state::close_wait);
    c->close();
    net.run_for(1_s);
    CHECK(net.client().iface().connection_count() == 0);
    CHECK(net.server().iface().connection_count() == 0);
    CHECK(net.server().iface().time_wait_count() == 1);
}

TEST_CASE("Destroying a connection while another task's read() is pending: the read ends, nothing dangles, the peer sees EOF") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c0, s] = establish(net, *l);
    auto c = std::make_unique<conn_t>(std::move(c0));
    std::optional<expected<std::size_t>> result;
    std::uint8_t buf[16];
    auto reader = [&]() -> task<void> { result = co_await c->read(buf); };
    spawn_guard g{net.loop()};
    net.spawn(owned(reader));
    net.run_for(1_s);
    CHECK(!result);
    auto destroyer = [&]() -> task<void> {
        c.reset();
        co_return;
    };
    net.spawn(owned(destroyer));
    REQUIRE(net.run_until([&] { return result.has_value(); }, 1_s));
    REQUIRE(!*result);
    CHECK(result->error() == errc::operation_canceled);
    auto n = net.run(s.read(buf));
    REQUIRE(n);
    CHECK(*n == 0);
}

TEST_CASE("Destroying the whole pair mid-transfer leaks nothing (ASan)") {
    const auto data = random_bytes(5, 512 * 1024);
    auto net = std::make_unique<pair_t>(with_delay(10_ms));
    auto l = net->server().listen(80);
    auto server_side = [&]() -> task<void> {
        for (;;) {
            auto s = co_await l->accept();
            if (!s) co_return;
            std::vector<std::uint8_t> sink;
            co_await read_all(*s, sink);
        }
    };
    auto client_side = [&]() -> task<void> {
        auto c = co_await net->client().connect(net->server_address(), 80);
        REQUIRE(c);
        co_await c->write(data);
    };
    net->spawn(owned(server_side));
    net->spawn(owned(client_side));
    net->run_for(50_ms);
    CHECK(net->client().iface().connection_count() == 1);
    CHECK(net->server().iface().connection_count() == 1);
    l = errc::aborted; // the listener handle goes first (it refers to the stack)
    net.reset();       // spawned tasks (holding connections), then the stacks
}

TEST_CASE("netstat() shows every connection with its state, and listeners with their queues") {
    pair_t net;
    auto l = net.server().listen(80, {.backlog = 5});
    auto [c, s] = establish(net, *l);
    auto c2 = net.run(net.client().connect(net.server_address(), 80)); // not accepted
    REQUIRE(c2);
    net.run_for(1_ms);
    const std::string cs = net.client().netstat();
    const std::string ss = net.server().netstat();
    INFO(cs << ss);
    CHECK(cs.find("ESTABLISHED") != std::string::npos);
    CHECK(cs.find("10.0.0.2:80") != std::string::npos);
    CHECK(ss.find("LISTEN") != std::string::npos);
    // a listener's row, as ss(8) prints it: Recv-Q = connections waiting for accept(), Send-Q = backlog
    const auto row = ss.substr(ss.find('\n') + 1, ss.find('\n', ss.find('\n') + 1) - ss.find('\n') - 1);
    CHECK(row.find("10.0.0.2:80") != std::string::npos);
    std::istringstream cols(row);
    std::string proto, local, remote, state, sendq, recvq;
    cols >> proto >> local >> remote >> state >> sendq >> recvq;
    CHECK(state == "LISTEN");
    CHECK(sendq == "5");
    CHECK(recvq == "1");
    const auto w = net.run(c.write(std::string_view("12345")));
    CHECK(!w);
    const auto sd = net.run(c.shutdown());
    CHECK(!sd);
    const std::string cs2 = net.client().netstat();
    const std::string ss2 = net.server().netstat();
    INFO(cs2 << ss2);
    CHECK(cs2.find("FIN_WAIT_2") != std::string::npos);
    CHECK(ss2.find("CLOSE_WAIT   5") == std::string::npos); // Send-Q column is the server's own
    CHECK(ss2.find("CLOSE_WAIT") != std::string::npos);
    // the server's Recv-Q holds the 5 unread bytes
    bool found = false;
    std::istringstream lines(ss2);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream f(line);
        f >> proto >> local >> remote >> state >> sendq >> recvq;
        if (state == "CLOSE_WAIT") {
            found = true;
            CHECK(sendq == "0");
            CHECK(recvq == "5");
        }
    }
    CHECK(found);
}

TEST_CASE("An ICMP echo request to a stack gets an echo reply with the same id, sequence and data") {
    pair_t net;
    std::vector<std::vector<std::uint8_t>> replies;
    net.pipe().b_to_a().set_filter([&](std::span<const std::uint8_t> b) {
        replies.emplace_back(b.begin(), b.end());
        return true; // keep it away from the client stack
    });
    const std::uint8_t payload[] = {'p', 'i', 'n', 'g', 0, 1, 2, 3, 4, 5, 6, 7};
    const auto req = wire::icmp_repr::echo_request(0x1234, 7, payload);
    packet p(wire::ipv4_header_len + req.buffer_len());
    const wire::ipv4_repr ip{net.client_address(), net.server_address(), wire::ip_protocol::icmp, 64, 99, true,
                             static_cast<std::uint16_t>(req.buffer_len())};
    ip.emit(p.bytes());
    req.emit(p.bytes().subspan(wire::ipv4_header_len));
    net.pipe().end_a().transmit(net.now(), std::move(p));
    net.run_for(1_ms);
    REQUIRE(replies.size() == 1);
    const auto v = wire::ipv4_view::from_bytes(replies[0]);
    REQUIRE(v);
    const auto rip = wire::ipv4_repr::parse(*v);
    REQUIRE(rip);
    CHECK(rip->src == net.server_address());
    CHECK(rip->dst == net.client_address());
    CHECK(rip->protocol == wire::ip_protocol::icmp);
    const auto reply = wire::icmp_repr::parse(v->payload());
    REQUIRE(reply);
    CHECK(reply->type == wire::icmp_type::echo_reply);
    CHECK(reply->id == 0x1234);
    CHECK(reply->seq == 7);
    CHECK(std::equal(reply->data.begin(), reply->data.end(), std::begin(payload), std::end(payload)));
    CHECK(net.server().iface().stats().icmp_echo_replies == 1);
    // A request with a bad checksum is counted and not answered.
    packet bad(wire::ipv4_header_len + req.buffer_len());
    ip.emit(bad.bytes());
    req.emit(bad.bytes().subspan(wire::ipv4_header_len));
    bad.bytes()[wire::ipv4_header_len + 8] ^= 0xFF;
    net.pipe().end_a().transmit(net.now(), std::move(bad));
    net.run_for(1_ms);
    CHECK(replies.size() == 1);
    CHECK(net.server().iface().stats().malformed == 1);
}

// ================================================================== what IP drops before TCP sees it

namespace {
/// A SYN for port 80 from `src`:40000 to the server, as raw bytes (IP options appended when given).
packet syn_from(pair_t& net, wire::ipv4_address src, std::vector<std::uint8_t> ip_options = {}) {
    wire::tcp_repr r{};
    r.src_port = 40000;
    r.dst_port = 80;
    r.seq = wire::seq32(1234);
    r.flags = tcp_flags::syn;
    r.window = 65535;
    r.options.mss = 1460;
    const packet plain = make_tcp_packet(src, net.server_address(), r);
    if (ip_options.empty()) return plain;
    // the same datagram with a longer header: IHL, total length and header checksum redone
    std::vector<std::uint8_t> b(plain.bytes().begin(), plain.bytes().end());
    b.insert(b.begin() + wire::ipv4_header_len, ip_options.begin(), ip_options.end());
    b[0] = static_cast<std::uint8_t>(0x40 | ((wire::ipv4_header_len + ip_options.size()) / 4));
    wire::store_be16(&b[2], static_cast<std::uint16_t>(b.size()));
    wire::store_be16(&b[10], 0);
    wire::store_be16(&b[10], wire::internet_checksum(std::span<const std::uint8_t>(b).first(wire::ipv4_header_len + ip_options.size())));
    packet p(b.size());
    std::copy(b.begin(), b.end(), p.bytes().begin());
    return p;
}
/// Counts the packets the server sends, and keeps them from the client.
struct server_output {
    std::size_t n = 0;
    explicit server_output(pair_t& net) {
        net.pipe().b_to_a().set_filter([this](std::span<const std::uint8_t>) {
            ++n;
            return true;
        });
    }
    server_output(const server_output&) = delete;
    server_output& operator=(const server_output&) = delete;
};
} // namespace

TEST_CASE("IP: datagrams from a source no host may use are dropped unanswered (RFC 1122 3.2.1.3): no SYN-ACK, RST or echo reply to a broadcast or a group") {
    pair_t net;
    auto l = net.server().listen(80);
    server_output answers(net);
    using A = wire::ipv4_address;
    const std::vector<A> martians{A::from_octets(0, 0, 0, 0), A::from_octets(255, 255, 255, 255),
                                  A::from_octets(224, 0, 0, 1), A::from_octets(239, 1, 2, 3), net.server_address(),
                                  A::from_octets(127, 0, 0, 1)};
    for (const A src : martians) net.pipe().end_a().transmit(net.now(), syn_from(net, src));
    // an echo request from a multicast group
    const std::uint8_t payload[] = {1, 2, 3, 4};
    const auto req = wire::icmp_repr::echo_request(1, 1, payload);
    packet e(wire::ipv4_header_len + req.buffer_len());
    const wire::ipv4_repr ip{A::from_octets(224, 0, 0, 1), net.server_address(), wire::ip_protocol::icmp, 64, 9, true,
                             static_cast<std::uint16_t>(req.buffer_len())};
    ip.emit(e.bytes());
    req.emit(e.bytes().subspan(wire::ipv4_header_len));
    net.pipe().end_a().transmit(net.now(), std::move(e));
    net.run_for(10_ms);
    const auto& st = net.server().iface().stats();
    CHECK(answers.n == 0);
    CHECK(st.martian_sources == martians.size() + 1);
    CHECK(st.icmp_echo_replies == 0);
    CHECK(net.server().iface().connection_count() == 0);
    // the same SYN from a proper address is answered
    net.pipe().end_a().transmit(net.now(), syn_from(net, net.client_address()));
    net.run_for(10_ms);
    CHECK(answers.n == 1);
}

TEST_CASE("IP: a source-routed datagram is dropped (Linux's accept_source_route = 0), other options are skipped, a malformed option is malformed") {
    pair_t net;
    auto l = net.server().listen(80);
    server_output answers(net);
    const auto& st = net.server().iface().stats();
    // a completed loose source route through 10.9.9.9: type 131, length 7, pointer 8, then EOL
    net.pipe().end_a().transmit(net.now(), syn_from(net, net.client_address(), {131, 7, 8, 10, 9, 9, 9, 0}));
    // a strict one
    net.pipe().end_a().transmit(net.now(), syn_from(net, net.client_address(), {137, 7, 8, 10, 9, 9, 9, 0}));
    net.run_for(10_ms);
    CHECK(st.source_routed == 2);
    CHECK(answers.n == 0);
    // an option running past the header
    net.pipe().end_a().transmit(net.now(), syn_from(net, net.client_address(), {1, 7, 40, 0}));
    net.run_for(10_ms);
    CHECK(st.malformed == 1);
    CHECK(answers.n == 0);
    // NOPs and a record route (type 7), not interpreted: the SYN is answered
    net.pipe().end_a().transmit(net.now(), syn_from(net, net.client_address(), {1, 7, 7, 4, 0, 0, 0, 0}));
    net.run_for(10_ms);
    CHECK(answers.n == 1);
    CHECK(st.source_routed == 2);
}

TEST_CASE("connect() to a broadcast or multicast address fails with network_unreachable and sends nothing (RFC 1122 4.2.3.10)") {
    pair_t net;
    std::size_t sent = 0;
    net.pipe().a_to_b().set_filter([&](std::span<const std::uint8_t>) {
        ++sent;
        return true;
    });
    for (const auto a : {wire::ipv4_address::from_octets(255, 255, 255, 255), wire::ipv4_address::from_octets(224, 0, 0, 1)}) {
        auto c = net.run(net.client().connect(a, 80));
        REQUIRE_FALSE(c);
        CHECK(c.error() == errc::network_unreachable);
    }
    net.run_for(10_ms);
    CHECK(sent == 0);
}
