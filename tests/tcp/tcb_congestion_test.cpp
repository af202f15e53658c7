// Engine specification: congestion control (tcp/congestion.hpp). NewReno: RFC 5681 3.1 / 3.2 and
// RFC 6582; CUBIC: RFC 9438 4.2-4.8. Numbers with SMSS = 1000 bytes, so windows read in segments.
#include "tcb_harness.hpp"

using namespace tcbtest;
using Catch::Detail::Approx;

// ================================================================== NewReno (RFC 5681, RFC 6582)

TEST_CASE("NewReno: slow start adds the bytes ACKed, at most 2 SMSS per ACK (RFC 3465 L = 2)") {
    newreno m(1000, 10000);
    CHECK(m.ssthresh() == 0x7FFFFFFF);
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.cwnd() == 11000);
    m.on_ack(3000, 100_ms, epoch);
    CHECK(m.cwnd() == 13000);
}

TEST_CASE("NewReno: congestion avoidance adds one SMSS per cwnd of bytes ACKed") {
    newreno m(1000, 20000);
    m.enter_recovery(20000, epoch); // ssthresh = cwnd = FlightSize / 2
    CHECK(m.ssthresh() == 10000);
    CHECK(m.cwnd() == 10000);
    for (int i = 0; i < 9; ++i) m.on_ack(1000, 100_ms, epoch);
    CHECK(m.cwnd() == 10000);
    m.on_ack(1000, 100_ms, epoch); // 10000 bytes ACKed: one SMSS more
    CHECK(m.cwnd() == 11000);
    for (int i = 0; i < 10; ++i) m.on_ack(1000, 100_ms, epoch);
    CHECK(m.cwnd() == 11000); // now 11000 bytes are needed
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.cwnd() == 12000);
}

TEST_CASE("NewReno: an RTO sets ssthresh = max(FlightSize / 2, 2 SMSS) and cwnd = 1 SMSS") {
    newreno m(1000, 10000);
    m.on_rto(8000, epoch);
    CHECK(m.ssthresh() == 4000);
    CHECK(m.cwnd() == 1000);
    m.on_rto(3000, epoch);
    CHECK(m.ssthresh() == 2000);
}

TEST_CASE("NewReno in the TCB: fast retransmit, inflation per duplicate, partial ACK, deflation at the recovery point") {
    harness h; // NewReno, no SACK
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 1001));
    h.in(ack(peer_iss + 1, 1001));
    h.poll_none();
    h.in(ack(peer_iss + 1, 1001)); // third duplicate
    CHECK(h.t.ssthresh() == 5000);  // FlightSize 10000 / 2
    CHECK(h.t.cwnd() == 8000);      // ssthresh + 3 SMSS
    CHECK(h.poll_one().seq() == 1001);
    h.in(ack(peer_iss + 1, 1001));
    CHECK(h.t.cwnd() == 9000); // + 1 SMSS per further duplicate
    h.in(ack(peer_iss + 1, 1001));
    CHECK(h.t.cwnd() == 10000);
    h.in(ack(peer_iss + 1, 3001)); // partial: 2000 acked; cwnd - 2000 + 1 SMSS; the next hole resent
    CHECK(h.t.cwnd() == 9000);
    const sent r = h.poll_one();
    CHECK(r.seq() == 3001);
    h.in(ack(peer_iss + 1, 11001)); // full: min(ssthresh, max(FlightSize, SMSS) + SMSS)
    CHECK(h.t.cwnd() == 2000);
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.stats().retransmits == 2);
}

// ================================================================== CUBIC (RFC 9438)
// One loss at cwnd = 100 segments (flight 100 segments): W_max = 100, cwnd = ssthresh = 70,
// K = cbrt((100 - 70) / 0.4) = cbrt(75) = 4.2171633 s, W_cubic(t) = 0.4 (t - K)^3 + 100.

TEST_CASE("CUBIC: a loss sets W_max = cwnd and cwnd = ssthresh = 0.7 * FlightSize") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch);
    CHECK(m.w_max() == Approx(100));
    CHECK(m.ssthresh() == 70000);
    CHECK(m.cwnd() == 70000);
}

TEST_CASE("CUBIC: K and W_cubic(t) at the epoch, at 2 s, at K and at 6 s") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch);
    m.on_ack(1000, 100_ms, epoch); // the first ACK in congestion avoidance starts the epoch
    REQUIRE(m.in_epoch());
    CHECK(m.k() == Approx(4.2171633).epsilon(1e-7));
    CHECK(m.w_cubic(0) == Approx(70));
    CHECK(m.w_cubic(2) == Approx(95.6403357).epsilon(1e-7));
    CHECK(m.w_cubic(4.2171633) == Approx(100));
    CHECK(m.w_cubic(6) == Approx(102.2667033).epsilon(1e-7));
}

TEST_CASE("CUBIC: per ACK, the Reno-friendly W_est at the epoch, then (W_cubic(t + RTT) - cwnd) / cwnd per segment") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch);
    m.on_ack(1000, 100_ms, epoch);
    // t = 0: W_cubic(0) = 70 < W_est = 70 + alpha / 70 (alpha = 3 * 0.3 / 1.7): the Reno-friendly region
    CHECK(m.w_est() == Approx(70.0075630).epsilon(1e-9));
    CHECK(m.cwnd() == 70007);
    m.on_ack(1000, 100_ms, epoch + 1_s);
    // t = 1 s: W_cubic(1) = 86.68 > W_est; target W_cubic(1.1) = 87.8846;
    // cwnd = 70007.563 + (87.8846 - 70.0076) / 70.0076 * 1000 = 70262.92
    CHECK(m.cwnd() == 70262);
    CHECK(m.w_est() == Approx(70.0151252).epsilon(1e-9));
}

TEST_CASE("CUBIC: the target is capped at 1.5 cwnd") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch);
    m.on_ack(1000, 100_ms, epoch);
    const double w = m.cwnd() / 1000.0;
    m.on_ack(1000, 100_ms, epoch + 20_s); // W_cubic(20.1) is far above 1.5 cwnd
    CHECK(m.cwnd() == static_cast<std::uint32_t>(70007.563 + 0.5 * 1000));
    CHECK(w == Approx(70.007));
}

TEST_CASE("CUBIC: fast convergence: a loss below the previous W_max sets W_max = cwnd * (1 + 0.7) / 2") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch);
    m.set_cwnd(80000);
    m.enter_recovery(80000, epoch);
    CHECK(m.w_max() == Approx(68));
    CHECK(m.ssthresh() == 56000);
    CHECK(m.cwnd() == 56000);
}

TEST_CASE("CUBIC: an RTO sets ssthresh as a loss does, cwnd = 1 SMSS, and the next congestion avoidance has K = 0, W_max = its cwnd (RFC 9438 4.8)") {
    cubic m(1000, 100000);
    m.on_rto(100000, epoch);
    CHECK(m.ssthresh() == 70000);
    CHECK(m.cwnd() == 1000);
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.cwnd() == 2000);
    m.on_ack(5000, 100_ms, epoch);
    CHECK(m.cwnd() == 4000);
    // slow start up to ssthresh, then the first ACK in congestion avoidance starts the epoch there
    m.set_cwnd(70000);
    m.on_ack(1000, 100_ms, epoch + 1_s);
    CHECK(m.in_epoch());
    CHECK(m.k() == 0);
    CHECK(m.w_max() == Approx(70));
    // no W_max to return to: Linux's floor, 1 segment per 20 acknowledged (W_est: 70 + 1 / 70 less)
    CHECK(m.cwnd() == 70050);
}

TEST_CASE("CUBIC: an epoch starting at or above W_max has K = 0 and W_max = cwnd") {
    cubic m(1000, 10000);
    m.enter_recovery(10000, epoch); // W_max 10, cwnd 7
    m.set_cwnd(12000);
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.k() == 0);
    CHECK(m.w_max() == Approx(12));
}

// ================================================================== congestion window validation

TEST_CASE("cwnd grows only when the sender used it (Linux's tcp_is_cwnd_limited, RFC 7661's aim)") {
    auto run = [](std::uint32_t per_rtt, int rtts) {
        harness h; // NewReno, SMSS 1000, cwnd 10 segments, slow start
        h.establish_as_client(100_ms, 1000);
        std::uint32_t next = 1001;
        for (int i = 0; i < rtts; ++i) {
            h.send(pattern(per_rtt));
            const auto out = h.poll();
            REQUIRE(!out.empty());
            h.advance(100_ms);
            for (const auto& seg : out) { // one ACK per segment
                next = seg.seq() + seg.len();
                h.in(ack(peer_iss + 1, next));
            }
        }
        return h.t.cwnd();
    };
    // request/response: 64 bytes per round trip never fill cwnd, which stays where it was
    CHECK(run(64, 50) == 10000);
    // half of cwnd: not below twice the most in flight (5000 * 2 = cwnd), no growth
    CHECK(run(5000, 3) == 10000);
    // more than half in slow start: cwnd grows to twice the most in flight and no further
    CHECK(run(6000, 1) == 12000);
    CHECK(run(6000, 4) == 12000);
    // cwnd full: slow start doubles it per round trip
    CHECK(run(10000, 1) == 20000);
}

TEST_CASE("cwnd validation in congestion avoidance: a full window grows cwnd, an application-limited one does not") {
    harness h; // NewReno, SMSS 1000
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    // all 10 lost: the RTO (300 ms) sets ssthresh = 5000, cwnd = 1000 and resends the first
    REQUIRE(h.run_until(at(400_ms)).size() == 1);
    REQUIRE(h.t.ssthresh() == 5000);
    std::uint32_t next = 1001;
    auto round = [&](std::uint32_t bytes) { // send, then one ACK per segment a round trip later
        if (bytes > 0) h.send(pattern(bytes));
        const auto out = h.poll();
        h.advance(100_ms);
        for (const auto& seg : out) {
            next = std::max<std::uint32_t>(next, static_cast<std::uint32_t>(seg.seq() + seg.len()));
            h.in(ack(peer_iss + 1, next));
        }
    };
    next = 11001; // the peer had everything but the first: one ACK takes all 10000
    h.in(ack(peer_iss + 1, next));
    round(0); // the go-back sends nothing more: all is acknowledged
    // grow to ssthresh with full windows, then congestion avoidance
    for (int i = 0; i < 4 && h.t.cwnd() < h.t.ssthresh(); ++i) round(h.t.cwnd());
    REQUIRE(h.t.cwnd() >= h.t.ssthresh());
    const std::uint32_t ca = h.t.cwnd();
    for (int i = 0; i < 5; ++i) round(200); // application-limited: no growth
    CHECK(h.t.cwnd() == ca);
    round(ca); // a full window: one SMSS more (NewReno: byte counting)
    CHECK(h.t.cwnd() == ca + 1000);
    // limited again: the full window's mark ends with it (30 rounds of 200 bytes would be more
    // than a window's worth of ACKed bytes, one SMSS of growth, if it did not)
    for (int i = 0; i < 30; ++i) round(200);
    CHECK(h.t.cwnd() == ca + 1000);
}

// ================================================================== HyStart (Linux's tcp_cubic)
// SMSS 1000; cwnd 16 segments, the least at which HyStart looks. One round = the ACKs until SND.UNA
// passes the SND.MAX of the round's first ACK.

namespace {

/// Feeds a model the RTT samples of one slow-start round: `n` ACKs `spacing` apart from `start`,
/// SND.UNA rising from `una` by 1 segment and SND.MAX by 2 per ACK (as in slow start), each with
/// `rtt`; returns the time after the last. The round is the one that began at its first ACK, so
/// it ends when SND.UNA passes SND.MAX as it was then, not as it is at the last ACK.
instant slow_start_round(cubic& m, instant start, std::uint32_t& una, int n, duration rtt, duration spacing,
                         duration srtt = 100_ms) {
    const std::uint32_t first_max = una + 100000 + 1000;
    instant t = start;
    for (int i = 0; i < n; ++i) {
        una += 1000;
        m.on_sample({rtt, srtt, seq32(una), seq32(first_max + 2000 * static_cast<std::uint32_t>(i))}, t);
        t = t + spacing;
    }
    una = first_max; // the next round's first ACK (una + 1000) passes the SND.MAX this round began with
    return t;
}

} // namespace

TEST_CASE("HyStart, delay: the round's least RTT above min RTT + clamp(min RTT / 8, 4 ms, 16 ms) ends slow start") {
    cubic m(1000, 16000, hystart_delay);
    std::uint32_t una = 0xFFFF'0000; // the rounds cross the wrap of the sequence space
    instant t = slow_start_round(m, epoch, una, 9, 100_ms, 5_ms);
    CHECK(m.delay_min() == 100_ms);
    // eta = 100 / 8 = 12.5 ms: 112.5 ms is not above 112.5 ms
    t = slow_start_round(m, t, una, 9, 112'500_us, 5_ms);
    CHECK(m.hystart_found() == cubic::hystart_exit::none);
    CHECK(m.ssthresh() == 0x7FFFFFFF);
    // only 8 samples: the round's minimum is not judged yet
    t = slow_start_round(m, t, una, 8, 113_ms, 5_ms);
    CHECK(m.hystart_found() == cubic::hystart_exit::none);
    // the 9th sample of a round, all above 112.5 ms: exit, ssthresh = cwnd, congestion avoidance next
    slow_start_round(m, t, una, 9, 113_ms, 5_ms);
    CHECK(m.hystart_found() == cubic::hystart_exit::delay);
    CHECK(m.ssthresh() == 16000);
    m.on_ack(1000, 100_ms, t);
    CHECK(m.in_epoch()); // no longer slow start: the ACK started a CUBIC epoch
}

TEST_CASE("HyStart, delay: the threshold is at least 4 ms and at most 16 ms") {
    auto found_after = [](duration base, duration later) {
        cubic m(1000, 16000, hystart_delay);
        std::uint32_t una = 0;
        const instant t = slow_start_round(m, epoch, una, 9, base, 1_ms);
        slow_start_round(m, t, una, 9, later, 1_ms);
        return m.hystart_found() == cubic::hystart_exit::delay;
    };
    CHECK_FALSE(found_after(10_ms, 14_ms)); // 10 / 8 = 1.25 ms, but at least 4 ms
    CHECK(found_after(10_ms, 14'001_us));
    CHECK_FALSE(found_after(200_ms, 216_ms)); // 200 / 8 = 25 ms, but at most 16 ms
    CHECK(found_after(200_ms, 216'001_us));
}

TEST_CASE("HyStart waits for 16 segments of cwnd, and config::hystart_detect = 0 turns it off") {
    cubic small(1000, 15000, hystart_delay);
    cubic off(1000, 16000, 0);
    for (cubic* m : {&small, &off}) {
        std::uint32_t una = 0;
        const instant t = slow_start_round(*m, epoch, una, 9, 100_ms, 1_ms);
        slow_start_round(*m, t, una, 9, 200_ms, 1_ms);
        CHECK(m->hystart_found() == cubic::hystart_exit::none);
        CHECK(m->ssthresh() == 0x7FFFFFFF);
    }
    CHECK(config{}.hystart_detect == (hystart_ack_train | hystart_delay)); // Linux: hystart_detect=3
}

TEST_CASE("HyStart, ACK train: ACKs at most 2 ms apart for longer than (min RTT + allowance) / 2 end slow start") {
    // min RTT 40 ms; allowance min(1 ms, 4 * 64 KiB at 2 cwnd / SRTT = 800 kB/s) = 1 ms: threshold 20.5 ms
    cubic spaced(1000, 16000, hystart_ack_train);
    std::uint32_t una = 0;
    const instant t = slow_start_round(spaced, epoch, una, 30, 40_ms, 3_ms, 40_ms); // a broken train
    CHECK(spaced.hystart_found() == cubic::hystart_exit::none);
    slow_start_round(spaced, t, una, 30, 40_ms, 2_ms, 40_ms); // 2 ms apart: still a train
    CHECK(spaced.hystart_found() == cubic::hystart_exit::ack_train);

    cubic m(1000, 16000, hystart_ack_train);
    una = 0;
    slow_start_round(m, epoch, una, 1, 40_ms, 1_ms, 40_ms); // min RTT 40 ms
    // the next round: its first ACK at 100 ms, then one per 0.5 ms; its 42nd, 20.5 ms after the
    // first, is not past the threshold (it would be without the 1 ms allowance)
    const instant u = slow_start_round(m, epoch + 100_ms, una, 42, 40_ms, 500_us, 40_ms);
    CHECK(m.hystart_found() == cubic::hystart_exit::none);
    slow_start_round(m, u, una, 43, 40_ms, 500_us, 40_ms); // the next round's 43rd ACK is 21 ms after its first
    CHECK(m.hystart_found() == cubic::hystart_exit::ack_train);
    CHECK(m.ssthresh() == 16000);
}

TEST_CASE("HyStart: an RTO starts it over, and after its exit congestion avoidance grows at least 5 % per RTT while there is no W_max") {
    cubic m(1000, 16000, hystart_delay);
    std::uint32_t una = 0;
    instant t = slow_start_round(m, epoch, una, 9, 100_ms, 1_ms);
    t = slow_start_round(m, t, una, 9, 150_ms, 1_ms);
    REQUIRE(m.hystart_found() == cubic::hystart_exit::delay);

    // no W_max yet: W_cubic = cwnd from K = 0 barely grows, W_est by 1 segment per window; the
    // floor (Linux: cnt <= 20 while last_max_cwnd is 0) adds acked / 20
    m.set_cwnd(100000);
    m.set_ssthresh(100000);
    m.on_ack(1000, 100_ms, t); // W_est = 100.01 segments: 100010 < 100000 + 1000 / 20
    CHECK(m.cwnd() == 100050);

    m.on_rto(100000, t);
    CHECK(m.hystart_found() == cubic::hystart_exit::none);
    CHECK(m.delay_min() == duration::zero());
    m.set_cwnd(16000);
    t = slow_start_round(m, t + 2_s, una, 9, 100_ms, 1_ms);
    slow_start_round(m, t, una, 9, 150_ms, 1_ms);
    CHECK(m.hystart_found() == cubic::hystart_exit::delay);

    cubic r(1000, 100000); // after a loss there is a W_max: no floor
    r.enter_recovery(100000, epoch);
    r.set_cwnd(100000);
    r.on_ack(1000, 100_ms, epoch);
    CHECK(r.cwnd() == 100010);
}

TEST_CASE("HyStart: delay samples in the first second of a congestion epoch are not used (Linux: after recovery)") {
    cubic m(1000, 100000, hystart_delay);
    m.enter_recovery(100000, epoch);
    m.on_ack(1000, 100_ms, epoch); // the epoch starts
    m.on_sample({5_ms, 100_ms, seq32(1), seq32(2)}, epoch + 999_ms);
    CHECK(m.delay_min() == duration::zero());
    m.on_sample({5_ms, 100_ms, seq32(1), seq32(2)}, epoch + 1_s);
    CHECK(m.delay_min() == 5_ms);
}

TEST_CASE("HyStart does not act during fast recovery (a NewReno partial ACK may leave cwnd below ssthresh)") {
    cubic m(1000, 16000, hystart_delay);
    std::uint32_t una = 0;
    const instant t = slow_start_round(m, epoch, una, 9, 100_ms, 1_ms);
    const std::uint32_t first_max = una + 100000;
    for (int i = 0; i < 12; ++i) {
        una += 1000;
        m.on_sample({200_ms, 100_ms, seq32(una), seq32(first_max), true}, t + duration::millis(i));
    }
    CHECK(m.hystart_found() == cubic::hystart_exit::none);
    CHECK(m.ssthresh() == 0x7FFFFFFF);
}

TEST_CASE("congestion: CUBIC is the default, the config picks the model per connection") {
    CHECK(config{}.congestion == congestion_control::cubic);
    config c = test_config();
    c.congestion = congestion_control::cubic;
    harness h(c);
    h.establish_as_client(100_ms, 1000);
    CHECK(h.t.congestion().algorithm() == congestion_control::cubic);
    REQUIRE(h.t.congestion().as_cubic() != nullptr);
    harness n;
    CHECK(n.t.congestion().algorithm() == congestion_control::newreno);
    CHECK(n.t.congestion().as_cubic() == nullptr);
}

TEST_CASE("CUBIC in the TCB with SACK: three duplicates set ssthresh = cwnd = 0.7 * FlightSize, recovery ends at cwnd = ssthresh") {
    config c = test_config();
    c.congestion = congestion_control::cubic;
    c.sack = true;
    harness h(c);
    h.connect();
    h.advance(100_ms);
    tcp_repr sa = syn_ack(peer_iss, our_iss + 1, 1000);
    sa.options.sack_permitted = true;
    h.in(sa);
    h.poll_one();
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance(100_ms);
    for (std::uint32_t k = 1; k <= 3; ++k) {
        tcp_repr a = ack(peer_iss + 1, 1001);
        a.options.sack_count = 1;
        a.options.sack[0] = {seq32(2001), seq32(2001 + 1000 * k)};
        h.in(a);
    }
    CHECK(h.t.ssthresh() == 7000);
    CHECK(h.t.cwnd() == 7000);
    REQUIRE(h.t.congestion().as_cubic() != nullptr);
    CHECK(h.t.congestion().as_cubic()->w_max() == Approx(10));
    CHECK(h.poll_one().seq() == 1001);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 11001));
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.cwnd() == 7000);
}

TEST_CASE("fast retransmit never carries bytes beyond SND.MAX, even when more data waits in the buffer") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.in(ack(peer_iss + 1, our_iss + 1, 100)); // the peer's window shrinks to 100
    h.send(pattern(2000));
    const sent first = h.poll_one();
    CHECK(first.len() == 100);
    for (int i = 0; i < 3; ++i) h.in(ack(peer_iss + 1, our_iss + 1, 100));
    const sent again = h.poll_one();
    CHECK(again.seq() == our_iss + 1);
    CHECK(again.len() == 100); // not 1000: [1101, 2001) was never sent
    CHECK(h.t.snd_nxt().value() == our_iss + 101);
}

TEST_CASE("after an RTO a pure ACK is numbered SND.MAX, not the rewound SND.NXT, so the peer reads its ACK field") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    const auto rto = h.run_until(at(400_ms));
    REQUIRE(rto.size() == 1);
    CHECK(rto[0].seq() == our_iss + 1);
    CHECK(h.t.snd_nxt().value() == our_iss + 1001);
    h.in(data(peer_iss + 2, our_iss + 1, "x")); // out of order: ACKed at once
    const sent a = h.poll_one();
    CHECK(a.len() == 0);
    CHECK(a.seq() == our_iss + 3001);
    CHECK(a.ack() == peer_iss + 1);
}
