// Shared helpers of the integration tests: two stacks over the in-memory pipe on the virtual clock.
//
//   timeline   one ordered log of every state change on both ends (with the event that caused it)
//              and, if a tap is attached, every segment put on the wire
//   tap        the pipe's filter hook on both directions: records each segment and may drop it
//   spawn_guard destroys the spawned tasks before the objects they refer to (declare it last)
#pragma once

#include <corotcp/corotcp.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace integ {

using namespace corotcp;
using namespace corotcp::time_literals;

using pair_t = memory_pair<>;
using conn_t = pair_t::connection;
using listener_t = pair_t::listener;
using wire::tcp_flags;

inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Deterministic pseudo-random bytes.
inline std::vector<std::uint8_t> random_bytes(std::uint64_t seed, std::size_t n) {
    detail::splitmix64 seeder(seed);
    detail::xoshiro256ss rng(seeder);
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t x = rng.next();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k) v[i + k] = static_cast<std::uint8_t>(x >> (8 * k));
    }
    return v;
}

/// One segment as it was put on the wire.
struct segment_record {
    bool from_client = false; ///< sent by the stack on end A (memory_pair's client)
    std::uint8_t flags = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::size_t len = 0; ///< payload bytes
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    instant at;
    std::optional<wire::tcp_timestamps> ts; ///< the timestamps option, if any

    [[nodiscard]] bool has(std::uint8_t f) const noexcept { return (flags & f) == f; }
    [[nodiscard]] bool is_pure_ack() const noexcept { return flags == tcp_flags::ack && len == 0; }
};

/// tcpdump's flag notation: [S], [S.], [.], [P.], [F.], [R.].
inline std::string flag_string(std::uint8_t f) {
    std::string s = "[";
    if (f & tcp_flags::syn) s += 'S';
    if (f & tcp_flags::fin) s += 'F';
    if (f & tcp_flags::psh) s += 'P';
    if (f & tcp_flags::rst) s += 'R';
    if (f & tcp_flags::ack) s += '.';
    return s + "]";
}

/// Parses an IPv4/TCP packet (nullopt if it is not a well-formed one).
inline std::optional<segment_record> parse_segment(std::span<const std::uint8_t> bytes, bool from_client, instant at) {
    const auto v = wire::ipv4_view::from_bytes(bytes);
    if (!v) return std::nullopt;
    const auto ip = wire::ipv4_repr::parse(*v, false);
    if (!ip || ip->protocol != wire::ip_protocol::tcp) return std::nullopt;
    const auto seg = wire::tcp_repr::parse(v->payload().first(std::min<std::size_t>(v->payload().size(), ip->payload_length)),
                                           ip->src, ip->dst, false);
    if (!seg) return std::nullopt;
    return segment_record{from_client, seg->flags, seg->seq.value(), seg->ack.value(), seg->payload.size(),
                          seg->src_port, seg->dst_port, at, seg->options.timestamps};
}

/// Every state change of both stacks, in order, as readable lines; taps add segment lines.
class timeline {
public:
    struct change {
        bool client = false;
        iface::four_tuple tuple;
        tcp::state from = tcp::state::closed;
        tcp::state to = tcp::state::closed;
        tcp::event why = tcp::event::user_close;
        instant at;
    };

    template <class Stack>
    void watch(Stack& s, bool is_client) {
        scheduler* loop = &s.loop();
        s.on_state_change([this, is_client, loop](const iface::four_tuple& t, tcp::state f, tcp::state to, tcp::event why) {
            changes.push_back({is_client, t, f, to, why, loop->now()});
            std::ostringstream o;
            o << (is_client ? "client " : "server ") << tcp::to_string(f) << " -> " << tcp::to_string(to) << " ("
              << tcp::to_string(why) << ")";
            lines.push_back(o.str());
        });
    }
    void watch(pair_t& net) {
        watch(net.client(), true);
        watch(net.server(), false);
    }

    /// The states one connection went through (to-states, in order), found by its local port.
    [[nodiscard]] std::vector<tcp::state> path(bool client, std::uint16_t local_port) const {
        std::vector<tcp::state> v;
        for (const auto& c : changes)
            if (c.client == client && c.tuple.local_port == local_port && c.tuple.remote_port != 0) v.push_back(c.to);
        return v;
    }
    /// When a connection (by local port) last entered `s`.
    [[nodiscard]] std::optional<instant> entered(bool client, std::uint16_t local_port, tcp::state s) const {
        std::optional<instant> r;
        for (const auto& c : changes)
            if (c.client == client && c.tuple.local_port == local_port && c.tuple.remote_port != 0 && c.to == s) r = c.at;
        return r;
    }
    /// Lines (state changes and segments) filtered to those containing `needle`.
    [[nodiscard]] std::vector<std::string> only(std::string_view needle) const {
        std::vector<std::string> v;
        for (const auto& l : lines)
            if (l.find(needle) != std::string::npos) v.push_back(l);
        return v;
    }
    [[nodiscard]] std::string dump() const {
        std::string s;
        for (const auto& l : lines) s += l + "\n";
        return s;
    }
    void clear() {
        changes.clear();
        lines.clear();
    }

    std::vector<change> changes;
    std::vector<std::string> lines;
};

/// Records every segment transmitted in both directions (through the pipe's filter hook, so before
/// any random fault) and drops those `drop` picks.
class tap {
public:
    using predicate = std::function<bool(const segment_record&)>;

    tap(memory_pipe& pipe, scheduler& loop, timeline* tl = nullptr) : loop_(&loop), tl_(tl) {
        pipe.a_to_b().set_filter([this](std::span<const std::uint8_t> b) { return see(b, true); });
        pipe.b_to_a().set_filter([this](std::span<const std::uint8_t> b) { return see(b, false); });
    }
    explicit tap(pair_t& net, timeline* tl = nullptr) : tap(net.pipe(), net.loop(), tl) {}
    tap(const tap&) = delete;
    tap& operator=(const tap&) = delete;

    [[nodiscard]] std::size_t count(std::function<bool(const segment_record&)> p) const {
        std::size_t n = 0;
        for (const auto& s : segs) n += p(s) ? 1 : 0;
        return n;
    }

    std::vector<segment_record> segs;
    std::vector<segment_record> dropped;
    predicate drop;

private:
    bool see(std::span<const std::uint8_t> bytes, bool from_client) {
        const auto r = parse_segment(bytes, from_client, loop_->now());
        if (!r) return false;
        const bool d = drop && drop(*r);
        (d ? dropped : segs).push_back(*r);
        if (tl_ != nullptr) {
            std::ostringstream o;
            o << (from_client ? "C>S " : "S>C ") << flag_string(r->flags);
            if (r->len > 0) o << " " << r->len;
            if (d) o << " (dropped)";
            tl_->lines.push_back(o.str());
        }
        return d;
    }

    scheduler* loop_;
    timeline* tl_;
};

/// Destroys every spawned task when it goes out of scope: declare it after the objects the tasks
/// refer to (connections, flags), so a failing REQUIRE never leaves a suspended frame dangling.
struct spawn_guard {
    scheduler& loop;
    ~spawn_guard() { loop.destroy_spawned(); }
};

/// An IPv4 packet carrying `seg` from src to dst, with correct checksums.
inline packet make_tcp_packet(wire::ipv4_address src, wire::ipv4_address dst, const wire::tcp_repr& seg) {
    const std::size_t tcp_len = seg.header_len() + seg.payload.size();
    packet p(wire::ipv4_header_len + tcp_len);
    const wire::ipv4_repr ip{src, dst, wire::ip_protocol::tcp, 64, 4242, true, static_cast<std::uint16_t>(tcp_len)};
    ip.emit(p.bytes());
    seg.emit_with_payload(p.bytes().subspan(wire::ipv4_header_len), src, dst, seg.payload, {});
    return p;
}

/// Reads until EOF (or error) into `out`; returns the error, if any.
inline task<std::error_code> read_all(conn_t& c, std::vector<std::uint8_t>& out, std::size_t chunk = 16 * 1024) {
    std::vector<std::uint8_t> buf(chunk);
    for (;;) {
        auto n = co_await c.read(buf);
        if (!n) co_return n.error();
        if (*n == 0) co_return std::error_code{};
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
}

inline std::string str(std::error_code ec) { return ec ? ec.message() : std::string("success"); }

} // namespace integ

namespace integ {
/// Runs a coroutine lambda whose closure lives in this frame: `net.spawn(owned([&]() -> task<void> {...}))`.
/// (A lambda coroutine refers to its captures through the closure object, which a plain
/// `spawn([&]{...}())` would destroy at the end of the statement.)
template <class F>
task<void> owned(F f) {
    co_await f();
}
} // namespace integ

namespace integ {
/// `n` client connections to the server's `port`, one after the other, left unaccepted.
inline std::vector<conn_t> connect_clients(pair_t& net, std::uint16_t port, int n) {
    std::vector<conn_t> conns;
    for (int i = 0; i < n; ++i) {
        auto c = net.run(net.client().connect(net.server_address(), port));
        REQUIRE(c);
        conns.push_back(std::move(*c));
    }
    return conns;
}

/// Connects the client to `port` and accepts on `l`: both ends ESTABLISHED.
inline std::pair<conn_t, conn_t> establish(pair_t& net, listener_t& l, connect_options o = {}) {
    auto c = net.run(net.client().connect(net.server_address(), l.port(), o));
    REQUIRE(c);
    auto s = net.run(l.accept());
    REQUIRE(s);
    return {std::move(*c), std::move(*s)};
}

/// Writes `data` on `from` while `to` reads exactly as many bytes; runs the loop until the read
/// completes (REQUIREd within `limit`) and returns what was read (shorter if the stream ended).
inline std::vector<std::uint8_t> send_and_receive(pair_t& net, conn_t& from, conn_t& to, const std::vector<std::uint8_t>& data,
                                                  duration limit) {
    std::vector<std::uint8_t> got(data.size());
    std::optional<expected<std::size_t>> read;
    auto reader = [&]() -> task<void> { read = co_await to.read_exactly(got); };
    auto writer = [&]() -> task<void> {
        const auto ec = co_await from.write(data);
        REQUIRE_FALSE(ec);
    };
    spawn_guard g{net.loop()};
    net.spawn(owned(reader));
    net.spawn(owned(writer));
    REQUIRE(net.run_until([&] { return read.has_value(); }, limit));
    REQUIRE(*read);
    got.resize(**read);
    return got;
}

/// Delay in both directions (so segments land at distinct instants and can cross in flight).
inline memory_pair_options with_delay(duration d) {
    memory_pair_options o;
    o.pipe.a_to_b.delay = d;
    o.pipe.b_to_a.delay = d;
    return o;
}
} // namespace integ
