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

TEST_CASE("initial window: one segment after more than one lost SYN or SYN-ACK (RFC 5681 3.1, as Linux), ten after one") {
    const int retransmissions = GENERATE(1, 2);
    const bool client = GENERATE(true, false);
    CAPTURE(retransmissions, client);
    harness h;
    if (client) h.connect();
    else h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss, 1460));
    if (!client) REQUIRE(h.poll_one().flags() == (S | A));
    const auto resent = h.run_until(h.now + (retransmissions == 1 ? 1500_ms : 3500_ms)); // at 1 s, then 3 s
    REQUIRE(resent.size() == static_cast<std::size_t>(retransmissions));
    if (client) {
        h.in(syn_ack(peer_iss, our_iss + 1, 1460));
        REQUIRE(h.poll_one().flags() == A);
    } else {
        h.in(ack(peer_iss + 1, our_iss + 1));
    }
    REQUIRE(h.st() == state::established);
    CHECK(h.t.cwnd() == (retransmissions > 1 ? 1460u : 14600u));
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
    SECTION("a partial ACK of 2 SMSS, then the full one") {
        h.in(ack(peer_iss + 1, 3001)); // partial: 2000 acked; cwnd - 2000 + 1 SMSS; the next hole resent
        CHECK(h.t.cwnd() == 9000);
        const sent r = h.poll_one();
        CHECK(r.seq() == 3001);
        h.in(ack(peer_iss + 1, 11001)); // full: min(ssthresh, max(FlightSize, SMSS) + SMSS)
        CHECK(h.t.cwnd() == 2000);
        CHECK_FALSE(h.t.in_recovery());
        CHECK(h.t.stats().retransmits == 2);
    }
    SECTION("a partial ACK of less than one SMSS deflates by what it acknowledged and adds no SMSS back") {
        h.in(ack(peer_iss + 1, 1501)); // partial, 500 bytes: cwnd - 500 (RFC 6582 3.2 step 5)
        CHECK(h.t.cwnd() == 9500);
        CHECK(h.poll_one().seq() == 1501); // the rest of the hole, resent at once
        h.in(ack(peer_iss + 1, 3001)); // partial, 1500 bytes: cwnd - 1500 + 1 SMSS
        CHECK(h.t.cwnd() == 9000);
        CHECK(h.t.in_recovery());
    }
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

TEST_CASE("CUBIC: ssthresh never falls below 2 SMSS (RFC 9438 4.6), nor does NewReno's (RFC 5681 (4))") {
    cubic m(1000, 2000);
    m.enter_recovery(2000, epoch); // 0.7 * 2000 = 1400 < 2 SMSS
    CHECK(m.ssthresh() == 2000);
    CHECK(m.cwnd() == 2000);
    cubic r(1000, 2000);
    r.on_rto(1000, epoch);
    CHECK(r.ssthresh() == 2000);
    CHECK(r.cwnd() == 1000); // the loss window: one SMSS
    newreno n(1000, 3000);
    n.enter_recovery(3000, epoch); // 3000 / 2 = 1500 < 2 SMSS
    CHECK(n.ssthresh() == 2000);
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

TEST_CASE("CUBIC: with fast convergence W_est switches to 1 / cwnd at cwnd_prior, not at the lower W_max (RFC 9438 4.3)") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch); // W_max 100, cwnd 70
    m.set_cwnd(80000);
    m.enter_recovery(80000, epoch); // 80 < W_max: fast convergence, W_max = 80 x 0.85 = 68; cwnd 56; cwnd_prior 80
    CHECK(m.w_max() == Approx(68));
    m.on_ack(1000, 100_ms, epoch);
    for (int i = 0; i < 10000 && m.w_est() < 70; ++i) m.on_ack(1000, 100_ms, epoch);
    REQUIRE(m.w_est() >= 70); // past W_max, below cwnd_prior: still alpha
    double before = m.w_est();
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.w_est() - before == Approx(cubic::alpha / before).epsilon(1e-9));
    for (int i = 0; i < 10000 && m.w_est() < 80; ++i) m.on_ack(1000, 100_ms, epoch);
    REQUIRE(m.w_est() >= 80);
    before = m.w_est();
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.w_est() - before == Approx(1.0 / before).epsilon(1e-9));
}

TEST_CASE("CUBIC: W_est grows by alpha / cwnd per segment below W_max, then by 1 / cwnd once it reaches W_max (RFC 9438 4.3)") {
    cubic m(1000, 10000);
    m.enter_recovery(10000, epoch); // W_max = 10, cwnd = 7 segments
    // every ACK at the epoch's first instant: W_cubic(0) = 7 stays below W_est, the Reno-friendly region
    m.on_ack(1000, 100_ms, epoch);
    double before = m.w_est(); // = cwnd in segments (unrounded) in this region
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.w_est() - before == Approx(cubic::alpha / before).epsilon(1e-9));
    for (int i = 0; i < 1000 && m.w_est() < 10; ++i) m.on_ack(1000, 100_ms, epoch);
    REQUIRE(m.w_est() >= 10);
    before = m.w_est();
    m.on_ack(1000, 100_ms, epoch);
    CHECK(m.w_est() - before == Approx(1.0 / before).epsilon(1e-9)); // alpha would be 0.53 / cwnd
    CHECK(m.cwnd() == static_cast<std::uint32_t>(m.w_est() * 1000));
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

namespace {

/// A NewReno client (SMSS 1000, RTT 100 ms) whose first 10 segments were all lost: the RTO (at
/// 300 ms) set ssthresh = 5000, cwnd = 1000 and resent the first; nothing is acknowledged yet.
void lose_first_window(harness& h) {
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    REQUIRE(h.run_until(at(400_ms)).size() == 1);
    REQUIRE(h.t.ssthresh() == 5000);
}

} // namespace

TEST_CASE("cwnd validation in congestion avoidance: a full window grows cwnd, an application-limited one does not") {
    harness h; // NewReno, SMSS 1000
    lose_first_window(h);
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

// ================================================================== idle periods (RFC 5681 4.1, RFC 9438 5.8)

namespace {

/// A NewReno client (SMSS 1000, RTT 100 ms) that grew cwnd to 40 segments in slow start with full
/// windows, each segment ACKed a round trip after it left; everything is acknowledged at the end.
void grow_to_40(harness& h) {
    h.establish_as_client(100_ms, 1000);
    h.full_window_rounds(2);
    REQUIRE(h.t.cwnd() == 40000);
    REQUIRE(h.t.send_queue() == 0);
}

/// After `idle` without sending: how many segments one send of 100 segments' worth puts out at once.
std::size_t burst_after(harness& h, duration idle) {
    h.advance(idle);
    h.send(pattern(100000));
    return h.poll().size();
}

} // namespace

TEST_CASE("slow start after idle: more than an RTO without sending halves cwnd per RTO, down to the initial window (RFC 5681 4.1, Linux's tcp_cwnd_restart)") {
    {
        harness h;
        grow_to_40(h);
        const duration rto = h.t.rtt().rto();
        REQUIRE(rto == 212500_us); // SRTT 100 ms + 4 RTTVAR (the handshake's sample was 100 ms too)
        // the last data left 100 ms before the last ACK: an idle time of at most one RTO since
        // then keeps the window (idle times count in milliseconds: 212 ms)
        CHECK(burst_after(h, 112_ms) == 40);
        CHECK(h.t.cwnd() == 40000);
        CHECK(h.t.ssthresh() == 0x7FFFFFFF);
    }
    {
        harness h;
        grow_to_40(h);
        CHECK(burst_after(h, 113_ms) == 20); // 213 ms: more than one RTO
    }
    {
        harness h;
        grow_to_40(h);
        // 400 ms since the last data sent, about 1.9 RTO: one halving; ssthresh = max(ssthresh,
        // 3/4 cwnd), still "infinite"
        CHECK(burst_after(h, 300_ms) == 20);
        CHECK(h.t.cwnd() == 20000);
        CHECK(h.t.ssthresh() == 0x7FFFFFFF);
    }
    {
        harness h;
        grow_to_40(h);
        // 600 ms, about 2.8 RTO: two halvings
        CHECK(burst_after(h, 500_ms) == 10);
    }
    {
        harness h;
        grow_to_40(h);
        // a minute: down to the restart window min(IW, cwnd) = 10 segments, never below it
        CHECK(burst_after(h, 60_s) == 10);
        CHECK(h.t.cwnd() == 10000);
    }
    {
        config c = test_config();
        c.slow_start_after_idle = false; // Linux's tcp_slow_start_after_idle = 0
        harness h(c);
        grow_to_40(h);
        CHECK(burst_after(h, 60_s) == 40);
        CHECK(h.t.cwnd() == 40000);
    }
}

TEST_CASE("slow start after idle: ssthresh keeps 3/4 of cwnd, and a cwnd below the initial window stays") {
    harness h; // NewReno, SMSS 1000
    lose_first_window(h);
    h.in(ack(peer_iss + 1, 11001)); // one ACK takes everything
    h.full_window_rounds(3); // slow start to ssthresh
    REQUIRE(h.t.cwnd() == 7000);
    REQUIRE(h.t.ssthresh() == 5000);
    CHECK(burst_after(h, 60_s) == 7); // the restart window is min(IW = 10, cwnd = 7)
    CHECK(h.t.cwnd() == 7000);
    CHECK(h.t.ssthresh() == 5250); // max(5000, 3/4 of 7000)
}

TEST_CASE("slow start after idle: data sent while other data is still in flight is not a restart") {
    harness h;
    grow_to_40(h);
    h.send(pattern(1000));
    REQUIRE(h.poll().size() == 1); // in flight, unacknowledged
    h.advance(150_ms);             // below the RTO: no retransmission yet
    h.send(pattern(50000));
    CHECK(h.poll().size() == 39); // cwnd 40 less the one in flight
    CHECK(h.t.cwnd() == 40000);
}

TEST_CASE("slow start after idle: a zero-window stall is part of the idle time (only data sent ends it)") {
    harness h;
    grow_to_40(h);
    const std::uint32_t una = h.t.snd_una().value();
    h.in(ack(peer_iss + 1, una, 0)); // the peer's window closes, with nothing in flight
    h.advance(50_ms);                // 150 ms since the last data sent: under the RTO (212 ms)
    h.send(pattern(100000));
    h.poll_none(); // nothing may go
    h.advance(150_ms); // before the persist timer fires: still nothing sent
    h.in(ack(peer_iss + 1, una));    // the window opens 300 ms after the last data sent
    CHECK(h.poll().size() == 20);    // more than an RTO: one halving
    CHECK(h.t.cwnd() == 20000);
}

TEST_CASE("CUBIC: the epoch moves forward by the time the application sent nothing, never past now (RFC 9438 5.8)") {
    cubic m(1000, 100000);
    m.enter_recovery(100000, epoch); // W_max 100, cwnd 70, K = 4.2171633 s
    m.on_ack(1000, 100_ms, epoch);    // the epoch starts
    REQUIRE(m.epoch_start() == epoch);
    m.on_idle(5_s, epoch + 6_s);
    CHECK(m.epoch_start() == epoch + 5_s);
    m.on_idle(10_s, epoch + 7_s); // more idle than time since the epoch: it starts now
    CHECK(m.epoch_start() == epoch + 7_s);
    // W_cubic is where it was when the application stopped: t = 0 again, the concave region
    const auto before = m.cwnd();
    m.on_ack(1000, 100_ms, epoch + 7_s);
    CHECK(m.cwnd() < before + 20);
    // no epoch (slow start, or right after a reduction): nothing to move
    cubic fresh(1000, 10000);
    fresh.on_idle(5_s, epoch + 6_s);
    CHECK_FALSE(fresh.in_epoch());
}

TEST_CASE("CUBIC in the TCB: the time between sends with nothing in flight is left out of t (Linux's CA_EVENT_TX_START)") {
    config c = test_config();
    c.congestion = congestion_control::cubic;
    c.hystart_detect = 0;
    c.slow_start_after_idle = false; // the epoch alone: the window is not restarted
    harness h(c);
    h.establish_as_client(100_ms, 1000);
    // a loss event: 10 segments all lost, the RTO resends the first (ssthresh 7000, cwnd 1000),
    // and one ACK takes everything
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    REQUIRE(h.run_until(at(500_ms)).size() == 1);
    h.in(ack(peer_iss + 1, 11001));
    const cubic* m = h.t.congestion().as_cubic();
    REQUIRE(m != nullptr);
    // ACK-clocked: an ACK of one segment every 10 ms releases what cwnd allows, so data is in flight
    // at every send; the application writes until the epoch has run for a second, then the
    // peer takes everything
    std::uint32_t una = 11001;
    std::uint32_t sent_end = una;
    instant last_sent = h.now;
    instant start;
    bool writing = true;
    for (int i = 0; i < 2000; ++i) {
        // whole segments: no short tail waits for Nagle until everything is acknowledged
        if (writing && h.t.send_space() >= 1000) h.send(pattern(h.t.send_space() / 1000 * 1000));
        for (const auto& seg : h.poll()) {
            if (seg.len() == 0) continue;
            last_sent = h.now;
            sent_end = std::max<std::uint32_t>(sent_end, seg.seq() + static_cast<std::uint32_t>(seg.len()));
        }
        if (writing && m->in_epoch() && h.now - m->epoch_start() >= 1_s) {
            writing = false;
            start = m->epoch_start();
        }
        if (!writing && una == sent_end && h.t.send_queue() == 0) break;
        h.advance(10_ms);
        una = std::min(una + 1000, sent_end);
        h.in(ack(peer_iss + 1, una));
    }
    REQUIRE_FALSE(writing);
    REQUIRE(h.t.send_queue() == 0);
    // an ACK-clocked flow never paused: the epoch did not move
    CHECK(m->epoch_start() == start);
    h.advance(30_s);
    // then data: the epoch moves by the time since the last data sent, and t continues from there
    h.send(pattern(1000));
    REQUIRE(h.poll().size() == 1);
    CHECK(m->epoch_start() == start + (h.now - last_sent));
    CHECK(h.now - m->epoch_start() == last_sent - start);
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
