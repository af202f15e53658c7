// ICMP errors over the in-memory pipe: a "router" in the pipe's filter hook drops what it cannot
// forward and answers with ICMP built by wire/icmp.hpp, as a real one would. Path MTU discovery
// (RFC 1191), a connect to a host that answers port unreachable, the window check of RFC 5927 4.1,
// and a soft error reported at a timeout (RFC 1122 4.2.3.9).
#include "harness.hpp"

using namespace integ;

namespace {

const wire::ipv4_address router_address = wire::ipv4_address::from_octets(10, 0, 0, 254);

/// An IPv4 packet carrying ICMP message `m` from `src` to `dst`.
packet make_icmp_packet(wire::ipv4_address src, wire::ipv4_address dst, const wire::icmp_repr& m) {
    packet p(wire::ipv4_header_len + m.buffer_len());
    const wire::ipv4_repr ip{src, dst, wire::ip_protocol::icmp, 64, 77, false, static_cast<std::uint16_t>(m.buffer_len())};
    ip.emit(p.bytes());
    REQUIRE(m.emit(p.bytes().subspan(wire::ipv4_header_len)) == m.buffer_len());
    return p;
}

/// The client -> server direction through a router: `answer` may drop a packet (returning true)
/// after sending an ICMP message back to the client; every packet is recorded.
class router {
public:
    using rule = std::function<bool(router&, std::span<const std::uint8_t>)>;

    router(pair_t& net, rule answer) : net_(net), answer_(std::move(answer)) {
        net.pipe().a_to_b().set_filter([this](std::span<const std::uint8_t> b) {
            const auto seg = parse_segment(b, true, net_.now());
            const bool drop = answer_(*this, b);
            if (seg) (drop ? dropped : forwarded).push_back({*seg, b.size()});
            return drop;
        });
    }
    router(const router&) = delete;
    router& operator=(const router&) = delete;

    /// Sends ICMP `type`/`code` about `original` (its header + 8 bytes quoted, RFC 792) to the client.
    void reply(std::span<const std::uint8_t> original, std::uint8_t code, std::uint16_t next_hop_mtu = 0,
               std::optional<wire::ipv4_address> from = std::nullopt) {
        const auto m = wire::icmp_repr::dest_unreachable(code, wire::icmp_error_quote(original), next_hop_mtu);
        net_.pipe().b_to_a().transmit(net_.now(), make_icmp_packet(from.value_or(router_address), net_.client_address(), m));
        ++sent;
    }

    struct seen {
        segment_record seg;
        std::size_t ip_len = 0;
    };
    std::vector<seen> forwarded;
    std::vector<seen> dropped;
    std::size_t sent = 0; ///< ICMP messages sent back

private:
    pair_t& net_;
    rule answer_;
};

/// A router whose next hop carries at most `mtu` bytes; it reports `reported` as the next-hop MTU
/// (0: an old router that reports nothing, RFC 1191 5).
router::rule narrow_link(std::size_t mtu, std::uint16_t reported) {
    return [mtu, reported](router& r, std::span<const std::uint8_t> b) {
        if (b.size() <= mtu) return false;
        r.reply(b, wire::icmp_unreach::frag_needed, reported);
        return true;
    };
}

/// A router whose next hop carries at most `mtu` bytes (below 576) and fragments what may be
/// fragmented: a larger packet without DF passes (the far end reassembles it), one with DF is
/// dropped and answered with fragmentation needed reporting `mtu`.
router::rule fragmenting_link(std::size_t mtu) {
    return [mtu](router& r, std::span<const std::uint8_t> b) {
        const auto ip = wire::ipv4_view::from_bytes(b);
        REQUIRE(ip);
        if (b.size() <= mtu || !ip->dont_fragment()) return false;
        r.reply(b, wire::icmp_unreach::frag_needed, static_cast<std::uint16_t>(mtu));
        return true;
    };
}

/// Sends `data` from the client to the server over an established pair; returns what arrived.
std::vector<std::uint8_t> transfer(pair_t& net, conn_t& c, conn_t& s, const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> got;
    std::optional<std::error_code> rd;
    auto reader = [&]() -> task<void> { rd = co_await read_all(s, got); };
    spawn_guard g{net.loop()};
    net.spawn(owned(reader));
    const auto w = net.run(c.write(data));
    CHECK(!w);
    const auto sd = net.run(c.shutdown());
    CHECK(!sd);
    REQUIRE(net.run_until([&] { return rd.has_value(); }, 120_s));
    CHECK(!*rd);
    return got;
}

} // namespace

TEST_CASE("a narrower hop answering fragmentation needed: the MSS drops at once and the transfer completes byte-exact (RFC 1191)") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    router r(net, narrow_link(1000, 1000));
    const std::uint32_t ssthresh = c.tcb()->ssthresh();
    const auto data = random_bytes(11, 200 * 1000);
    const auto got = transfer(net, c, s, data);
    CHECK(got == data);
    REQUIRE(!r.dropped.empty());
    const auto& st = net.client().iface().stats();
    CHECK(st.pmtu_reductions == 1);                  // one reduction; the other messages repeat it
    CHECK(st.icmp_errors == r.sent);
    CHECK(st.icmp_ignored == r.sent - 1);
    CHECK(c.tcb()->path_mtu() == 1000);
    CHECK(c.tcb()->send_mss() == 1000 - 40 - 12);    // timestamps are on by default
    // after the router's first answer, everything the client sent fits the narrow hop
    const instant first_drop = r.dropped.front().seg.at;
    for (const auto& f : r.forwarded)
        if (f.seg.at > first_drop) CHECK(f.ip_len <= 1000);
    // the drops are no congestion signal (RFC 1191 6.4): no fast recovery, no RTO, ssthresh untouched
    CHECK(c.tcb()->stats().fast_retransmits == 0);
    CHECK(c.tcb()->stats().timeouts == 0);
    CHECK(c.tcb()->ssthresh() == ssthresh);
}

TEST_CASE("a hop narrower than 576 bytes: the path MTU stops at 576, DF is cleared, the hop fragments and the transfer completes byte-exact") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    router r(net, fragmenting_link(400));
    const auto data = random_bytes(13, 100 * 1000);
    const auto got = transfer(net, c, s, data);
    CHECK(got == data);
    CHECK(c.tcb()->path_mtu() == 576);
    CHECK(c.tcb()->send_mss() == 576 - 40 - 12);
    REQUIRE(!r.dropped.empty());
    std::size_t fragmented = 0; // what the hop cut up: it passes no packet over 400 bytes with DF
    for (const auto& f : r.forwarded)
        if (f.ip_len > 400) {
            ++fragmented;
            CHECK(f.ip_len <= 576);
        }
    CHECK(fragmented > 100);
}

TEST_CASE("an old router reporting no next-hop MTU: the plateaus of RFC 1191 7 are tried downwards") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    router r(net, narrow_link(1200, 0));
    const auto data = random_bytes(12, 100 * 1000);
    const auto got = transfer(net, c, s, data);
    CHECK(got == data);
    CHECK(net.client().iface().stats().pmtu_reductions == 2); // 1500 -> 1492 (still too big) -> 1006
    CHECK(c.tcb()->path_mtu() == 1006);
}

TEST_CASE("connect() to a host that answers ICMP port unreachable fails with connection_refused") {
    pair_t net;
    router r(net, [](router& rt, std::span<const std::uint8_t> b) {
        const auto seg = parse_segment(b, true, instant{});
        if (!seg || seg->dst_port != 9) return false;
        rt.reply(b, wire::icmp_unreach::port, 0, wire::ipv4_address::from_octets(10, 0, 0, 2));
        return true;
    });
    timeline tl;
    tl.watch(net);
    auto c = net.run(net.client().connect(net.server_address(), 9));
    REQUIRE(!c);
    CHECK(c.error() == errc::connection_refused);
    CHECK(c.error() == std::errc::connection_refused);
    CHECK(r.dropped.size() == 1); // one SYN: no retries
    CHECK(net.client().iface().stats().icmp_aborts == 1);
    INFO(tl.dump());
    CHECK(tl.only("client SYN_SENT -> CLOSED (ICMP error)").size() == 1);
    net.run_for(1_ms);
    CHECK(net.client().iface().connection_count() == 0);
}

TEST_CASE("connect() through a router that answers host unreachable fails with host_unreachable") {
    pair_t net;
    router r(net, [](router& rt, std::span<const std::uint8_t> b) {
        rt.reply(b, wire::icmp_unreach::host);
        return true;
    });
    auto c = net.run(net.client().connect(net.server_address(), 80));
    REQUIRE(!c);
    CHECK(c.error() == errc::host_unreachable);
    CHECK(c.error() == std::errc::host_unreachable);
}

TEST_CASE("a forged ICMP error that does not quote an unacknowledged sequence number changes nothing (RFC 5927 4.1)") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    // A blind attacker knows the 4-tuple but not the sequence numbers: it quotes a made-up segment.
    const auto* t = c.tcb();
    wire::tcp_repr forged{};
    forged.src_port = c.endpoints().local_port;
    forged.dst_port = 80;
    forged.seq = t->snd_una() + 100000;
    forged.flags = tcp_flags::ack;
    const packet original = make_tcp_packet(net.client_address(), net.server_address(), forged);
    for (const std::uint8_t code : {wire::icmp_unreach::port, wire::icmp_unreach::frag_needed}) {
        const auto m = wire::icmp_repr::dest_unreachable(code, wire::icmp_error_quote(original.bytes()), 576);
        net.pipe().b_to_a().transmit(net.now(), make_icmp_packet(router_address, net.client_address(), m));
    }
    // and one about a 4-tuple that is not ours
    forged.seq = t->snd_una();
    forged.src_port = static_cast<std::uint16_t>(forged.src_port + 1);
    const packet other = make_tcp_packet(net.client_address(), net.server_address(), forged);
    net.pipe().b_to_a().transmit(
        net.now(), make_icmp_packet(router_address, net.client_address(),
                                    wire::icmp_repr::dest_unreachable(wire::icmp_unreach::port, wire::icmp_error_quote(other.bytes()))));
    net.run_for(10_ms);
    const auto& st = net.client().iface().stats();
    CHECK(st.icmp_errors == 3);
    CHECK(st.icmp_ignored == 3);
    CHECK(c.state() == tcp::state::established);
    CHECK(c.tcb()->path_mtu() == 1500);
    CHECK(c.tcb()->soft_error() == errc::ok);
    const auto w = net.run(c.write(std::string_view("still here")));
    CHECK(!w);
}

TEST_CASE("an ICMP soft error on an established connection is what its read and write report when it times out") {
    tcp::config cfg;
    cfg.retries2 = 3;
    memory_pair_options o;
    o.client.tcp = cfg;
    pair_t net(o);
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    bool answered = false;
    router r(net, [&](router& rt, std::span<const std::uint8_t> b) {
        if (!answered) rt.reply(b, wire::icmp_unreach::net); // the route went away: one message, then silence
        answered = true;
        return true;
    });
    const auto w = net.run(c.write(std::string_view("hello?")));
    REQUIRE(!w);
    net.run_for(1_ms);
    CHECK(net.client().iface().stats().icmp_soft_errors == 1);
    CHECK(c.state() == tcp::state::established); // soft: the connection waits for its retries
    REQUIRE(net.run_until([&] { return c.state() == tcp::state::closed; }, 300_s));
    std::uint8_t buf[16];
    const auto n = net.run(c.read(buf));
    REQUIRE(!n);
    CHECK(n.error() == errc::network_unreachable);
    CHECK(n.error() == std::errc::network_unreachable);
    const auto w2 = net.run(c.write(std::string_view("again")));
    CHECK(w2 == errc::network_unreachable);
}

TEST_CASE("parameter problem about one of our segments is a soft error (RFC 1122 4.2.3.9), other ICMP types are discarded, not malformed") {
    pair_t net;
    auto l = net.server().listen(80);
    auto [c, s] = establish(net, *l);
    bool answered = false;
    router r(net, [&](router&, std::span<const std::uint8_t> b) {
        if (answered) return false;
        answered = true;
        const auto m = wire::icmp_repr::parameter_problem(0, wire::icmp_error_quote(b));
        net.pipe().b_to_a().transmit(net.now(), make_icmp_packet(router_address, net.client_address(), m));
        return true;
    });
    REQUIRE_FALSE(net.run(c.write(std::string_view("hello"))));
    net.run_for(1_ms);
    const auto& st = net.client().iface().stats();
    CHECK(st.icmp_errors == 1);
    CHECK(st.icmp_soft_errors == 1);
    CHECK(c.tcb()->soft_error() == errc::protocol_error);
    CHECK(c.state() == tcp::state::established);
    // a timestamp request (type 13), well formed: discarded, and counted as such
    std::array<std::uint8_t, 20> ts{13, 0, 0, 0};
    wire::store_be16(&ts[2], wire::internet_checksum(ts));
    packet p(wire::ipv4_header_len + ts.size());
    const wire::ipv4_repr ip{router_address, net.client_address(), wire::ip_protocol::icmp, 64, 78, false,
                             static_cast<std::uint16_t>(ts.size())};
    ip.emit(p.bytes());
    std::copy(ts.begin(), ts.end(), p.bytes().begin() + wire::ipv4_header_len);
    net.pipe().b_to_a().transmit(net.now(), std::move(p));
    net.run_for(1_ms);
    CHECK(st.icmp_other == 1);
    CHECK(st.malformed == 0);
    CHECK(st.icmp_errors == 1);
}
