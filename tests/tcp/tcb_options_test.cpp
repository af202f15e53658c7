// Engine specification: TCP timestamps (RFC 7323 3, 4, 5) and the SACK-permitted handshake (RFC 2018 2).
//
// TSval is a 1 ms clock plus a per-connection offset, the ISS: at the harness epoch (10^6 ms) our
// TSval is 1'000'000 + 1000 = 1'001'000, and 100 ms later 1'001'100. The peer's TSvals start at 7000.
#include "tcb_harness.hpp"

using namespace tcbtest;

namespace {

constexpr std::uint32_t ts_epoch = 1'001'000; // our TSval at the epoch

config ts_config(bool timestamps = true, bool sack = false) {
    config c = test_config();
    c.timestamps = timestamps;
    c.sack = sack;
    return c;
}

tcp_repr with_ts(tcp_repr r, std::uint32_t val, std::uint32_t ecr) {
    r.options.timestamps = wire::tcp_timestamps{val, ecr};
    return r;
}

/// A client whose SYN-ACK (after 100 ms) carried TS val 7000 ecr <our SYN's TSval>.
void establish_with_ts(harness& h, bool sack = false) {
    h.connect();
    h.advance(100_ms);
    tcp_repr sa = with_ts(syn_ack(peer_iss, our_iss + 1), 7000, ts_epoch);
    sa.options.sack_permitted = sack;
    h.in(sa);
    const sent a = h.poll_one();
    REQUIRE(a.flags() == A);
    REQUIRE(h.st() == state::established);
}

} // namespace

// ================================================================== negotiation

TEST_CASE("options: the SYN offers MSS, sackOK, TS (val from the 1 ms clock, ecr 0) when the config enables them") {
    harness h(ts_config(true, true));
    const sent s = h.connect();
    CHECK(s.flags() == S);
    CHECK(s.h.options.mss == 1460);
    CHECK(s.h.options.sack_permitted);
    REQUIRE(s.h.options.timestamps);
    CHECK(s.h.options.timestamps->value == ts_epoch);
    CHECK(s.h.options.timestamps->echo == 0);
    CHECK(s.h.header_len() == 20 + 4 + 12); // MSS; sackOK + TS (Linux's layout)
}

TEST_CASE("options: a SYN retransmitted after 1 s carries a TSval 1000 higher") {
    harness h(ts_config());
    h.connect();
    const auto out = h.run_until(at(1_s));
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].h.options.timestamps);
    CHECK(out[0].h.options.timestamps->value == ts_epoch + 1000);
}

TEST_CASE("RTT: with timestamps, the SYN-ACK after a retransmitted SYN gives a sample from TSecr (RFC 7323 4.1), no 3 s RTO") {
    harness h(ts_config());
    h.connect();
    REQUIRE(h.run_until(at(1_s)).size() == 1); // the SYN again, TSval ts_epoch + 1000
    h.advance_to(at(1_s + 50_ms));
    h.in(with_ts(syn_ack(peer_iss, our_iss + 1), 7000, ts_epoch + 1000)); // answers the second SYN
    h.poll_one();
    REQUIRE(h.t.rtt().has_sample());
    CHECK(h.t.rtt().srtt() == 50_ms); // TSval has 1 ms ticks: 1050 - 1000
    CHECK(h.t.rtt().rto() < 3_s);
}

TEST_CASE("timestamps: used when both SYNs carry them, every later segment has TSval and echoes TS.Recent") {
    harness h(ts_config());
    establish_with_ts(h);
    CHECK(h.t.timestamps_enabled());
    CHECK(h.t.ts_recent() == 7000);
    const sent final_ack = h.log.back();
    REQUIRE(final_ack.h.options.timestamps);
    CHECK(final_ack.h.options.timestamps->value == ts_epoch + 100);
    CHECK(final_ack.h.options.timestamps->echo == 7000);
    CHECK_FALSE(final_ack.h.options.mss);
    CHECK(final_ack.h.header_len() == 32);
    h.advance(5_ms);
    h.send("hello");
    const sent d = h.poll_one();
    REQUIRE(d.h.options.timestamps);
    CHECK(d.h.options.timestamps->value == ts_epoch + 105);
    CHECK(d.h.options.timestamps->echo == 7000);
}

TEST_CASE("timestamps: also on the zero-window probe, the keepalive probe and the FIN (RFC 7323 3.2: every non-RST segment)") {
    config c = ts_config();
    c.keepalive = true;
    harness h(c);
    establish_with_ts(h);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 1, 0), 7001, ts_epoch + 100)); // a zero window
    h.send("hello");
    h.poll_none();
    const auto probe = h.run_until(h.t.persist_deadline());
    REQUIRE(probe.size() == 1);
    CHECK(probe[0].len() == 0);
    REQUIRE(probe[0].h.options.timestamps);
    CHECK(probe[0].h.options.timestamps->echo == 7001);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 1), 7002, ts_epoch + 100)); // the window opens
    REQUIRE(h.poll().size() == 1);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 6), 7003, ts_epoch + 400));
    const auto keepalive = h.run_until(h.t.keepalive_deadline());
    REQUIRE(keepalive.size() == 1);
    CHECK(keepalive[0].seq() == our_iss + 5); // SND.NXT - 1
    REQUIRE(keepalive[0].h.options.timestamps);
    CHECK(keepalive[0].h.options.timestamps->echo == 7003);
    h.t.close(h.now);
    const sent fin = h.poll_one();
    CHECK(fin.flags() == (F | A));
    REQUIRE(fin.h.options.timestamps);
    CHECK(fin.h.options.timestamps->echo == 7003);
}

TEST_CASE("timestamps: the payload MSS is the peer's MSS minus the 12 bytes of the option") {
    harness h(ts_config());
    establish_with_ts(h);
    CHECK(h.t.send_mss() == 1448);
    h.send(pattern(3000));
    const auto out = h.poll();
    REQUIRE(out.size() == 2); // the 104-byte tail waits for an ACK (Nagle)
    CHECK(out[0].len() == 1448);
    CHECK(out[1].len() == 1448);
    CHECK(h.t.cwnd() == 10 * 1448);
}

TEST_CASE("timestamps: not used when the SYN-ACK lacks them, nothing after the SYN carries them") {
    harness h(ts_config());
    h.connect();
    h.advance(100_ms);
    h.in(syn_ack(peer_iss, our_iss + 1));
    const sent a = h.poll_one();
    CHECK_FALSE(h.t.timestamps_enabled());
    CHECK_FALSE(a.h.options.timestamps);
    CHECK(h.t.send_mss() == 1460);
    h.send("x");
    CHECK_FALSE(h.poll_one().h.options.timestamps);
}

TEST_CASE("timestamps: a server answers a SYN with TS by a SYN-ACK echoing its TSval") {
    harness h(ts_config(true, true));
    tcp_repr s = with_ts(syn(peer_iss), 7000, 0);
    s.options.sack_permitted = true;
    h.t.open_passive(h.now, seq32(our_iss), s);
    const sent sa = h.poll_one();
    CHECK(sa.flags() == (S | A));
    REQUIRE(sa.h.options.timestamps);
    CHECK(sa.h.options.timestamps->value == ts_epoch);
    CHECK(sa.h.options.timestamps->echo == 7000);
    CHECK(sa.h.options.sack_permitted);
    CHECK(h.t.timestamps_enabled());
    CHECK(h.t.sack_enabled());
}

TEST_CASE("timestamps: a server answers a SYN without options by a SYN-ACK without TS and sackOK") {
    harness h(ts_config(true, true));
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    const sent sa = h.poll_one();
    CHECK_FALSE(sa.h.options.timestamps);
    CHECK_FALSE(sa.h.options.sack_permitted);
    CHECK_FALSE(h.t.timestamps_enabled());
    CHECK_FALSE(h.t.sack_enabled());
}

TEST_CASE("timestamps: a SYN with TS meets a config without them: no TS on the SYN-ACK") {
    harness h(ts_config(false));
    h.t.open_passive(h.now, seq32(our_iss), with_ts(syn(peer_iss), 7000, 0));
    const sent sa = h.poll_one();
    CHECK_FALSE(sa.h.options.timestamps);
    CHECK_FALSE(h.t.timestamps_enabled());
    CHECK(h.t.send_mss() == 1460);
}

TEST_CASE("sackOK: used only when both SYNs carry it") {
    SECTION("the peer offers it") {
        harness h(ts_config(false, true));
        h.connect();
        tcp_repr sa = syn_ack(peer_iss, our_iss + 1);
        sa.options.sack_permitted = true;
        h.in(sa);
        CHECK(h.t.sack_enabled());
    }
    SECTION("the peer does not") {
        harness h(ts_config(false, true));
        h.connect();
        h.in(syn_ack(peer_iss, our_iss + 1));
        CHECK_FALSE(h.t.sack_enabled());
    }
    SECTION("we do not offer it: the SYN has no sackOK and a sackOK SYN-ACK changes nothing") {
        harness h(ts_config(false, false));
        CHECK_FALSE(h.connect().h.options.sack_permitted);
        tcp_repr sa = syn_ack(peer_iss, our_iss + 1);
        sa.options.sack_permitted = true;
        h.in(sa);
        CHECK_FALSE(h.t.sack_enabled());
    }
}

// ================================================================== TSecr (RFC 7323 4.3)

TEST_CASE("TSecr: TS.Recent follows only segments at Last.ACK.sent, the segment filling a hole is echoed") {
    harness h(ts_config());
    establish_with_ts(h);
    h.in(with_ts(data(peer_iss + 11, our_iss + 1, "world"), 7200, ts_epoch + 100)); // out of order
    const sent dup = h.poll_one();
    CHECK(dup.ack() == peer_iss + 1);
    CHECK(dup.h.options.timestamps->echo == 7000); // not 7200: the segment lies beyond Last.ACK.sent
    CHECK(h.t.ts_recent() == 7000);
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "helloHELLO"), 7100, ts_epoch + 100)); // fills the hole
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 16);
    CHECK(a.h.options.timestamps->echo == 7100);
    CHECK(h.t.ts_recent() == 7100);
}

TEST_CASE("TSecr: with delayed ACKs the echo is the TSval of the first segment ACKed") {
    harness h(ts_config());
    establish_with_ts(h);
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "a"), 7100, ts_epoch + 100));
    h.poll_none(); // delayed
    h.in(with_ts(data(peer_iss + 2, our_iss + 1, "b"), 7110, ts_epoch + 100));
    CHECK(h.t.ts_recent() == 7100); // seq 5002 > Last.ACK.sent 5001
    const auto out = h.run_until(h.now + 40_ms);
    REQUIRE(out.size() == 1);
    CHECK(out[0].ack() == peer_iss + 3);
    CHECK(out[0].h.options.timestamps->echo == 7100);
}

// ================================================================== RTT from TSecr (RFC 7323 4.1)

TEST_CASE("RTT: the handshake is timed, TSecr on the ACK of retransmitted data gives a sample that ends the backoff") {
    harness h(ts_config());
    establish_with_ts(h); // SRTT 100 ms, RTTVAR 50 ms, RTO 300 ms
    CHECK(h.t.rtt().srtt() == 100_ms);
    h.send("data");
    const sent first = h.poll_one();
    CHECK(first.h.options.timestamps->value == ts_epoch + 100);
    const auto rtx = h.run_until(h.now + 300_ms);
    REQUIRE(rtx.size() == 1);
    CHECK(rtx[0].when == at(400_ms));
    CHECK(rtx[0].h.options.timestamps->value == ts_epoch + 400);
    CHECK(h.t.rtt().backoffs() == 1);
    CHECK(h.t.rtt().rto() == 600_ms);
    h.advance(50_ms);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 5), 7100, ts_epoch + 400)); // echoes the retransmission
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 50| = 50 ms; SRTT = 7/8 * 100 + 1/8 * 50 = 93.75 ms
    CHECK(h.t.rtt().rttvar() == 50_ms);
    CHECK(h.t.rtt().srtt() == 93750_us);
    CHECK(h.t.rtt().backoffs() == 0);
    CHECK(h.t.rtt().rto() == 293750_us);
}

TEST_CASE("RTT: a duplicate ACK's TSecr gives no sample: only an ACK that advances SND.UNA does (RFC 7323 4.1)") {
    harness h(ts_config());
    establish_with_ts(h); // SRTT 100 ms, RTTVAR 50 ms
    h.send(pattern(2896));
    REQUIRE(h.poll().size() == 2); // both carry TSval ts_epoch + 100
    h.advance(30_ms);
    // the peer holds a later segment and repeats its ACK, echoing our data's TSval: 30 ms old
    h.in(with_ts(ack(peer_iss + 1, our_iss + 1), 7100, ts_epoch + 100));
    h.in(with_ts(ack(peer_iss + 1, our_iss + 1), 7101, ts_epoch + 100));
    CHECK(h.t.snd_una().value() == our_iss + 1);
    CHECK(h.t.rtt().srtt() == 100_ms);
    CHECK(h.t.rtt().rttvar() == 50_ms);
    h.advance(10_ms);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 1 + 2896), 7102, ts_epoch + 100)); // advances: 40 ms
    CHECK(h.t.rtt().srtt() < 100_ms);
}

TEST_CASE("RTT: without timestamps the ACK of retransmitted data gives no sample (Karn) and the backoff stays") {
    harness h(ts_config(false));
    h.establish_as_client();
    h.send("data");
    h.poll_one();
    REQUIRE(h.run_until(h.now + 300_ms).size() == 1);
    h.advance(50_ms);
    h.in(ack(peer_iss + 1, our_iss + 5));
    CHECK(h.t.rtt().srtt() == 100_ms);
    CHECK(h.t.rtt().rto() == 600_ms);
}

TEST_CASE("RTT: every ACK that advances SND.UNA samples from TSecr, not only the timed segment's") {
    harness h(ts_config());
    establish_with_ts(h);
    h.send(pattern(2896));
    REQUIRE(h.poll().size() == 2); // 2 * 1448, the first one timed
    h.advance(100_ms);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 1 + 1448), 7100, ts_epoch + 100)); // timed: 100 ms
    CHECK(h.t.rtt().srtt() == 100_ms);
    CHECK(h.t.rtt().rttvar() == 37500_us); // 3/4 * 50
    h.advance(100_ms);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 2897), 7200, ts_epoch + 100)); // TSecr: 200 ms
    // RTTVAR = 3/4 * 37.5 + 1/4 * 100 = 53.125 ms; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms
    CHECK(h.t.rtt().rttvar() == 53125_us);
    CHECK(h.t.rtt().srtt() == 112500_us);
}

// ================================================================== PAWS (RFC 7323 5)

TEST_CASE("PAWS: a segment with a TSval older than TS.Recent is dropped and answered with an ACK") {
    harness h(ts_config());
    establish_with_ts(h);
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "fresh"), 7100, ts_epoch + 100));
    CHECK(h.t.ts_recent() == 7100);
    h.poll_none(); // delayed ACK pending
    h.in(with_ts(data(peer_iss + 6, our_iss + 1, "stale"), 7050, ts_epoch + 100));
    CHECK(h.t.stats().paws_drops == 1);
    CHECK(h.t.recv_queue() == 5);
    CHECK(h.t.rcv_nxt().value() == peer_iss + 6);
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 6);
    CHECK(a.h.options.timestamps->echo == 7100);
    CHECK(h.recv() == "fresh");
}

TEST_CASE("PAWS: an old copy of data we have, dropped by PAWS, is reported as a D-SACK (RFC 2883, Linux)") {
    harness h(ts_config(true, true));
    establish_with_ts(h, true);
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "fresh"), 7100, ts_epoch + 100));
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "fresh"), 7050, ts_epoch + 100)); // an old duplicate
    CHECK(h.t.stats().paws_drops == 1);
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 6);
    REQUIRE(a.h.options.sack_count == 1);
    CHECK(a.h.options.sack[0].left.value() == peer_iss + 1);
    CHECK(a.h.options.sack[0].right.value() == peer_iss + 6);
}

TEST_CASE("PAWS: a segment dropped by the RST, SYN or ACK checks does not move TS.Recent (RFC 5961, as Linux)") {
    const int kind = GENERATE(0, 1, 2, 3);
    CAPTURE(kind);
    harness h(ts_config());
    establish_with_ts(h);
    REQUIRE(h.t.ts_recent() == 7000);
    // in the window, at or below Last.ACK.sent, with a TSval far in the future: blind injection
    tcp_repr forged;
    switch (kind) {
    case 0: forged = seg(S | A, peer_iss + 1, our_iss + 1, "evil"); break;   // SYN: challenge ACK
    case 1: forged = data(peer_iss + 1, our_iss + 1000, "evil"); break;      // ACK of unsent data
    case 2: forged = seg(P, peer_iss + 1, 0, "evil"); break;                  // no ACK bit
    default: forged = seg(R | A, peer_iss + 2, our_iss + 1, {}, 0); break;   // RST not at RCV.NXT
    }
    h.in(with_ts(forged, 7000 + 0x7FFFFFFFu, ts_epoch));
    CHECK(h.t.ts_recent() == 7000);
    CHECK(h.st() == state::established);
    CHECK(h.t.recv_queue() == 0);
    for (const sent& a : h.poll()) { // a challenge or duplicate ACK echoes the genuine TSval
        REQUIRE(a.h.options.timestamps);
        CHECK(a.h.options.timestamps->echo == 7000);
    }
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "genuine"), 7100, ts_epoch + 100));
    CHECK(h.t.stats().paws_drops == 0);
    CHECK(h.t.ts_recent() == 7100);
    CHECK(h.recv() == "genuine");
}

TEST_CASE("PAWS: an equal TSval is accepted (the clock may not have ticked)") {
    harness h(ts_config());
    establish_with_ts(h);
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "one"), 7000, ts_epoch + 100));
    h.in(with_ts(data(peer_iss + 4, our_iss + 1, "two"), 7000, ts_epoch + 100));
    CHECK(h.t.stats().paws_drops == 0);
    CHECK(h.recv() == "onetwo");
}

TEST_CASE("PAWS: TSval comparison wraps: 5 after 2^32 - 5 is newer") {
    harness h(ts_config());
    h.connect();
    h.in(with_ts(syn_ack(peer_iss, our_iss + 1), 0xFFFFFFFBu, ts_epoch));
    h.poll_one();
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "wrap"), 5, ts_epoch));
    CHECK(h.t.stats().paws_drops == 0);
    CHECK(h.t.ts_recent() == 5);
    CHECK(h.recv() == "wrap");
}

TEST_CASE("PAWS: an RST is never dropped for its timestamp") {
    harness h(ts_config());
    establish_with_ts(h);
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "x"), 7100, ts_epoch + 100));
    h.in(with_ts(rst(peer_iss + 2), 6000, 0));
    CHECK(h.t.stats().paws_drops == 0);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::connection_reset);
}

TEST_CASE("PAWS: TS.Recent idle for more than 24 days is no longer valid") {
    harness h(ts_config());
    establish_with_ts(h);
    h.advance(duration::seconds(24 * 24 * 3600 + 1));
    h.in(with_ts(data(peer_iss + 1, our_iss + 1, "late"), 10, ts_epoch + 100));
    CHECK(h.t.stats().paws_drops == 0);
    CHECK(h.t.ts_recent() == 10);
    CHECK(h.recv() == "late");
}

TEST_CASE("timestamps: without SACK (no RACK), an ACK whose only RTT sample is a 0 ms echo gives congestion control none") {
    config c = ts_config();
    c.congestion = congestion_control::cubic;
    c.no_delay = true; // two small segments in flight at once
    harness h(c);
    establish_with_ts(h);
    const cubic* m = h.t.congestion().as_cubic();
    REQUIRE(m != nullptr);
    h.send("ping"); // timed (RFC 6298): its ACK gives a sample in microseconds
    const sent p = h.poll_one();
    h.send("pong"); // not timed: its ACK's only sample is the timestamp echo
    const sent q = h.poll_one();
    REQUIRE(q.h.options.timestamps);
    h.advance(500_us);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 5), 7100, p.h.options.timestamps->value));
    CHECK(m->delay_min() == 500_us);
    // 0.1 ms later the ACK of "pong" echoes a TSval of the same millisecond: 0 ms means only
    // "under 1 ms"; taken, it would set HyStart's minimum RTT to 1 us
    h.advance(100_us);
    h.in(with_ts(ack(peer_iss + 1, our_iss + 9), 7100, q.h.options.timestamps->value));
    CHECK(h.t.send_queue() == 0);
    CHECK(m->delay_min() == 500_us);
}
