// Engine specification: retransmission, persist and keepalive timers (RFC 6298; RFC 5681 3.2;
// RFC 1122 4.2.2.17, 4.2.3.6).
#include "tcb_harness.hpp"

using namespace tcbtest;

// ================================================================== retransmission timeout (RFC 6298)

TEST_CASE("ESTABLISHED: a lost segment is retransmitted at the RTO, backing off exponentially") {
    harness h;
    h.establish_as_client(); // SRTT 100 ms, RTTVAR 50 ms: RTO 300 ms
    h.send("hello");
    const sent first = h.poll_one();
    const instant t1 = first.when;
    CHECK(h.t.retransmit_deadline() == t1 + 300_ms);
    const auto out = h.run_until(t1 + 2100_ms);
    REQUIRE(out.size() == 3);
    CHECK(out[0].when == t1 + 300_ms);
    CHECK(out[1].when == t1 + 900_ms);  // +600
    CHECK(out[2].when == t1 + 2100_ms); // +1200
    for (const auto& s : out) {
        CHECK(s.seq() == our_iss + 1);
        CHECK(s.payload == "hello");
        CHECK(s.ack() == peer_iss + 1);
    }
    CHECK(h.t.next_deadline() == t1 + 4500_ms); // +2400
    CHECK(h.t.stats().retransmits == 3);
}

TEST_CASE("ESTABLISHED: Karn: the ACK of a retransmitted segment gives no RTT sample and keeps the backed-off RTO") {
    harness h;
    h.establish_as_client();
    h.send("hello");
    const instant t1 = h.poll_one().when;
    h.run_until(t1 + 2100_ms); // three retransmissions: RTO 2400 ms
    h.advance_to(t1 + 2150_ms);
    h.in(ack(peer_iss + 1, our_iss + 6));
    CHECK(h.t.rtt().srtt() == 100_ms); // 2150 ms or 50 ms? ambiguous, so not sampled
    CHECK(h.t.rtt().rttvar() == 50_ms);
    CHECK(h.t.retransmit_deadline() == instant::never());
    // RFC 6298 5.3 and the note after 5.7 (and Linux's "only reset backoff on valid RTT
    // measurement"): the doubled RTO stays until a new sample collapses it.
    h.send("again");
    const sent s = h.poll_one();
    CHECK(s.seq() == our_iss + 6);
    CHECK(h.t.retransmit_deadline() == h.now + 2400_ms);
    h.advance(50_ms);
    h.in(ack(peer_iss + 1, our_iss + 11)); // a clean sample of 50 ms
    CHECK(h.t.rtt().srtt() == duration::micros(93750)); // 7/8 * 100 + 1/8 * 50
    CHECK(h.t.rtt().rttvar() == 50_ms);                 // 3/4 * 50 + 1/4 * 50
    CHECK(h.t.rtt().rto() == duration::micros(293750)); // SRTT + 4 * RTTVAR
}

TEST_CASE("ESTABLISHED: the RTO never goes below 200 ms (RTO min)") {
    harness h;
    h.establish_as_client(1_ms); // SRTT 1 ms: 1 + 4 * 0.5 = 3 ms before the floor
    CHECK(h.t.rtt().rto() == 200_ms);
    h.send("x");
    const sent s = h.poll_one();
    CHECK(h.t.retransmit_deadline() == s.when + 200_ms);
    const auto out = h.run_until(s.when + 200_ms);
    REQUIRE(out.size() == 1);
    CHECK(out[0].when == s.when + 200_ms);
}

TEST_CASE("ESTABLISHED: on RTO the loss window is one segment from SND.UNA (RFC 5681 3.1)") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(3000));
    CHECK(h.poll().size() == 3);
    CHECK(h.t.cwnd() == 10000); // IW10 (RFC 6928)
    const auto out = h.run_until(h.now + 300_ms);
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq() == our_iss + 1);
    CHECK(out[0].len() == 1000);
    CHECK(h.t.cwnd() == 1000);
    CHECK(h.t.ssthresh() == 2000); // max(FlightSize / 2, 2 * SMSS)
    h.in(ack(peer_iss + 1, our_iss + 1001));
    const auto next = h.poll();
    REQUIRE(next.size() == 2); // slow start: cwnd 1000 + 1000 (ssthresh 2000)
    CHECK(next[0].seq() == our_iss + 1001);
    CHECK(next[1].seq() == our_iss + 2001);
}

namespace {
/// Sends a byte nobody acknowledges; the retransmission timer must give up exactly `end` after it
/// left, having retransmitted `retransmits` times.
void check_gives_up(harness& h, duration end, std::size_t retransmits) {
    h.send("x");
    const instant t1 = h.poll_one().when;
    CHECK(h.run_until(t1 + end - 1_us).size() == retransmits);
    CHECK(h.st() == state::established);
    h.run_until(t1 + end);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}
} // namespace

TEST_CASE("ESTABLISHED: tcp_retries2 = 3 (3.0 s from 200 ms) with a 300 ms RTO: retransmissions at +0.3, 0.9, 2.1 s, the end at +4.5 s") {
    config c = test_config();
    c.retries2 = 3;
    harness h(c);
    h.establish_as_client();
    check_gives_up(h, 4500_ms, 3);
}

TEST_CASE("ESTABLISHED: tcp_retries2 is a time, as on Linux: with a 2.7 s RTO, retries2 = 3 (3.0 s from 200 ms) gives up at the second expiry") {
    config c = test_config();
    c.retries2 = 3;
    harness h(c);
    h.connect();
    h.advance(900_ms); // a slow path: SRTT 900 ms, RTTVAR 450 ms, RTO 2.7 s
    h.in(syn_ack(peer_iss, our_iss + 1));
    h.poll_one();
    REQUIRE(h.t.rtt().rto() == 2700_ms);
    // 200 + 400 + 800 + 1600 ms = 3.0 s: the expiry at +2.7 s retransmits, the one at +8.1 s ends
    // it (counting retransmissions instead, the end would come at +40.5 s)
    check_gives_up(h, 8100_ms, 1);
}

TEST_CASE("ESTABLISHED: the default tcp_retries2 (15, 924.6 s) ends the connection at the first expiry past 924.6 s") {
    harness h;
    h.establish_as_client(); // RTO 300 ms
    // expiries at +0.3, 0.9, 2.1, 4.5, ..., 76.5, 153.3 s, then every 120 s: 273.3, ..., 873.3 s
    // retransmit (15 in all), 993.3 s is the first past 924.6 s
    check_gives_up(h, 993300_ms, 15);
}

TEST_CASE("TCP_USER_TIMEOUT: the RTO is cut so that the connection times out on time, and it replaces tcp_retries2") {
    const bool long_timeout = GENERATE(false, true);
    CAPTURE(long_timeout);
    config c = test_config();
    c.user_timeout = long_timeout ? duration::seconds(1800) : duration::seconds(30);
    harness h(c);
    h.establish_as_client(); // RTO 300 ms
    h.send("x");
    const instant t1 = h.poll_one().when;
    const instant end = t1 + c.user_timeout;
    // expiries at +0.3, 0.9, ..., 18.9 s and then +38.1 s (or, with 1800 s, far past tcp_retries2's
    // 924.6 s): the last one is moved to the user timeout
    h.run_until(end - 1_us);
    CHECK(h.st() == state::established);
    CHECK(h.t.retransmit_deadline() == end);
    h.run_until(end);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}

namespace {
/// Runs the timers until `until` (or until the connection closes), answering every segment the
/// TCB sends with an ACK of SND.UNA and a zero window: a live receiver that never reads.
std::size_t answer_with_zero_window(harness& h, instant until) {
    std::size_t answered = 0;
    for (int i = 0; i < 500 && h.st() != state::closed; ++i) {
        const instant d = h.t.next_deadline();
        if (d > until) break;
        for (const sent& s : h.run_until(d)) {
            (void)s;
            ++answered;
            if (h.st() != state::closed) h.in(ack(peer_iss + 1, h.t.snd_una().value(), 0));
        }
    }
    return answered;
}
/// An established client (RTO 300 ms) with "hello" waiting behind the peer's zero window; returns when.
instant stalled_on_zero_window(harness& h) {
    h.establish_as_client();
    h.in(ack(peer_iss + 1, our_iss + 1, 0));
    h.send("hello");
    h.poll_none();
    return h.now;
}
} // namespace

TEST_CASE("persist: a receiver that answers every probe keeps the connection (RFC 1122 4.2.2.17), unless TCP_USER_TIMEOUT runs out") {
    const bool with_user_timeout = GENERATE(false, true);
    CAPTURE(with_user_timeout);
    config c = test_config();
    if (with_user_timeout) c.user_timeout = duration::seconds(10);
    harness h(c);
    const instant t0 = stalled_on_zero_window(h);
    const std::size_t probes = answer_with_zero_window(h, t0 + duration::seconds(3000));
    if (with_user_timeout) {
        // probes at +0.3 (the first: the clock starts), 0.9, 2.1, 4.5, 9.3 s; the next is moved to
        // 10 s after the first
        CHECK(h.st() == state::closed);
        CHECK(h.t.error() == errc::timed_out);
        CHECK(h.now == t0 + 10300_ms);
        CHECK(probes == 5);
    } else {
        CHECK(h.st() == state::established); // 3000 s of probes, all answered
        CHECK(probes > 20);
    }
}

TEST_CASE("a window shrunk to zero under data in flight: the RTO resends the head as the probe, and no timeout while the peer answers (RFC 9293 3.8.6)") {
    harness h;
    h.establish_as_client(); // RTO 300 ms, peer MSS 1460
    const std::string d = pattern(2920);
    h.send(d);
    REQUIRE(h.poll().size() == 2);
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, our_iss + 1461, 0)); // the first segment, and a zero window over the second
    CHECK(h.t.send_window() == 0);
    const instant t0 = h.now;
    // far past tcp_retries2's 924.6 s: every retransmission of the head is answered, window still 0
    const std::size_t probes = answer_with_zero_window(h, t0 + duration::seconds(2000));
    CHECK(h.st() == state::established);
    CHECK(probes > 10);
    // the window opens: what the probes carried was dropped by the peer, so it goes again at once
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, our_iss + 1461, 65535));
    const sent again = h.poll_one();
    CHECK(again.seq() == our_iss + 1461);
    CHECK(again.len() == 1460);
    h.in(ack(peer_iss + 1, our_iss + 2921, 65535));
    CHECK(h.t.snd_una().value() == our_iss + 2921);
    CHECK(h.st() == state::established);
}

TEST_CASE("a window shrunk to zero under data in flight: a peer silent for a whole RTO of rto_max ends the connection") {
    harness h;
    h.establish_as_client();
    h.send(pattern(2920));
    REQUIRE(h.poll().size() == 2);
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, our_iss + 1461, 0));
    const instant t0 = h.now;
    const auto out = h.run_until(t0 + duration::seconds(2000));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
    REQUIRE(!out.empty());
    for (const auto& s : out) CHECK(s.seq() == our_iss + 1461); // each probe is the head, whatever the window
    CHECK(h.now - out.back().when >= duration::seconds(120));   // the last went unanswered for rto_max
}

TEST_CASE("persist: an orphan whose peer answers every probe with a zero window is ended once the probes back off to rto_max (Linux)") {
    const unsigned orphan_retries = GENERATE(0u, 10u);
    CAPTURE(orphan_retries);
    config c = test_config();
    c.orphan_retries = orphan_retries;
    harness h(c);
    const instant t0 = stalled_on_zero_window(h);
    h.t.close(h.now); // the FIN waits behind the data, the data behind the window
    CHECK(h.st() == state::fin_wait_1);
    answer_with_zero_window(h, t0 + duration::seconds(3000));
    // probes at +0.3 * (2^k - 1) s up to the 9th at +153.3 s (interval 76.8 s); the next timer,
    // +120 s later (rto_max), finds the interval at 153.6 s > rto_max with 9 >= 8 backoffs
    // (tcp_orphan_retries 0: 8): the orphan is dropped. Not orphaned, it would stay (test above).
    // With tcp_orphan_retries 10: one more probe, at +273.3 s, and the end at +393.3 s.
    CHECK(h.st() == state::closed);
    CHECK(h.now == t0 + (orphan_retries == 0 ? 273300_ms : 393300_ms));
}

TEST_CASE("ESTABLISHED: an orphan with data unacknowledged times out after tcp_orphan_retries (8: 102.2 s), not tcp_retries2") {
    harness h;
    h.establish_as_client(); // RTO 300 ms
    h.send("x");
    const instant t1 = h.poll_one().when;
    h.t.close(h.now);
    // expiries at +0.3, 0.9, 2.1, 4.5, 9.3, 18.9, 38.1, 76.5 s retransmit; +153.3 s is past 102.2 s
    h.run_until(t1 + 153300_ms - 1_us);
    CHECK(h.st() == state::fin_wait_1);
    h.run_until(t1 + 153300_ms);
    CHECK(h.st() == state::closed);
}

// ================================================================== fast retransmit (RFC 5681 3.2)

TEST_CASE("ESTABLISHED: three duplicate ACKs trigger a fast retransmit of the first unACKed segment") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.in(ack(peer_iss + 1, our_iss + 1001)); // segment 1 arrived, segment 2 was lost
    h.poll_none();
    h.in(ack(peer_iss + 1, our_iss + 1001)); // dup 1 (segment 3)
    h.in(ack(peer_iss + 1, our_iss + 1001)); // dup 2 (segment 4)
    h.poll_none();
    h.in(ack(peer_iss + 1, our_iss + 1001)); // dup 3 (segment 5)
    const sent r = h.poll_one();
    CHECK(r.seq() == our_iss + 1001);
    CHECK(r.len() == 1000);
    CHECK(h.t.stats().fast_retransmits == 1);
    CHECK(h.t.ssthresh() == 2000); // FlightSize 4000 / 2
    CHECK(h.t.cwnd() == 5000);     // ssthresh + 3 * SMSS
    CHECK(h.t.snd_nxt().value() == our_iss + 5001); // SND.NXT untouched
    h.in(ack(peer_iss + 1, our_iss + 5001));        // the hole is filled: full ACK
    CHECK(h.t.cwnd() == 2000);                      // deflated to ssthresh
    h.poll_none();
}

TEST_CASE("ESTABLISHED: an ACK that updates the window is not a duplicate ACK") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(4000));
    REQUIRE(h.poll().size() == 4);
    h.in(ack(peer_iss + 1, our_iss + 1001, 60000));
    h.in(ack(peer_iss + 1, our_iss + 1001, 50000));
    h.in(ack(peer_iss + 1, our_iss + 1001, 40000));
    h.poll_none();
    CHECK(h.t.stats().fast_retransmits == 0);
}

// ================================================================== persist (RFC 1122 4.2.2.17)

TEST_CASE("ESTABLISHED: a zero window starts the persist timer, probes back off exactly, data resumes when it opens") {
    harness h;
    h.establish_as_client(); // RTO 300 ms
    h.in(ack(peer_iss + 1, our_iss + 1, 0));
    CHECK(h.t.send_window() == 0);
    h.send("hello");
    h.poll_none();
    const instant t0 = h.now;
    CHECK(h.t.persist_deadline() == t0 + 300_ms);
    CHECK(h.t.next_deadline() == t0 + 300_ms);
    const auto probes = h.run_until(t0 + 2100_ms);
    REQUIRE(probes.size() == 3);
    CHECK(probes[0].when == t0 + 300_ms);
    CHECK(probes[1].when == t0 + 900_ms);  // +600
    CHECK(probes[2].when == t0 + 2100_ms); // +1200
    for (const auto& p : probes) {
        CHECK(p.flags() == A);
        CHECK(p.seq() == our_iss); // SND.UNA - 1: any live receiver answers with its window
        CHECK(p.ack() == peer_iss + 1);
        CHECK(p.len() == 0);
    }
    CHECK(h.t.next_deadline() == t0 + 4500_ms);
    // the peer answers a probe, still closed: the backoff continues
    h.in(ack(peer_iss + 1, our_iss + 1, 0));
    h.poll_none();
    CHECK(h.t.next_deadline() == t0 + 4500_ms);
    // the window opens
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, our_iss + 1, 65535));
    CHECK(h.t.persist_deadline() == instant::never());
    const sent d = h.poll_one();
    CHECK(d.seq() == our_iss + 1);
    CHECK(d.payload == "hello");
    CHECK(h.t.retransmit_deadline() == h.now + 300_ms);
}

TEST_CASE("ESTABLISHED: with nothing to send a zero window starts no timer") {
    harness h;
    h.establish_as_client();
    h.in(ack(peer_iss + 1, our_iss + 1, 0));
    h.poll_none();
    CHECK(h.t.next_deadline() == instant::never());
}

// ================================================================== keepalive (RFC 1122 4.2.3.6)

TEST_CASE("ESTABLISHED: keepalive is off by default: an idle connection has no deadline") {
    harness h;
    h.establish_as_client();
    CHECK(h.t.next_deadline() == instant::never());
}

TEST_CASE("ESTABLISHED: keepalive probes at 7200 s, then every 75 s, 9 unanswered probes end it with a RST and timed_out at 7875 s") {
    config c = test_config();
    c.keepalive = true;
    harness h(c);
    h.establish_as_client();
    const instant t0 = h.now; // the last segment from the peer
    CHECK(h.t.next_deadline() == t0 + 7200_s);
    const auto probes = h.run_until(t0 + 7875_s - 1_us);
    REQUIRE(probes.size() == 9);
    for (std::size_t i = 0; i < probes.size(); ++i) {
        INFO("probe " << i + 1);
        CHECK(probes[i].when == t0 + 7200_s + 75_s * static_cast<std::int64_t>(i));
        CHECK(probes[i].flags() == A);
        CHECK(probes[i].seq() == our_iss); // SND.NXT - 1, no data (RFC 1122 4.2.3.6)
        CHECK(probes[i].ack() == peer_iss + 1);
        CHECK(probes[i].len() == 0);
    }
    CHECK(h.st() == state::established);
    CHECK(h.t.next_deadline() == t0 + 7875_s);
    const auto end = h.run_until(t0 + 7875_s);
    REQUIRE(end.size() == 1); // Linux's tcp_keepalive_timer resets: a peer that still holds state drops it
    CHECK(end[0].flags() == (R | A));
    CHECK(end[0].seq() == our_iss + 1);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}

TEST_CASE("keepalive: TCP_USER_TIMEOUT replaces the probe count, ending at the first timer after a probe that finds the peer silent that long (Linux)") {
    config c = test_config();
    c.keepalive = true;
    c.keepalive_idle = 60_s;
    c.keepalive_interval = 10_s;
    c.keepalive_probes = 3;
    const auto [user_timeout, end, probes] = GENERATE(table<int, int, std::size_t>({
        {300, 300, 24}, // probes at 60, 70, ..., 290 s: more than 3
        {30, 70, 1},    // the first probe at 60 s is sent, the next timer ends it
    }));
    CAPTURE(user_timeout);
    c.user_timeout = duration::seconds(user_timeout);
    harness h(c);
    h.establish_as_client();
    const instant t0 = h.now;
    const auto out = h.run_until(t0 + duration::seconds(end) - 1_us);
    CHECK(out.size() == probes);
    for (const auto& p : out) CHECK(p.seq() == our_iss);
    CHECK(h.st() == state::established);
    const auto last = h.run_until(t0 + duration::seconds(end));
    REQUIRE(last.size() == 1);
    CHECK(last[0].flags() == (R | A));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}

TEST_CASE("keepalive: no probe while data waits behind a zero window: the persist timer watches the peer (Linux)") {
    config c = test_config();
    c.keepalive = true;
    c.keepalive_idle = 30_s;
    c.keepalive_interval = 5_s;
    c.keepalive_probes = 3;
    harness h(c);
    const instant t0 = stalled_on_zero_window(h); // "hello" queued, the peer silent from now on
    const auto out = h.run_until(t0 + 200_s);
    // zero-window probes only, at the backed-off RTO (a keepalive probe would be the same
    // segment, at +30, 35 and 40 s, and would end the connection at +45 s)
    const std::vector<std::int64_t> persist_ms{300, 900, 2100, 4500, 9300, 18900, 38100, 76500, 153300};
    REQUIRE(out.size() == persist_ms.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO(describe(out[i]));
        CHECK(out[i].when == t0 + duration::millis(persist_ms[i]));
    }
    CHECK(h.st() == state::established);
}

namespace {
config keepalive_config() {
    config c = test_config();
    c.keepalive = true;
    return c;
}
/// An established client with keepalive on (Linux's times), run to its first probe at 7200 s;
/// returns when the peer was last heard.
instant to_first_keepalive_probe(harness& h) {
    h.establish_as_client();
    const instant t0 = h.now;
    REQUIRE(h.run_until(t0 + 7200_s).size() == 1);
    return t0;
}
} // namespace

TEST_CASE("keepalive: a segment dropped as unacceptable does not restart the idle time or forget the probes sent (Linux's rcv_tstamp)") {
    harness h(keepalive_config());
    const instant t0 = to_first_keepalive_probe(h);
    const int kind = GENERATE(0, 1, 2);
    CAPTURE(kind);
    h.advance(10_s);
    if (kind == 0) h.in(data(peer_iss + 1 + 200000, our_iss + 1, "x")); // beyond the window
    if (kind == 1) h.in(rst(peer_iss + 100));                          // in window, not at RCV.NXT
    if (kind == 2) h.in(ack(peer_iss + 1, our_iss + 50));               // acknowledges what was never sent
    h.poll();                                                            // (an ACK or a challenge ACK)
    CHECK(h.t.keepalive_deadline() == t0 + 7275_s);
    const auto rest = h.run_until(t0 + 7875_s);
    REQUIRE_FALSE(rest.empty());
    CHECK(rest.back().flags() == (R | A)); // still 9 probes in all, and the end at 7875 s
    CHECK(h.st() == state::closed);
}

TEST_CASE("ESTABLISHED: an answered keepalive probe restarts the idle time") {
    harness h(keepalive_config());
    to_first_keepalive_probe(h);
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, our_iss + 1));
    h.poll_none();
    CHECK(h.t.next_deadline() == h.now + 7200_s);
    const auto probes = h.run_until(h.now + 7200_s + 75_s * 9 - 1_us);
    CHECK(probes.size() == 9);
    CHECK(h.st() == state::established);
}
