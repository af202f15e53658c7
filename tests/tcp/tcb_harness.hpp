// tests/tcp/tcb_harness.hpp: a tiny fixture and DSL for driving one TCB (or two, over a "wire")
// with a manual clock and hand-built segments.
//
//   harness h;                       // our end: local port 4000, the peer is port 80
//   h.connect();                     // CLOSED -> SYN_SENT, returns our SYN
//   h.in(syn_ack(5000, 1001));       // the peer's segment arrives at h.now
//   auto out = h.poll();             // what the TCB emits at h.now (copied)
//   h.advance(40_ms);                // the clock moves; nothing else happens
//   h.run_until(at(7_s));            // jump from deadline to deadline, polling at each
//
// Our ISS is 1000 and the peer's 5000 unless a test says otherwise; `at(d)` is d after the epoch
// every harness starts at, so deadlines read as in the RFCs ("the SYN is resent at 1 s, 3 s, ...").
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "corotcp/tcp/tcb.hpp"

namespace Catch {
template <>
struct StringMaker<corotcp::duration> {
    static std::string convert(corotcp::duration d) { return std::to_string(d.us) + " us"; }
};
template <>
struct StringMaker<corotcp::instant> {
    static std::string convert(corotcp::instant t) {
        if (t.is_never()) return "never";
        return "t" + std::string(t.us >= 1'000'000'000 ? "+" : "") + std::to_string(t.us - 1'000'000'000) + " us";
    }
};
template <>
struct StringMaker<corotcp::tcp::state> {
    static std::string convert(corotcp::tcp::state s) { return std::string(corotcp::tcp::to_string(s)); }
};
} // namespace Catch

namespace tcbtest {

using namespace corotcp;
using namespace corotcp::tcp;
using namespace corotcp::time_literals;
using corotcp::wire::seq32;
using corotcp::wire::tcp_flags;
using corotcp::wire::tcp_repr;

inline constexpr std::uint16_t our_port = 4000;
inline constexpr std::uint16_t peer_port = 80;
inline constexpr std::uint32_t our_iss = 1000;
inline constexpr std::uint32_t peer_iss = 5000;
inline constexpr std::uint16_t peer_window = 65535;

inline constexpr std::uint8_t S = tcp_flags::syn;
inline constexpr std::uint8_t A = tcp_flags::ack;
inline constexpr std::uint8_t F = tcp_flags::fin;
inline constexpr std::uint8_t R = tcp_flags::rst;
inline constexpr std::uint8_t P = tcp_flags::psh;

/// The epoch of every test clock (not zero, so that "ready now" (instant{}) never equals a time).
inline constexpr instant epoch = instant::from_micros(1'000'000'000);
[[nodiscard]] constexpr instant at(duration d) noexcept { return epoch + d; }

[[nodiscard]] inline std::span<const std::uint8_t> bytes_of(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// n bytes of a recognisable pattern ('a'..'z' repeating, starting at `first`).
[[nodiscard]] inline std::string pattern(std::size_t n, char first = 'a') {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (first - 'a' + i) % 26);
    return s;
}

// ------------------------------------------------------------------ segments from the peer
// Ports are the peer's (src 80, dst 4000). Payloads must outlive the call that delivers them
// (string literals, or strings the test holds).

[[nodiscard]] inline tcp_repr seg(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                                  std::string_view payload = {}, std::uint16_t window = peer_window) {
    tcp_repr r{};
    r.src_port = peer_port;
    r.dst_port = our_port;
    r.seq = seq32(seq);
    r.ack = seq32((flags & A) != 0 ? ack : 0);
    r.flags = flags;
    r.window = window;
    r.payload = bytes_of(payload);
    return r;
}
[[nodiscard]] inline tcp_repr syn(std::uint32_t seq, std::optional<std::uint16_t> mss = 1460,
                                  std::optional<std::uint8_t> wscale = std::nullopt) {
    tcp_repr r = seg(S, seq, 0);
    r.options.mss = mss;
    r.options.window_scale = wscale;
    return r;
}
[[nodiscard]] inline tcp_repr syn_ack(std::uint32_t seq, std::uint32_t ack, std::optional<std::uint16_t> mss = 1460,
                                      std::optional<std::uint8_t> wscale = std::nullopt) {
    tcp_repr r = seg(S | A, seq, ack);
    r.options.mss = mss;
    r.options.window_scale = wscale;
    return r;
}
[[nodiscard]] inline tcp_repr ack(std::uint32_t seq, std::uint32_t ack, std::uint16_t window = peer_window) {
    return seg(A, seq, ack, {}, window);
}
[[nodiscard]] inline tcp_repr data(std::uint32_t seq, std::uint32_t ack, std::string_view payload,
                                   std::uint16_t window = peer_window) {
    return seg(A | P, seq, ack, payload, window);
}
[[nodiscard]] inline tcp_repr fin(std::uint32_t seq, std::uint32_t ack, std::string_view payload = {}) {
    return seg(F | A, seq, ack, payload);
}
[[nodiscard]] inline tcp_repr rst(std::uint32_t seq) { return seg(R, seq, 0, {}, 0); }
[[nodiscard]] inline tcp_repr rst_ack(std::uint32_t seq, std::uint32_t ack) { return seg(R | A, seq, ack, {}, 0); }

// ------------------------------------------------------------------ what the TCB emitted

/// A copy of one emitted segment (the original's payload points into the send ring).
struct sent {
    tcp_repr h{};
    std::string payload;
    instant when{};
    bool df = true; ///< the IPv4 DF bit the interface is told to set (segment_out::dont_fragment)

    [[nodiscard]] std::uint8_t flags() const noexcept { return h.flags; }
    [[nodiscard]] std::uint32_t seq() const noexcept { return h.seq.value(); }
    [[nodiscard]] std::uint32_t ack() const noexcept { return h.ack.value(); }
    [[nodiscard]] std::uint16_t window() const noexcept { return h.window; }
    [[nodiscard]] std::size_t len() const noexcept { return payload.size(); }
    /// The segment as the peer would parse it (payload pointing at this copy).
    [[nodiscard]] tcp_repr as_received() const {
        tcp_repr r = h;
        r.payload = bytes_of(payload);
        return r;
    }
};

inline sent copy_of(const segment_out& s, instant when) {
    sent c{s.header, {}, when, s.dont_fragment};
    for (const auto& piece : s.payload) c.payload.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    c.h.payload = {};
    return c;
}

inline std::string flag_string(std::uint8_t f) {
    std::string s;
    if ((f & S) != 0) s += 'S';
    if ((f & F) != 0) s += 'F';
    if ((f & R) != 0) s += 'R';
    if ((f & P) != 0) s += 'P';
    if ((f & A) != 0) s += '.';
    return s;
}

inline std::string describe(const sent& s) {
    return "[" + flag_string(s.flags()) + "] seq " + std::to_string(s.seq()) + " ack " + std::to_string(s.ack()) +
           " win " + std::to_string(s.window()) + " len " + std::to_string(s.len());
}

// ------------------------------------------------------------------ one TCB and a clock

[[nodiscard]] inline config test_config() {
    config c;
    c.window_scaling = false; // unscaled windows keep the numbers readable; scaling has its own tests
    // Options and the congestion algorithm have their own test files (tcb_options_test,
    // tcb_sack_test, tcb_congestion_test); elsewhere headers stay bare and cwnd follows NewReno.
    c.timestamps = false;
    c.sack = false;
    c.tail_loss_probe = false;
    c.congestion = congestion_control::newreno;
    c.max_quick_acks = 0; // delayed ACKs from the first segment; quick ACK mode has its own tests
    return c;
}

struct harness {
    config cfg;
    tcb<> t;
    instant now = epoch;
    std::vector<sent> log; ///< everything emitted so far

    explicit harness(config c = test_config()) : cfg(c), t(c, our_port, peer_port) {}

    void advance(duration d) { now += d; }
    void advance_to(instant when) {
        REQUIRE(when >= now);
        now = when;
    }

    /// A segment from the peer arrives now.
    void in(const tcp_repr& s) { t.on_segment(now, s); }

    /// poll() at the current time; returns what was emitted.
    std::vector<sent> poll() {
        std::vector<sent> out;
        t.poll(now, [&](const segment_out& s) { out.push_back(copy_of(s, now)); });
        log.insert(log.end(), out.begin(), out.end());
        return out;
    }

    /// poll() must emit exactly one segment, which is returned.
    sent poll_one() {
        auto out = poll();
        std::string all;
        for (const auto& s : out) all += describe(s) + "; ";
        INFO("emitted " << out.size() << " segments at " << (now - epoch).us << " us: " << all);
        REQUIRE(out.size() == 1);
        return out.front();
    }

    /// poll() must emit nothing.
    void poll_none() {
        const auto out = poll();
        std::string all;
        for (const auto& s : out) all += describe(s) + "; ";
        INFO("unexpected: " << all);
        REQUIRE(out.empty());
    }

    /// Jumps from deadline to deadline up to and including `until`, polling at each; returns what
    /// was emitted on the way (each stamped with its time).
    std::vector<sent> run_until(instant until) {
        std::vector<sent> out;
        for (int guard = 0; guard < 100000; ++guard) {
            const instant d = t.next_deadline();
            if (d > until) break;
            if (d > now) now = d;
            auto got = poll();
            out.insert(out.end(), got.begin(), got.end());
            if (got.empty() && t.next_deadline() <= now) FAIL("next_deadline() is due but poll() did nothing");
        }
        now = std::max(now, until);
        return out;
    }

    std::size_t send(std::string_view s) {
        std::error_code ec;
        const std::size_t n = t.send(bytes_of(s), ec);
        REQUIRE_FALSE(ec);
        return n;
    }

    std::string recv(std::size_t max = 1 << 20) {
        std::string s(max, '\0');
        const std::size_t n = t.recv({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
        s.resize(n);
        return s;
    }

    [[nodiscard]] state st() const noexcept { return t.current_state(); }

    // --- getting to a state -----------------------------------------------------------------

    /// Active open at `now`; returns our SYN.
    sent connect() {
        t.open_active(now, seq32(our_iss));
        return poll_one();
    }

    /// A client in ESTABLISHED: our SYN, the peer's SYN-ACK (MSS `peer_mss`) after `rtt`, our ACK.
    /// Afterwards SND.NXT = 1001 and RCV.NXT = 5001.
    void establish_as_client(duration rtt = 100_ms, std::uint16_t peer_mss = 1460) {
        connect();
        advance(rtt);
        in(syn_ack(peer_iss, our_iss + 1, peer_mss));
        const sent a = poll_one();
        REQUIRE(a.flags() == A);
        REQUIRE(st() == state::established);
    }

    /// `rounds` round trips of a full window: each writes cwnd bytes, sends what goes, and after
    /// `rtt` the peer ACKs every segment one by one (slow start doubles cwnd per round). Returns
    /// the last ACK number.
    std::uint32_t full_window_rounds(int rounds, duration rtt = 100_ms) {
        std::uint32_t next = t.snd_una().value();
        for (int round = 0; round < rounds; ++round) {
            send(pattern(t.cwnd()));
            const auto out = poll();
            advance(rtt);
            for (const auto& s : out) {
                next = s.seq() + static_cast<std::uint32_t>(s.len());
                in(ack(peer_iss + 1, next));
            }
        }
        return next;
    }

    /// A server in ESTABLISHED: the peer's SYN, our SYN-ACK, the peer's ACK after `rtt`.
    void establish_as_server(duration rtt = 100_ms, std::uint16_t peer_mss = 1460) {
        t.open_passive(now, seq32(our_iss), syn(peer_iss, peer_mss));
        const sent sa = poll_one();
        REQUIRE(sa.flags() == (S | A));
        advance(rtt);
        in(ack(peer_iss + 1, our_iss + 1));
        poll_none();
        REQUIRE(st() == state::established);
    }
};

// ------------------------------------------------------------------ two TCBs and a wire

/// Two TCBs joined by a wire: `a` is port 4000, `b` port 80. Segments are shuttled explicitly
/// (a_to_b(), b_to_a(), settle()), so a test can say which crossed when; `drop` lists the
/// indices (in the order sent, 0-based, both directions counted together) the wire loses.
struct wire_pair {
    config ca = test_config();
    config cb = test_config();
    tcb<> a{ca, our_port, peer_port};
    tcb<> b{cb, peer_port, our_port};
    instant now = epoch;
    std::vector<sent> log; ///< everything either side sent, lost ones included
    std::set<std::size_t> drop;

    /// What `from` emits now, not yet delivered.
    std::vector<sent> collect(tcb<>& from) {
        std::vector<sent> out;
        from.poll(now, [&](const segment_out& s) { out.push_back(copy_of(s, now)); });
        return out;
    }
    /// Delivers `segs` to `to`, except those the wire drops; returns how many arrived.
    std::size_t deliver(tcb<>& to, const std::vector<sent>& segs) {
        std::size_t n = 0;
        for (const auto& s : segs) {
            const std::size_t index = log.size();
            log.push_back(s);
            if (drop.count(index) != 0) continue;
            to.on_segment(now, s.as_received());
            ++n;
        }
        return n;
    }
    std::vector<sent> a_to_b() {
        auto s = collect(a);
        deliver(b, s);
        return s;
    }
    /// Simultaneous open: both connect, the SYNs cross; both are in SYN_RCVD, their SYN-ACKs unsent.
    void cross_syns() {
        a.open_active(now, seq32(our_iss));
        b.open_active(now, seq32(peer_iss));
        const auto syn_a = collect(a);
        const auto syn_b = collect(b);
        deliver(b, syn_a);
        deliver(a, syn_b);
    }
    std::vector<sent> b_to_a() {
        auto s = collect(b);
        deliver(a, s);
        return s;
    }
    /// The three-way handshake, each segment taking rtt/2 on the wire, so both ends take an RTT
    /// sample of `rtt` (RTO = 3 * rtt, at least 200 ms). `a` is the client (ISS 1000), `b` the
    /// server (ISS 5000); afterwards both are ESTABLISHED and nothing is in flight.
    void handshake(duration rtt = 100_ms) {
        a.open_active(now, seq32(our_iss));
        const auto s1 = collect(a);
        REQUIRE(s1.size() == 1);
        log.push_back(s1[0]);
        now += rtt / 2;
        b.open_passive(now, seq32(peer_iss), s1[0].as_received());
        const auto s2 = collect(b);
        now += rtt / 2;
        deliver(a, s2);
        const auto s3 = collect(a);
        now += rtt / 2;
        deliver(b, s3);
        REQUIRE(a.current_state() == state::established);
        REQUIRE(b.current_state() == state::established);
        REQUIRE(log.size() == 3);
    }

    /// Shuttles both ways until neither side has anything to send now; returns the segment count.
    std::size_t settle() {
        std::size_t total = 0;
        for (int round = 0; round < 1000; ++round) {
            const std::size_t n = a_to_b().size() + b_to_a().size();
            total += n;
            if (n == 0) return total;
        }
        FAIL("the pair never went quiet");
        return total;
    }
    /// Moves the clock to the earlier of the two deadlines (not past `until`) and settles there.
    bool step(instant until) {
        const instant d = earliest(a.next_deadline(), b.next_deadline());
        if (d > until) return false;
        if (d > now) now = d;
        settle();
        if (earliest(a.next_deadline(), b.next_deadline()) <= now) FAIL("a deadline stays due after poll()");
        return true;
    }
    void run_until(instant until) {
        for (int guard = 0; guard < 100000 && step(until); ++guard) {}
        now = std::max(now, until);
    }
};

/// The peer's ACK of `ackno` carrying SACK blocks [left, right) (RFC 2018), most recent first.
using block = std::pair<std::uint32_t, std::uint32_t>;
inline tcp_repr sack_ack(std::uint32_t ackno, std::initializer_list<block> blocks) {
    tcp_repr r = ack(peer_iss + 1, ackno);
    for (const auto& [l, rr] : blocks) r.options.sack[r.options.sack_count++] = {seq32(l), seq32(rr)};
    return r;
}

/// The sequence numbers of emitted segments, in order.
inline std::vector<std::uint32_t> seqs_of(const std::vector<sent>& v) {
    std::vector<std::uint32_t> s;
    for (const auto& x : v) s.push_back(x.seq());
    return s;
}

} // namespace tcbtest
