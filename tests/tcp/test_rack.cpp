// Engine specification: RACK loss detection (RFC 8985 6), its tail loss probe (RFC 8985 7), RFC 3042
// limited transmit, the limits on fast recovery after an RTO (RFC 6675 5.1, RFC 6582), and switching
// the congestion-control algorithm of a connection.
//
// Numbers: the peer's MSS is 1000, the handshake's RTT sample 100 ms, so SRTT = min_RTT = 100 ms,
// RTO = 300 ms and RACK's reordering window min_RTT / 4 = 25 ms. Data is sent at t = 100 ms (right
// after the handshake) and its ACKs arrive one RTT later, at 200 ms. Congestion control is NewReno
// (ssthresh = FlightSize / 2) unless a test says otherwise.
#include "tcb_harness.hpp"

using namespace tcbtest;

namespace {

config rack_config() {
    config c = test_config();
    c.sack = true;
    c.rack = true;
    return c;
}

config rack_tlp_config() {
    config c = rack_config();
    c.tail_loss_probe = true;
    return c;
}

/// A client that negotiated SACK with a peer of MSS 1000, RTT 100 ms; now = 100 ms.
void establish(harness& h) {
    h.connect();
    h.advance(100_ms);
    tcp_repr sa = syn_ack(peer_iss, our_iss + 1, 1000);
    sa.options.sack_permitted = true;
    h.in(sa);
    REQUIRE(h.poll_one().flags() == A);
    REQUIRE(h.t.rack_enabled());
}

} // namespace

// ================================================================== the transmission log (RFC 8985 6.1)

TEST_CASE("RACK log: a burst is one record, a retransmission becomes its own record, retransmitted and not lost") {
    xmit_log log;
    log.reset(seq32(1001));
    log.on_send(seq32(1001), seq32(2001), at(0_ms));
    log.on_send(seq32(2001), seq32(3001), at(0_ms)); // the same instant: the same run
    REQUIRE(log.size() == 1);
    log.on_send(seq32(3001), seq32(4001), at(1_ms));
    REQUIRE(log.size() == 2);
    log.set_flags(0, xmit_log::lost);
    log.on_send(seq32(1001), seq32(2001), at(2_ms)); // resent: [1001, 2001) splits off
    REQUIRE(log.size() == 3);
    CHECK(log.at(0).begin == seq32(1001));
    CHECK(log.at(0).end == seq32(2001));
    CHECK(log.at(0).flags == xmit_log::retransmitted);
    CHECK(log.at(0).sent == xmit_log::stamp(at(2_ms)));
    CHECK(log.at(1).begin == seq32(2001));
    CHECK(log.at(1).flags == xmit_log::lost); // the rest of the old run keeps its mark and time
    CHECK(log.at(1).sent == xmit_log::stamp(at(0_ms)));
    // New data at the instant of the retransmission is stamped after it: transmission order holds.
    log.on_send(seq32(4001), seq32(5001), at(2_ms));
    REQUIRE(log.size() == 4);
    CHECK(static_cast<std::int32_t>(log.at(3).sent - log.at(0).sent) > 0);
    log.advance(seq32(2501));
    CHECK(log.begin() == seq32(2501));
    CHECK(log.size() == 3);
    CHECK(log.end() == seq32(5001));
}

TEST_CASE("RACK log: when full, the two records closest in time merge (the later time), so it never grows") {
    xmit_log log;
    log.reset(seq32(0));
    for (std::uint32_t k = 0; k < xmit_log::capacity; ++k) {
        const duration t = k < 11 ? duration::millis(10 * k) : duration::millis(10 * k - 9); // 10 -> 11: 1 ms
        log.on_send(seq32(100 * k), seq32(100 * k + 100), at(t));
    }
    REQUIRE(log.size() == xmit_log::capacity);
    log.on_send(seq32(100 * xmit_log::capacity), seq32(100 * xmit_log::capacity + 100), at(10_s));
    CHECK(log.size() == xmit_log::capacity);
    CHECK(log.at(10).begin == seq32(1000));
    CHECK(log.at(10).end == seq32(1200));
    CHECK(log.at(10).sent == xmit_log::stamp(at(101_ms)));
    CHECK(log.end() == seq32(100 * xmit_log::capacity + 100));
}

// ================================================================== the reordering window (RFC 8985 6.2 step 4)

TEST_CASE("RACK reo_wnd: min_RTT / 4, zero in recovery or with DupThresh SACKed until reordering is seen, D-SACKs widen it, capped at SRTT") {
    tcp::rack r;
    r.reset(seq32(1));
    r.on_rtt_sample(100_ms, at(0_ms));
    CHECK(r.reo_wnd(false, false, 100_ms) == 25_ms);
    CHECK(r.reo_wnd(true, false, 100_ms) == 0_ms);
    CHECK(r.reo_wnd(false, true, 100_ms) == 0_ms);
    r.on_dsack(seq32(1000)); // one step per round trip with a D-SACK
    CHECK(r.reo_wnd_mult() == 2);
    CHECK(r.reo_wnd(false, false, 100_ms) == 50_ms);
    r.on_dsack(seq32(1000));
    CHECK(r.reo_wnd_mult() == 2); // the same round
    r.on_una(seq32(1000));
    r.on_dsack(seq32(2000));
    CHECK(r.reo_wnd(false, false, 100_ms) == 75_ms);
    r.on_una(seq32(2000));
    r.on_dsack(seq32(3000));
    r.on_una(seq32(3000));
    r.on_dsack(seq32(4000));
    CHECK(r.reo_wnd_mult() == 5);
    CHECK(r.reo_wnd(false, false, 100_ms) == 100_ms); // 125 ms, capped at SRTT
    CHECK(r.reo_wnd(false, false, 90_ms) == 90_ms);
    for (int i = 0; i < 15; ++i) r.on_recovery_exit();
    CHECK(r.reo_wnd_mult() == 5);
    r.on_recovery_exit(); // 16 recoveries without a D-SACK: back to 1
    CHECK(r.reo_wnd_mult() == 1);
    CHECK(r.reo_wnd(false, false, 100_ms) == 25_ms);
}

TEST_CASE("RACK min_RTT is a windowed minimum: a lower sample replaces it at once, a higher one only after 300 s") {
    tcp::rack r;
    r.reset(seq32(1));
    r.on_rtt_sample(100_ms, at(0_ms));
    r.on_rtt_sample(150_ms, at(1_s));
    CHECK(r.min_rtt() == 100_ms);
    r.on_rtt_sample(80_ms, at(2_s));
    CHECK(r.min_rtt() == 80_ms);
    r.on_rtt_sample(150_ms, at(303_s));
    CHECK(r.min_rtt() == 150_ms);
}

TEST_CASE("RACK on RTO (RFC 8985 6.3): the segment at SND.UNA and every range older than RACK.rtt + reo_wnd are lost") {
    for (const bool late : {false, true}) {
        tcp::rack r;
        r.reset(seq32(1001));
        r.on_send(seq32(1001), seq32(2001), at(0_ms));
        r.on_send(seq32(2001), seq32(3001), at(100_ms));
        r.on_send(seq32(3001), seq32(4001), at(150_ms));
        sack_scoreboard board;
        r.begin_ack();
        r.on_delivered(seq32(2001), seq32(3001), at(200_ms), std::nullopt); // RACK.rtt = 100 ms
        board.add(seq32(2001), seq32(3001), seq32(1001), seq32(4001));
        REQUIRE(r.rtt() == 100_ms);
        r.mark_lost_on_rto(late ? at(260_ms) : at(240_ms), 0_ms, board);
        const auto& log = r.log();
        REQUIRE(log.size() == 3);
        CHECK(log.at(0).has(xmit_log::lost));  // the head, always
        CHECK_FALSE(log.at(1).has(xmit_log::lost)); // SACKed
        CHECK(log.at(2).has(xmit_log::lost) == late); // sent at 150 ms: lost once 250 ms have passed
    }
}

// ================================================================== loss detection on ACKs (RFC 8985 6.2)

TEST_CASE("RACK: reordering within reo_wnd causes no spurious retransmission, and is remembered") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 3001}})); // [1001, 2001) is late, not lost
    h.poll_none();
    CHECK(h.t.reorder_deadline() == at(225_ms)); // sent at 100 ms + RACK.rtt 100 ms + reo_wnd 25 ms
    h.advance_to(at(210_ms));
    h.in(ack(peer_iss + 1, 3001)); // there it is, within the window
    CHECK(h.t.rack_state().reordering_seen());
    CHECK(h.t.reorder_deadline() == instant::never());
    CHECK(h.run_until(at(300_ms)).empty());
    h.in(ack(peer_iss + 1, 6001));
    CHECK(h.t.stats().retransmits == 0);
    CHECK(h.t.stats().fast_retransmits == 0);
    CHECK(h.t.stats().rack_marked_lost == 0);
    CHECK(h.t.cwnd() >= 10000); // no reduction
}

TEST_CASE("RACK: a lost segment followed by delivered ones is resent after RTT + reo_wnd by the reorder timer, with only two duplicate ACKs") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.advance_to(at(200_ms)); // [1001, 2001) was lost
    h.in(sack_ack(1001, {{2001, 3001}}));
    h.in(sack_ack(1001, {{2001, 4001}}));
    h.poll_none(); // two duplicates: DupThresh would wait for a third that never comes
    CHECK(h.t.reorder_deadline() == at(225_ms));
    CHECK(h.t.retransmit_deadline() == at(400_ms));
    const auto out = h.run_until(at(300_ms));
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq() == 1001);
    CHECK(out[0].len() == 1000);
    CHECK(out[0].when == at(225_ms));
    CHECK(h.t.in_recovery());
    CHECK(h.t.stats().rack_timer_fires == 1);
    CHECK(h.t.stats().fast_retransmits == 1);
    CHECK(h.t.stats().timeouts == 0);
    CHECK(h.t.ssthresh() == 2500); // NewReno: FlightSize 5000 / 2
    // PRR as Linux on a timer-started recovery: one segment deemed delivered, pipe 2000 (two
    // unSACKed segments after the hole) below ssthresh, so the reduction bound allows 500 bytes;
    // the recovery's first segment goes anyway: cwnd = pipe + 1 segment
    CHECK(h.t.cwnd() == 3000);
    h.advance_to(at(325_ms));
    h.in(ack(peer_iss + 1, 6001));
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.stats().retransmits == 1);
    CHECK(h.t.rtt().backoffs() == 0);
}

TEST_CASE("RACK: with no reordering seen, DupThresh SACKed segments mark the hole lost at once (reo_wnd 0)") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 5001}}));
    CHECK(h.t.in_recovery());
    const auto out = h.poll();
    REQUIRE(out.size() == 1); // pipe 6000 > cwnd 5000 - SMSS: only the fast retransmission
    CHECK(out[0].seq() == 1001);
    CHECK(h.t.ssthresh() == 5000);
    CHECK(h.t.stats().rack_timer_fires == 0);
}

TEST_CASE("RACK: once reordering was seen, even DupThresh SACKed segments wait reo_wnd before a hole counts as lost") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 3001}}));
    h.advance_to(at(210_ms));
    h.in(ack(peer_iss + 1, 6001)); // the first segment was only late
    REQUIRE(h.t.rack_state().reordering_seen());
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5); // [6001, 11001) at 210 ms
    h.advance_to(at(310_ms));
    h.in(sack_ack(6001, {{7001, 10001}})); // three segments SACKed above the hole
    h.poll_none();
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.reorder_deadline() == at(335_ms));
    const auto out = h.run_until(at(335_ms));
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq() == 6001);
    CHECK(h.t.in_recovery());
}

TEST_CASE("RACK: several holes in one window are all resent within the RTT after the first SACKs") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance_to(at(200_ms)); // lost: [1001, 2001), [4001, 5001), [7001, 8001)
    std::vector<sent> repairs;
    auto deliver = [&](const tcp_repr& a) {
        h.in(a);
        const auto out = h.poll();
        repairs.insert(repairs.end(), out.begin(), out.end());
    };
    deliver(sack_ack(1001, {{2001, 3001}}));
    deliver(sack_ack(1001, {{2001, 4001}}));
    deliver(sack_ack(1001, {{5001, 6001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{5001, 7001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{8001, 9001}, {5001, 7001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{8001, 10001}, {5001, 7001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{8001, 11001}, {5001, 7001}, {2001, 4001}}));
    CHECK(seqs_of(repairs) == std::vector<std::uint32_t>{1001, 4001, 7001});
    for (const auto& r : repairs) CHECK(r.when == at(200_ms));
    h.advance_to(at(300_ms));
    deliver(sack_ack(4001, {{5001, 7001}, {8001, 11001}}));
    deliver(sack_ack(7001, {{8001, 11001}}));
    deliver(ack(peer_iss + 1, 11001));
    CHECK(repairs.size() == 3);
    CHECK(h.t.snd_una().value() == 11001);
    CHECK(h.t.stats().retransmits == 3);
    CHECK(h.t.stats().fast_retransmits == 1);
    CHECK(h.t.stats().timeouts == 0);
    CHECK(h.t.ssthresh() == 5000);
}

TEST_CASE("RACK: a lost retransmission is detected when data sent after it is SACKed, and resent without an RTO") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(15000));
    REQUIRE(h.poll().size() == 10); // [1001, 11001) at 100 ms; [1001, 2001) will be lost
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 3001}}));
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{11001}); // limited transmit
    h.in(sack_ack(1001, {{2001, 4001}}));
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{12001});
    h.advance_to(at(201_ms));
    h.in(sack_ack(1001, {{2001, 5001}}));
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{1001}); // fast retransmit, at 201 ms: lost too
    CHECK(h.t.ssthresh() == 5000); // FlightSize 10000 (the limited-transmit data not counted) / 2
    h.advance_to(at(202_ms));
    std::vector<sent> later;
    for (std::uint32_t k = 4; k <= 9; ++k) {
        h.in(sack_ack(1001, {{2001, 2001 + 1000 * k}}));
        const auto out = h.poll();
        later.insert(later.end(), out.begin(), out.end());
    }
    CHECK(seqs_of(later) == std::vector<std::uint32_t>{13001, 14001}); // new data as pipe drains, at 202 ms
    h.advance_to(at(301_ms));
    h.in(sack_ack(1001, {{2001, 12001}})); // sent at 200 ms, before the retransmission: nothing to conclude
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{15001}); // only new data, as pipe drained
    h.advance_to(at(302_ms));
    h.in(sack_ack(1001, {{2001, 14001}})); // sent at 202 ms, after it, and delivered: the retransmission is lost
    const auto again = h.poll();
    REQUIRE_FALSE(again.empty());
    CHECK(again[0].seq() == 1001);
    CHECK(h.t.stats().retransmits == 2);
    CHECK(h.t.stats().fast_retransmits == 1); // the same recovery episode: no second reduction
    CHECK(h.t.stats().timeouts == 0);
    CHECK(h.t.in_recovery());
    CHECK(h.now < h.t.retransmit_deadline());
}

TEST_CASE("RACK: an ACK for the original transmission of a resent range (TSecr older than the resend) does not advance RACK") {
    config c = rack_config();
    c.timestamps = true;
    harness h(c);
    h.connect();
    h.advance(100_ms);
    tcp_repr sa = syn_ack(peer_iss, our_iss + 1, 1012);
    sa.options.sack_permitted = true;
    sa.options.timestamps = wire::tcp_timestamps{7000, h.t.tsval_at(epoch)};
    h.in(sa);
    REQUIRE(h.poll_one().flags() == A);
    REQUIRE(h.t.send_mss() == 1000);
    h.send(pattern(5000));
    const auto first = h.poll();
    REQUIRE(first.size() == 5);
    const std::uint32_t original_tsval = first[0].h.options.timestamps->value;
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 5001}})); // three SACKed: [1001, 2001) lost, resent at 200 ms
    REQUIRE(seqs_of(h.poll()) == std::vector<std::uint32_t>{1001});
    const auto end_before = h.t.rack_state().end_seq();
    h.advance_to(at(310_ms)); // the original was only delayed; its ACK echoes the original's TSval
    tcp_repr late = ack(peer_iss + 1, 5001);
    late.options.timestamps = wire::tcp_timestamps{7001, original_tsval};
    h.in(late);
    CHECK(h.t.snd_una().value() == 5001);
    // 110 ms after the resend is a plausible RTT, but the echo says the ACK is for the original
    CHECK(h.t.rack_state().end_seq() == end_before);
    CHECK(h.t.rack_state().rtt() == 100_ms);
}

TEST_CASE("PRR with RACK: an ACK that advances SND.UNA but reveals a new loss sends only what it delivered, no extra segment (Linux)") {
    harness h(rack_config());
    establish(h);
    h.send(pattern(6000));
    REQUIRE(h.poll().size() == 6); // [1001, 7001) at 100 ms; [1001, 2001) and [5001, 6001) will be lost
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 3001}}));
    h.in(sack_ack(1001, {{2001, 4001}}));
    h.in(sack_ack(1001, {{2001, 5001}})); // three SACKed above the hole: recovery, the hole resent
    REQUIRE(seqs_of(h.poll()) == std::vector<std::uint32_t>{1001});
    REQUIRE(h.t.ssthresh() == 3000); // NewReno: FlightSize 6000 / 2
    h.send(pattern(10000)); // new data waits: pipe (two unSACKed segments, the repair) is at ssthresh
    h.poll_none();
    h.advance_to(at(300_ms));
    // the repair arrived (SND.UNA 5001) and so did [6001, 7001), sent with [5001, 6001), which RACK
    // now marks lost: pipe 0, two segments delivered. PRR-SSRB may send what was delivered beyond
    // what it sent (3000 - 1000 = 2000), and no segment more: the ACK found a new loss
    h.in(sack_ack(5001, {{6001, 7001}}));
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{5001, 7001});
    CHECK(h.t.in_recovery());
    CHECK(h.t.cwnd() == 2000);
}

// ================================================================== the tail loss probe with RACK (RFC 8985 7)

TEST_CASE("TLP with RACK: a lost tail is found by the probe's SACK, RACK marks the rest, no RTO") {
    harness h(rack_tlp_config());
    establish(h);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.advance_to(at(200_ms)); // [3001, 6001) lost
    h.in(ack(peer_iss + 1, 3001));
    CHECK(h.t.probe_deadline() == at(402_ms)); // 2 SRTT + 2 ms
    CHECK(h.t.retransmit_deadline() == at(450_ms));
    const auto probe = h.run_until(at(402_ms));
    REQUIRE(probe.size() == 1);
    CHECK(probe[0].seq() == 5001); // no new data: the last segment again
    CHECK(h.t.stats().tail_loss_probes == 1);
    h.advance_to(at(502_ms)); // one RTT after the probe
    h.in(sack_ack(3001, {{5001, 6001}})); // the probe arrived: [3001, 5001) was sent long before it
    // PRR-SSRB (RFC 6937, as Linux): pipe is empty, below ssthresh; this ACK delivered one segment
    // and SND.UNA did not move, so one segment goes now
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{3001});
    CHECK(h.t.in_recovery());
    CHECK(h.t.ssthresh() == 2000); // one reduction (FlightSize 3000 / 2, at least 2 SMSS), not two
    h.advance_to(at(552_ms));
    h.in(sack_ack(4001, {{5001, 6001}})); // the first repair arrived: SND.UNA moved, one more may go
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{4001});
    CHECK(h.t.ssthresh() == 2000);
    h.advance_to(at(600_ms));
    h.in(ack(peer_iss + 1, 6001));
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.ssthresh() == 2000);
    CHECK(h.t.stats().timeouts == 0);
    CHECK(h.t.rtt().backoffs() == 0);
}

TEST_CASE("TLP with RACK: the PTO is not armed while the reorder timer is, and is armed again after it") {
    harness h(rack_tlp_config());
    establish(h);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    CHECK(h.t.probe_deadline() == at(302_ms));
    h.advance_to(at(200_ms));
    h.in(sack_ack(1001, {{2001, 3001}}));
    CHECK(h.t.reorder_deadline() == at(225_ms));
    CHECK(h.t.probe_deadline() == instant::never());
    h.advance_to(at(210_ms));
    h.in(sack_ack(1001, {{2001, 3001}, {4001, 5001}})); // still waiting on the same timer
    CHECK(h.t.probe_deadline() == instant::never());
    h.in(ack(peer_iss + 1, 5001)); // the hole filled (reordering): the timer is moot, the PTO is back
    CHECK(h.t.reorder_deadline() == instant::never());
    CHECK(h.t.probe_deadline() != instant::never());
}

// ================================================================== limited transmit (RFC 3042)

TEST_CASE("limited transmit: the first two duplicate ACKs each send one new segment beyond cwnd, cwnd is unchanged, the third starts recovery") {
    harness h; // NewReno, no SACK: duplicate ACKs in the RFC 5681 sense
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(15000));
    REQUIRE(h.poll().size() == 10);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 1001));
    const sent one = h.poll_one();
    CHECK(one.seq() == 11001);
    CHECK(h.t.cwnd() == 10000);
    h.in(ack(peer_iss + 1, 1001));
    const sent two = h.poll_one();
    CHECK(two.seq() == 12001);
    CHECK(h.t.cwnd() == 10000);
    h.in(ack(peer_iss + 1, 1001)); // third: fast retransmit
    CHECK(h.t.ssthresh() == 5000); // RFC 5681 3.2 step 2: FlightSize without the limited-transmit data
    CHECK(h.t.cwnd() == 8000);     // ssthresh + 3 SMSS
    CHECK(h.poll_one().seq() == 1001);
}

TEST_CASE("limited transmit never sends beyond the peer's window, and with SACK (RACK) works the same") {
    SECTION("the peer's window is full") {
        harness h;
        h.establish_as_client(100_ms, 1000);
        h.in(ack(peer_iss + 1, our_iss + 1, 10000)); // window 10000: exactly the initial window
        h.send(pattern(15000));
        REQUIRE(h.poll().size() == 10);
        h.in(ack(peer_iss + 1, 1001, 10000));
        h.poll_none();
    }
    SECTION("with SACK and RACK") {
        harness h(rack_config());
        establish(h);
        h.send(pattern(15000));
        REQUIRE(h.poll().size() == 10);
        h.advance_to(at(200_ms));
        h.in(sack_ack(1001, {{2001, 3001}}));
        CHECK(h.poll_one().seq() == 11001);
        h.in(sack_ack(1001, {{2001, 4001}}));
        CHECK(h.poll_one().seq() == 12001);
        CHECK(h.t.cwnd() == 10000);
    }
}

// ================================================================== fast recovery and the RTO

TEST_CASE("after an RTO, duplicate ACKs start no fast recovery until the data outstanding at the RTO is acknowledged (RFC 6582 3.2, RFC 6675 5.1)") {
    harness h; // NewReno, no SACK
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    const auto rto = h.run_until(at(400_ms));
    REQUIRE(rto.size() == 1);
    CHECK(h.t.ssthresh() == 5000);
    CHECK(h.t.cwnd() == 1000);
    h.advance(100_ms);
    for (int i = 0; i < 3; ++i) h.in(ack(peer_iss + 1, 1001)); // old duplicates
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.stats().fast_retransmits == 0);
    CHECK(h.t.ssthresh() == 5000); // no second reduction
    CHECK(h.t.cwnd() == 1000);
}

TEST_CASE("RTO ssthresh (RFC 5681 3.1): SACKed octets are not in flight, a repeated RTO holds ssthresh and CUBIC's W_max") {
    SECTION("SACKed octets left the network") {
        config c = rack_config();
        c.rack = false; // so that two SACKed segments start no recovery before the RTO
        harness h(c);
        h.connect();
        h.advance(100_ms);
        tcp_repr sa = syn_ack(peer_iss, our_iss + 1, 1000);
        sa.options.sack_permitted = true;
        h.in(sa);
        h.poll_one();
        h.send(pattern(10000));
        REQUIRE(h.poll().size() == 10);
        h.advance_to(at(200_ms));
        h.in(sack_ack(1001, {{2001, 4001}}));
        REQUIRE_FALSE(h.t.in_recovery());
        REQUIRE(h.run_until(at(400_ms)).size() == 1);
        CHECK(h.t.stats().timeouts == 1);
        CHECK(h.t.ssthresh() == 4000); // (10000 - 2000 SACKed) / 2
        CHECK(h.t.cwnd() == 1000);
    }
    SECTION("the same data times out again") {
        config c = test_config();
        c.congestion = congestion_control::cubic;
        harness h(c);
        h.establish_as_client(100_ms, 1000);
        h.send(pattern(10000));
        REQUIRE(h.poll().size() == 10);
        REQUIRE(h.run_until(at(400_ms)).size() == 1); // first RTO: ssthresh 0.7 * 10000
        CHECK(h.t.ssthresh() == 7000);
        REQUIRE(h.t.congestion().as_cubic() != nullptr);
        // RFC 9438 4.8: after a timeout no W_max is kept (the next congestion avoidance starts at K = 0)
        CHECK(h.t.congestion().as_cubic()->w_max() == 0);
        REQUIRE(h.run_until(at(1000_ms)).size() == 1); // second RTO (backed off to 600 ms)
        CHECK(h.t.stats().timeouts == 2);
        CHECK(h.t.ssthresh() == 7000);
        CHECK(h.t.cwnd() == 1000);
        CHECK(h.t.congestion().as_cubic()->w_max() == 0); // nor after the second
    }
}

TEST_CASE("NewReno recovery is \"impatient\" (RFC 6582 3.2 step 5): only the first partial ACK restarts the retransmission timer") {
    harness h;
    h.establish_as_client(100_ms, 1000); // RTO 300 ms
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance_to(at(200_ms)); // lost: [1001, 2001), [3001, 4001), [5001, 6001)
    for (int i = 0; i < 3; ++i) h.in(ack(peer_iss + 1, 1001));
    REQUIRE(h.poll_one().seq() == 1001);
    h.advance_to(at(300_ms));
    h.in(ack(peer_iss + 1, 3001)); // the first partial ACK
    CHECK(h.t.retransmit_deadline() == at(600_ms));
    REQUIRE(h.poll_one().seq() == 3001);
    h.advance_to(at(400_ms));
    h.in(ack(peer_iss + 1, 5001)); // the second: the timer keeps running
    CHECK(h.t.retransmit_deadline() == at(600_ms));
    REQUIRE(h.poll_one().seq() == 5001);
    CHECK(h.t.in_recovery());
}

// ================================================================== the receiver's duplicate ACKs (RFC 5681 4.2)

TEST_CASE("receiver: out-of-order segments taken in before one poll each get their own duplicate ACK, sent data carries one") {
    harness h; // no SACK: the sender counts these toward DupThresh
    h.establish_as_client();
    static const std::string ten = "0123456789";
    for (std::uint32_t k = 0; k < 3; ++k) h.in(data(peer_iss + 11 + 10 * k, our_iss + 1, ten));
    const auto acks = h.poll();
    REQUIRE(acks.size() == 3);
    for (const auto& a : acks) {
        CHECK(a.ack() == peer_iss + 1);
        CHECK(a.len() == 0);
    }
    h.in(data(peer_iss + 41, our_iss + 1, ten));
    h.in(data(peer_iss + 51, our_iss + 1, ten));
    h.send("reply");
    const auto out = h.poll(); // the data segment is one of the two ACKs owed
    REQUIRE(out.size() == 2);
    CHECK(out[0].len() == 5);
    CHECK(out[1].len() == 0);
    h.in(data(peer_iss + 1, our_iss + 1, ten)); // fills the hole: one ACK, not a duplicate
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 61);
}

// ================================================================== switches

TEST_CASE("RACK is on by default (Linux tcp_recovery 1), used only with SACK, rack = false keeps RFC 6675's DupThresh") {
    CHECK(config{}.rack);
    harness plain; // no SACK negotiated
    plain.establish_as_client();
    CHECK_FALSE(plain.t.rack_enabled());
    config c = rack_config();
    c.rack = false;
    harness h(c);
    h.connect();
    h.advance(100_ms);
    tcp_repr sa = syn_ack(peer_iss, our_iss + 1, 1000);
    sa.options.sack_permitted = true;
    h.in(sa);
    h.poll_one();
    CHECK_FALSE(h.t.rack_enabled());
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.advance(100_ms);
    h.in(sack_ack(1001, {{2001, 3001}}));
    h.in(sack_ack(1001, {{2001, 4001}}));
    CHECK(h.t.reorder_deadline() == instant::never()); // no RACK timer: the hole waits for the RTO
    CHECK(h.run_until(at(399_ms)).empty());
}

TEST_CASE("congestion: set_congestion_control switches a running connection, cwnd and ssthresh carry over") {
    harness h(rack_config()); // NewReno
    establish(h);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance_to(at(200_ms));
    h.in(ack(peer_iss + 1, 3001)); // slow start: 10000 + 2000
    REQUIRE(h.t.cwnd() == 12000);
    h.t.set_congestion_control(congestion_control::cubic);
    CHECK(h.t.congestion().algorithm() == congestion_control::cubic);
    CHECK(h.t.cwnd() == 12000);
    CHECK(h.t.ssthresh() == 0x7FFFFFFF);
    h.in(sack_ack(3001, {{4001, 7001}})); // a loss now reduces the CUBIC way: 0.7 * FlightSize (8000)
    CHECK(h.t.in_recovery());
    CHECK(h.t.ssthresh() == 5600);
    REQUIRE(h.t.congestion().as_cubic() != nullptr);
    CHECK(h.t.congestion().as_cubic()->w_max() == Catch::Detail::Approx(12));
    h.t.set_congestion_control(congestion_control::newreno);
    CHECK(h.t.congestion().algorithm() == congestion_control::newreno);
    CHECK(h.t.ssthresh() == 5600);
    CHECK(h.t.cwnd() == 5600);
}

// ================================================================== RACK's samples for congestion control

TEST_CASE("RACK: a SACK-only ACK gives congestion control (HyStart) the RTT of what it newly delivered, as Linux's pkts_acked on every ACK") {
    config c = rack_config();
    c.congestion = congestion_control::cubic;
    harness h(c);
    establish(h);
    const cubic* m = h.t.congestion().as_cubic();
    REQUIRE(m != nullptr);
    const duration before = m->delay_min(); // the handshake gives none (no data was delivered)
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    h.advance(7_ms); // [1001, 2001) is late; [2001, 3001) arrives and is SACKed
    h.in(sack_ack(1001, {{2001, 3001}}));
    CHECK(h.t.snd_una().value() == 1001);
    CHECK(m->delay_min() == 7_ms);
    CHECK(before != 7_ms);
}
