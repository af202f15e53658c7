// Engine specification: selective acknowledgements. Receiver: SACK blocks from the reassembly queue
// (RFC 2018 4) and D-SACK (RFC 2883). Sender: the scoreboard and loss recovery of RFC 6675.
#include "tcb_harness.hpp"

#include <algorithm>

using namespace tcbtest;

namespace {

/// SACK with RFC 6675's own loss detection (DupThresh, IsLost): RACK, the default detector, has
/// its own specification in test_rack.cpp.
config sack_config(bool timestamps = false) {
    config c = test_config();
    c.sack = true;
    c.rack = false;
    c.timestamps = timestamps;
    return c;
}

/// A client that negotiated SACK (and timestamps if asked: the peer's TSval is 7000, constant).
void establish_with_sack(harness& h, bool timestamps = false, std::uint16_t peer_mss = 1460) {
    h.connect();
    h.advance(100_ms);
    tcp_repr sa = syn_ack(peer_iss, our_iss + 1, peer_mss);
    sa.options.sack_permitted = true;
    if (timestamps) sa.options.timestamps = wire::tcp_timestamps{7000, 1'001'000};
    h.in(sa);
    REQUIRE(h.poll_one().flags() == A);
    REQUIRE(h.t.sack_enabled());
}


std::vector<block> blocks_of(const sent& s) {
    std::vector<block> v;
    for (const auto& b : s.h.options.sack_blocks()) v.emplace_back(b.left.value(), b.right.value());
    return v;
}

} // namespace

// ================================================================== receiver: SACK blocks

TEST_CASE("SACK receiver: with 1..5 holes the ACK lists the held ranges most recent first, at most 4 blocks") {
    harness h(sack_config());
    establish_with_sack(h);
    static const std::string ten = "0123456789";
    // segment k covers [5011 + 20k, 5021 + 20k): a 10-byte hole in front of each
    std::vector<block> expected;
    for (std::uint32_t k = 0; k < 5; ++k) {
        const std::uint32_t left = peer_iss + 11 + 20 * k;
        h.in(data(left, our_iss + 1, ten));
        const sent a = h.poll_one();
        CHECK(a.ack() == peer_iss + 1);
        expected.insert(expected.begin(), block{left, left + 10});
        if (expected.size() > 4) expected.pop_back();
        CHECK(blocks_of(a) == expected);
    }
    CHECK(h.log.back().h.header_len() == 20 + 4 + 32); // NOP, NOP, SACK with 4 blocks
}

TEST_CASE("SACK receiver: with timestamps only 3 blocks fit") {
    harness h(sack_config(true));
    establish_with_sack(h, true);
    static const std::string ten = "0123456789";
    for (std::uint32_t k = 0; k < 4; ++k) h.in(data(peer_iss + 11 + 20 * k, our_iss + 1, ten));
    const auto acks = h.poll(); // one (duplicate) ACK per out-of-order segment, RFC 5681 4.2
    REQUIRE(acks.size() == 4);
    for (const sent& a : acks) {
        CHECK(blocks_of(a) == std::vector<block>{{5071, 5081}, {5051, 5061}, {5031, 5041}});
        CHECK(a.h.header_len() == 20 + 12 + 4 + 24);
    }
}

TEST_CASE("D-SACK with timestamps and four held ranges: the D-SACK block counts against the 3 that fit") {
    harness h(sack_config(true));
    establish_with_sack(h, true);
    static const std::string ten = "0123456789";
    for (std::uint32_t k = 0; k < 4; ++k) h.in(data(peer_iss + 11 + 20 * k, our_iss + 1, ten));
    h.poll();
    h.in(data(peer_iss + 31, our_iss + 1, ten)); // [5031, 5041) again
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 1);
    // RFC 2883: the duplicate first, then the block containing it, then the most recent other
    CHECK(blocks_of(a) == std::vector<block>{{5031, 5041}, {5031, 5041}, {5071, 5081}});
    CHECK(a.h.header_len() == 20 + 12 + 4 + 24); // timestamps, NOP NOP, 3 blocks: 40 bytes of options
}

TEST_CASE("SACK receiver: a segment extending a block moves the merged block first, filling holes removes blocks") {
    harness h(sack_config());
    establish_with_sack(h);
    h.in(data(peer_iss + 11, our_iss + 1, "bbbbb"));    // [5011, 5016)
    h.in(data(peer_iss + 31, our_iss + 1, "ddddd"));    // [5031, 5036)
    h.poll();
    h.in(data(peer_iss + 16, our_iss + 1, "ccccc"));    // extends the first to [5011, 5021)
    CHECK(blocks_of(h.poll_one()) == std::vector<block>{{5011, 5021}, {5031, 5036}});
    h.in(data(peer_iss + 1, our_iss + 1, "aaaaaaaaaa")); // fills [5001, 5011): delivers to 5021
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 21);
    CHECK(blocks_of(a) == std::vector<block>{{5031, 5036}});
    h.in(data(peer_iss + 21, our_iss + 1, "eeeeeeeeee")); // the last hole
    const sent b = h.poll_one();
    CHECK(b.ack() == peer_iss + 36);
    CHECK(b.h.options.sack_count == 0);
    CHECK(h.recv() == "aaaaaaaaaabbbbbccccceeeeeeeeeeddddd");
}

TEST_CASE("SACK receiver: without SACK negotiated an out-of-order segment gets a plain duplicate ACK") {
    harness h(sack_config());
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 1)); // no sackOK
    h.poll_one();
    h.in(data(peer_iss + 11, our_iss + 1, "x"));
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 1);
    CHECK(a.h.options.sack_count == 0);
}

// ================================================================== receiver: D-SACK (RFC 2883)

TEST_CASE("D-SACK: a duplicate below RCV.NXT is reported as the first block, once") {
    harness h(sack_config());
    establish_with_sack(h);
    h.in(data(peer_iss + 1, our_iss + 1, "hello"));
    h.in(data(peer_iss + 1, our_iss + 1, "hello")); // again: its ACK was lost
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 6);
    CHECK(blocks_of(a) == std::vector<block>{{5001, 5006}});
    CHECK(h.t.stats().dsacks_sent == 1);
    h.in(data(peer_iss + 6, our_iss + 1, "world"));
    const auto later = h.run_until(h.now + 40_ms); // the delayed ACK
    REQUIRE(later.size() == 1);
    CHECK(later[0].ack() == peer_iss + 11);
    CHECK(later[0].h.options.sack_count == 0); // reported once only
}

TEST_CASE("D-SACK: a partly old segment reports the old part at once, the new part is delivered") {
    harness h(sack_config());
    establish_with_sack(h);
    h.in(data(peer_iss + 1, our_iss + 1, "helloworld"));
    h.in(data(peer_iss + 6, our_iss + 1, "worldmore!"));
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 16);
    CHECK(blocks_of(a) == std::vector<block>{{5006, 5011}});
    CHECK(h.recv() == "helloworldmore!");
}

TEST_CASE("D-SACK: a duplicate of held out-of-order data: the D-SACK block, then the block containing it") {
    harness h(sack_config());
    establish_with_sack(h);
    h.in(data(peer_iss + 11, our_iss + 1, "0123456789")); // [5011, 5021)
    h.in(data(peer_iss + 41, our_iss + 1, "0123456789")); // [5041, 5051)
    h.poll();
    h.in(data(peer_iss + 11, our_iss + 1, "01234")); // [5011, 5016) again
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 1);
    CHECK(blocks_of(a) == std::vector<block>{{5011, 5016}, {5011, 5021}, {5041, 5051}});
}

TEST_CASE("D-SACK: a segment that partly repeats held out-of-order data reports the repeated part (RFC 2883, Linux)") {
    harness h(sack_config());
    establish_with_sack(h);
    h.in(data(peer_iss + 11, our_iss + 1, "0123456789")); // [5011, 5021) held
    h.poll();
    SECTION("the segment lies beyond RCV.NXT and starts in front of the held range") {
        h.in(data(peer_iss + 6, our_iss + 1, "abcde01234")); // [5006, 5016)
        const sent a = h.poll_one();
        CHECK(a.ack() == peer_iss + 1);
        CHECK(blocks_of(a) == std::vector<block>{{5011, 5016}, {5006, 5021}});
    }
    SECTION("the segment fills the hole at RCV.NXT and runs into the held range") {
        h.in(data(peer_iss + 1, our_iss + 1, "abcdefghij01234")); // [5001, 5016)
        const sent a = h.poll_one();
        CHECK(a.ack() == peer_iss + 21);
        CHECK(blocks_of(a) == std::vector<block>{{5011, 5016}});
        CHECK(h.recv() == "abcdefghij0123456789");
    }
}

// ================================================================== sender: scoreboard and recovery (RFC 6675)
// The peer's MSS is 1000, the RTT 100 ms (RTO 300 ms), IW 10 segments: ten segments [1001 + 1000k, 2001 + 1000k).

TEST_CASE("SACK recovery: a single hole is repaired by one retransmission, without an RTO, new data flows as pipe drains") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.send(pattern(15000));
    REQUIRE(h.poll().size() == 10);
    h.advance(100_ms); // segment 1 [1001, 2001) was lost; 2..10 arrive, each SACKed
    std::vector<sent> during;
    for (std::uint32_t k = 1; k <= 9; ++k) {
        h.in(sack_ack(1001, {{2001, 2001 + 1000 * k}}));
        const auto out = h.poll();
        during.insert(during.end(), out.begin(), out.end());
        if (k <= 2) { // two duplicates: no recovery yet, but one new segment each (RFC 3042 limited transmit)
            REQUIRE(out.size() == 1);
            CHECK(out[0].seq() == 11001 + 1000 * (k - 1));
        }
        if (k == 3) { // the third: recovery, ssthresh = FlightSize / 2, the hole resent (RFC 5681 3.2
                      // step 2: the two limited-transmit segments are not part of FlightSize). PRR
                      // (RFC 6937): cwnd = pipe (8 segments) + what this ACK's delivery allows: one
                      // segment (1000 * 5000 / prior cwnd 10000, rounded up to a segment)
            CHECK(h.t.ssthresh() == 5000);
            CHECK(h.t.cwnd() == 9000);
            REQUIRE(out.size() == 1);
            CHECK(out[0].seq() == 1001);
            CHECK(out[0].len() == 1000);
        }
    }
    // pipe: 1000 (the retransmission) + the unSACKed segments above it; new data once pipe <= cwnd - SMSS
    CHECK(seqs_of(during) == std::vector<std::uint32_t>{11001, 12001, 1001, 13001, 14001});
    CHECK(h.t.stats().retransmits == 1);
    CHECK(h.t.stats().fast_retransmits == 1);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 13001)); // the retransmission arrived: RecoveryPoint 13001 reached
    CHECK(h.t.snd_una().value() == 13001);
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.cwnd() == 5000);
    CHECK(h.t.rtt().backoffs() == 0);
    CHECK(h.now < h.t.retransmit_deadline());
}

TEST_CASE("SACK recovery: three holes in one window are repaired within one RTT, and only the holes are resent") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    const instant sent_at = h.now;
    h.advance(100_ms); // lost: [1001, 2001), [4001, 5001), [7001, 8001)
    std::vector<sent> repairs;
    auto deliver = [&](const tcp_repr& a) {
        h.in(a);
        const auto out = h.poll();
        repairs.insert(repairs.end(), out.begin(), out.end());
    };
    deliver(sack_ack(1001, {{2001, 3001}}));
    deliver(sack_ack(1001, {{2001, 4001}}));
    deliver(sack_ack(1001, {{5001, 6001}, {2001, 4001}})); // third duplicate: recovery
    deliver(sack_ack(1001, {{5001, 7001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{8001, 9001}, {5001, 7001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{8001, 10001}, {5001, 7001}, {2001, 4001}}));
    deliver(sack_ack(1001, {{8001, 11001}, {5001, 7001}, {2001, 4001}}));
    CHECK(seqs_of(repairs) == std::vector<std::uint32_t>{1001, 4001, 7001});
    for (const auto& r : repairs) CHECK(r.len() == 1000);
    h.advance(100_ms); // the three retransmissions arrive, one RTT after the first duplicate
    deliver(sack_ack(4001, {{5001, 7001}, {8001, 11001}}));
    deliver(sack_ack(7001, {{8001, 11001}}));
    deliver(ack(peer_iss + 1, 11001));
    CHECK(repairs.size() == 3);
    CHECK(h.t.snd_una().value() == 11001);
    CHECK(h.now - sent_at == 200_ms);
    CHECK(h.t.stats().retransmits == 3);
    CHECK(h.t.stats().fast_retransmits == 1);
    CHECK(h.t.rtt().backoffs() == 0);
    CHECK(h.t.cwnd() == 5000);
    CHECK(h.t.ssthresh() == 5000);
}

TEST_CASE("SACK recovery: D-SACK blocks below SND.UNA and blocks beyond SND.MAX are ignored") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    h.in(sack_ack(1001, {{500, 900}}));      // below SND.UNA: a D-SACK
    h.in(sack_ack(1001, {{3001, 9001}}));    // beyond SND.MAX 4001
    h.in(sack_ack(1001, {{3001, 2001}}));    // left >= right
    CHECK(h.t.scoreboard().empty());
    h.in(sack_ack(1001, {{2001, 3001}, {500, 900}}));
    REQUIRE(h.t.scoreboard().ranges().size() == 1);
    CHECK(h.t.scoreboard().ranges()[0] == seq_range{seq32(2001), seq32(3001)});
}

TEST_CASE("SACK: after an RTO, go-back-N skips what the peer SACKed") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.send(pattern(5000));
    REQUIRE(h.poll().size() == 5);
    h.advance(100_ms);
    h.in(sack_ack(1001, {{2001, 3001}})); // one duplicate: no recovery
    h.poll_none();
    const auto rto = h.run_until(at(400_ms)); // 100 ms + RTO 300 ms
    REQUIRE(rto.size() == 1);
    CHECK(rto[0].seq() == 1001);
    CHECK(h.t.cwnd() == 1000);
    h.advance(50_ms);
    h.in(sack_ack(2001, {{2001, 3001}}));
    const auto next = h.poll(); // slow start: cwnd 2000; [2001, 3001) is skipped
    CHECK(seqs_of(next) == std::vector<std::uint32_t>{3001, 4001});
    CHECK(h.t.stats().retransmits == 3);
}

TEST_CASE("SACK: while out-of-order data is held, our data segments shrink by the SACK option space (never above the MTU)") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.in(data(peer_iss + 11, our_iss + 1, "later"));
    h.send(pattern(2000));
    const auto out = h.poll();
    REQUIRE(out.size() == 2);
    CHECK(out[0].len() == 988); // 1000 - (NOP, NOP, SACK with 1 block = 12)
    CHECK(out[0].h.options.sack_count == 1);
    CHECK(out[0].h.header_len() + out[0].len() == 20 + 1000);
    CHECK(out[1].seq() == our_iss + 989);
    CHECK(out[1].len() == 988);
}

// ================================================================== tail loss probe (RFC 8985 7)

namespace {
config tlp_config() {
    config c = sack_config();
    c.tail_loss_probe = true;
    return c;
}
} // namespace

TEST_CASE("TLP: with more than one segment in flight the PTO is 2 SRTT + 2 ms, before the RTO") {
    harness h(tlp_config());
    establish_with_sack(h, false, 1000); // SRTT 100 ms, RTO 300 ms
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    // + 2 ms (Linux's two ticks): a PTO is never zero, even on a path whose SRTT is 0
    CHECK(h.t.probe_deadline() == at(302_ms));
    CHECK(h.t.retransmit_deadline() == at(400_ms));
}

TEST_CASE("TLP: a lost tail segment is repaired by a probe, not by an RTO: no backoff, no loss window") {
    harness h(tlp_config());
    establish_with_sack(h, false, 1000);
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 3001)); // [3001, 4001) was lost; SRTT 100, RTTVAR 37.5, RTO 250 ms
    CHECK(h.t.retransmit_deadline() == at(450_ms));
    // one segment in flight: PTO = 2 SRTT + 200 ms = 400 ms, after the RTO: the probe takes its place
    CHECK(h.t.probe_deadline() == at(450_ms));
    const auto out = h.run_until(at(450_ms));
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq() == 3001);
    CHECK(out[0].len() == 1000);
    CHECK(out[0].when == at(450_ms));
    CHECK(h.t.stats().tail_loss_probes == 1);
    CHECK(h.t.rtt().backoffs() == 0);
    CHECK(h.t.retransmit_deadline() == at(700_ms));
    CHECK(h.t.cwnd() > 1000);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 4001));
    CHECK(h.t.snd_una().value() == 4001);
    CHECK(h.t.stats().retransmits == 0); // the probe is counted in tail_loss_probes
    CHECK(h.t.retransmit_deadline() == instant::never());
    CHECK(h.t.probe_deadline() == instant::never());
    // an ACK at TLP.end_seq decides nothing yet (a D-SACK could still call the probe spurious)
    CHECK(h.t.ssthresh() == 0x7FFFFFFF);
    h.send(pattern(1000));
    REQUIRE(h.poll().size() == 1);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 5001)); // beyond it: the probe repaired a loss (RFC 8985 7.4.2)
    // the repaired loss counts once: cwnd 10000 / 2 (the segments in flight never filled cwnd,
    // so the ACKs did not grow it: congestion window validation)
    CHECK(h.t.ssthresh() == 5000);
}

namespace {
/// Three segments, the first two ACKed after 100 ms; the third's ACK is late, so the probe
/// resends [3001, 4001) at 450 ms (TLP.end_seq 4001).
void tail_probe_sent(harness& h) {
    establish_with_sack(h, false, 1000);
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 3001));
    REQUIRE(h.run_until(at(450_ms)).size() == 1);
}
} // namespace

TEST_CASE("TLP: the original's ACK at TLP.end_seq, then a D-SACK or a pure duplicate ACK for the probe: no loss, cwnd stays (RFC 8985 7.4.2)") {
    const bool dsack = GENERATE(true, false);
    CAPTURE(dsack);
    harness h(tlp_config());
    tail_probe_sent(h);
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, 4001)); // the original's delayed ACK
    h.advance(90_ms);
    if (dsack) h.in(sack_ack(4001, {{3001, 4001}})); // the probe arrived too
    else h.in(ack(peer_iss + 1, 4001));               // (a receiver without D-SACK: a bare duplicate)
    h.send(pattern(1000));
    REQUIRE(h.poll().size() == 1);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 5001));
    CHECK(h.t.ssthresh() == 0x7FFFFFFF);
}

TEST_CASE("TLP: the ACK of a probe that resent the timed segment gives no RTT sample (Karn, RFC 6298 3)") {
    harness h(tlp_config());
    establish_with_sack(h, false, 1000); // SRTT 100 ms, RTTVAR 50 ms; no timestamps to fall back on
    h.send(pattern(1000));
    const sent first = h.poll_one(); // the timed segment, alone in flight, lost
    const auto out = h.run_until(h.t.probe_deadline());
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq() == first.seq()); // nothing new to send: the probe resends it
    CHECK(h.t.stats().tail_loss_probes == 1);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, first.seq() + 1000)); // for the probe, or for the original?
    CHECK(h.t.snd_una().value() == first.seq() + 1000);
    CHECK(h.t.rtt().srtt() == 100_ms); // not 1/8 of the 400 ms since the original went out
    CHECK(h.t.rtt().rttvar() == 50_ms);
}

TEST_CASE("TLP: one probe per episode: an ACK that does not cover the probe arms no second one, the RTO follows (RFC 8985 7.3)") {
    harness h(tlp_config());
    establish_with_sack(h, false, 1000); // SRTT 100 ms
    h.send(pattern(3000));
    REQUIRE(h.poll().size() == 3);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 2001)); // two segments still out: PTO = 2 SRTT + 2 ms
    CHECK(h.t.probe_deadline() == h.now + 202_ms);
    const auto probe = h.run_until(h.now + 202_ms);
    REQUIRE(probe.size() == 1);
    CHECK(probe[0].seq() == 3001); // nothing unsent: the last segment again
    CHECK(h.t.stats().tail_loss_probes == 1);
    h.advance(18_ms);
    h.in(ack(peer_iss + 1, 3001)); // a late ACK of the second segment; the probe is still out
    CHECK(h.t.probe_deadline() == instant::never());
    // the probe is lost as well: the next transmission is the RTO's
    const auto rto = h.run_until(h.t.retransmit_deadline());
    REQUIRE(rto.size() == 1);
    CHECK(rto[0].seq() == 3001);
    CHECK(h.t.stats().tail_loss_probes == 1);
    CHECK(h.t.stats().timeouts == 1);
    CHECK(h.t.rtt().backoffs() == 1);
}

TEST_CASE("TLP: with unsent data waiting, the probe is one new segment beyond a full cwnd, not a retransmission (RFC 8985 7.3)") {
    harness h(tlp_config());
    establish_with_sack(h, false, 1000); // SRTT 100 ms, initial window 10 segments
    h.send(pattern(12000));
    REQUIRE(h.poll().size() == 10); // [1001, 11001): cwnd is full; [11001, 13001) waits
    CHECK(h.t.probe_deadline() == at(302_ms));
    const auto out = h.run_until(at(302_ms));
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq() == 11001); // SND.NXT: new data
    CHECK(out[0].len() == 1000);
    CHECK(out[0].when == at(302_ms));
    CHECK(h.t.stats().tail_loss_probes == 1);
    CHECK(h.t.stats().retransmits == 0);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 12001)); // all of it arrived: nothing was lost, no reduction
    CHECK(h.t.snd_una().value() == 12001);
    CHECK(h.t.ssthresh() == 0x7FFFFFFF);
    CHECK_FALSE(h.t.in_recovery());
}

TEST_CASE("TLP: a probe the peer reports as a duplicate (D-SACK) leaves cwnd alone") {
    harness h(tlp_config());
    tail_probe_sent(h);
    const std::uint32_t cwnd = h.t.cwnd();
    h.advance(20_ms);
    h.in(sack_ack(4001, {{3001, 4001}})); // the original arrived late: the probe is a duplicate
    CHECK(h.t.snd_una().value() == 4001);
    CHECK(h.t.ssthresh() == 0x7FFFFFFF);
    CHECK(h.t.cwnd() >= cwnd);
}

TEST_CASE("SACK recovery: entered on the first duplicate when more than 2 SMSS above SND.UNA are SACKed (IsLost)") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance(100_ms);
    h.in(sack_ack(1001, {{2001, 5001}})); // one ACK for three segments: 3000 bytes above the head
    CHECK(h.t.in_recovery());
    const sent r = h.poll_one();
    CHECK(r.seq() == 1001);
    CHECK(h.t.stats().fast_retransmits == 1);
}

// ================================================================== Proportional Rate Reduction (RFC 6937)

namespace {

/// A NewReno sender with SACK (SMSS 1000) grown to cwnd 20 segments, 20 segments in flight of 40
/// buffered, the first of them lost; the peer then SACKs the other 19 one ACK at a time, 2 ms
/// apart, and finally acknowledges everything the sender has sent. Returns, per ACK, the segments
/// sent in answer to it (limited transmit, the fast retransmit, the recovery).
std::vector<std::vector<std::uint32_t>> one_loss_in_twenty(harness& h, std::uint32_t acks = 19) {
    establish_with_sack(h, false, 1000);
    h.full_window_rounds(1);
    REQUIRE(h.t.cwnd() == 20000);
    h.send(pattern(40000));
    std::uint32_t sent_end = 11001;
    for (const auto& s : h.poll()) sent_end = std::max<std::uint32_t>(sent_end, s.seq() + static_cast<std::uint32_t>(s.len()));
    REQUIRE(sent_end == 31001);
    h.advance(100_ms); // [11001, 12001) was lost
    std::vector<std::vector<std::uint32_t>> per_ack;
    for (std::uint32_t k = 1; k <= acks; ++k) {
        h.advance(2_ms);
        h.in(sack_ack(11001, {{12001, 12001 + 1000 * k}}));
        per_ack.push_back(seqs_of(h.poll()));
    }
    return per_ack;
}

std::size_t total(const std::vector<std::vector<std::uint32_t>>& per_ack, std::size_t from, std::size_t to) {
    std::size_t n = 0;
    for (std::size_t i = from; i < to; ++i) n += per_ack[i].size();
    return n;
}

} // namespace

TEST_CASE("PRR: in a SACK recovery cwnd comes down to ssthresh in step with what is delivered, one segment per two ACKs (RFC 6937, Linux)") {
    harness h(sack_config()); // config::prr is on by default, as on Linux
    const auto per_ack = one_loss_in_twenty(h);
    // ACKs 1-2: limited transmit; 3: recovery (ssthresh = FlightSize 20 / 2 = 10 segments, prior
    // cwnd 20) and the fast retransmit, which PRR allows: ceil(1 * 10 / 20) = 1 segment
    CHECK(per_ack[0] == std::vector<std::uint32_t>{31001});
    CHECK(per_ack[1] == std::vector<std::uint32_t>{32001});
    CHECK(per_ack[2] == std::vector<std::uint32_t>{11001});
    CHECK(h.t.ssthresh() == 10000);
    // while pipe exceeds ssthresh, after k delivered segments ceil(k * 10 / 20) may have been sent:
    // one new segment on every second ACK, never a silence of more than one ACK
    for (std::uint32_t k = 4; k <= 17; ++k) {
        INFO("ACK " << k);
        if (k % 2 == 1) CHECK(per_ack[k - 1] == std::vector<std::uint32_t>{33001 + 1000 * (k - 5) / 2});
        else CHECK(per_ack[k - 1].empty());
    }
    // then pipe (10 segments: 9 new, the retransmission) is at ssthresh: nothing more
    CHECK(total(per_ack, 17, 19) == 0);
    CHECK(h.t.in_recovery());
    // everything arrives: the recovery ends with cwnd = ssthresh
    h.advance(50_ms);
    h.in(ack(peer_iss + 1, 40001));
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.cwnd() == 10000);
    CHECK(h.t.stats().timeouts == 0);
}

TEST_CASE("PRR off (config::prr = false): RFC 6675 alone, cwnd = ssthresh at once, silence while pipe exceeds it, then one segment per ACK") {
    config c = sack_config();
    c.prr = false;
    harness h(c);
    const auto per_ack = one_loss_in_twenty(h);
    CHECK(per_ack[2] == std::vector<std::uint32_t>{11001});
    CHECK(h.t.ssthresh() == 10000);
    CHECK(total(per_ack, 3, 12) == 0); // ACKs 4-12: pipe above cwnd = ssthresh, nothing goes
    for (std::uint32_t k = 13; k <= 19; ++k) {
        INFO("ACK " << k);
        CHECK(per_ack[k - 1] == std::vector<std::uint32_t>{33001 + 1000 * (k - 13)});
    }
    // the same number of segments by the end of the round trip, sent as a burst at its end
    CHECK(total(per_ack, 3, 19) == 7);
}

TEST_CASE("PRR: a recovery that ends while pipe is still above ssthresh leaves cwnd = ssthresh (Linux's tcp_end_cwnd_reduction)") {
    harness h(sack_config());
    one_loss_in_twenty(h, 8); // PRR's cwnd is still pipe + its allowance, far above ssthresh
    REQUIRE(h.t.in_recovery());
    REQUIRE(h.t.cwnd() > 14000);
    h.advance(10_ms);
    h.in(ack(peer_iss + 1, 34001)); // the retransmission arrived: everything sent is acknowledged
    CHECK_FALSE(h.t.in_recovery());
    CHECK(h.t.cwnd() == 10000);
}

TEST_CASE("PRR: a FIN sent in the recovery counts in what was sent, as the sequence number it takes") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    h.full_window_rounds(1);
    REQUIRE(h.t.cwnd() == 20000);
    h.send(pattern(23000));
    h.t.shutdown(h.now); // the FIN follows the last byte
    REQUIRE(h.poll().size() == 20); // [11001, 31001); [11001, 12001) will be lost
    h.advance(100_ms);
    std::vector<std::vector<std::uint32_t>> per_ack;
    for (std::uint32_t k = 1; k <= 7; ++k) {
        h.advance(2_ms);
        h.in(sack_ack(11001, {{12001, 12001 + 1000 * k}}));
        per_ack.push_back(seqs_of(h.poll()));
    }
    // ACKs 1-2: limited transmit; 3: the fast retransmit; 5: the last segment and the FIN on it
    CHECK(per_ack[0] == std::vector<std::uint32_t>{31001});
    CHECK(per_ack[1] == std::vector<std::uint32_t>{32001});
    CHECK(per_ack[2] == std::vector<std::uint32_t>{11001});
    CHECK(per_ack[4] == std::vector<std::uint32_t>{33001});
    // ACK 7: 5 segments delivered in the recovery, ceil(5 * 10 / 20) = 3 may have been sent, and
    // 2001 sequence numbers were (the repair, 1000 bytes and the FIN): cwnd = pipe + 999, where
    // pipe is the 15 unSACKed segments after the hole, the repair and the FIN's one: 16,001
    CHECK(h.t.cwnd() == 17000);
}

namespace {

/// SMSS 1000, 10 segments [1001, 11001) and nothing more to send; the first five are lost, the
/// other five arrive, one SACK each. From the third SACK on (recovery, ssthresh 5000) pipe is
/// below ssthresh and each SACK, one segment delivered without moving SND.UNA, lets one repair
/// go: returns the repairs.
std::vector<std::uint32_t> five_of_ten_lost(harness& h) {
    establish_with_sack(h, false, 1000);
    h.send(pattern(10000));
    REQUIRE(h.poll().size() == 10);
    h.advance(100_ms);
    std::vector<std::uint32_t> repairs;
    for (std::uint32_t k = 1; k <= 5; ++k) {
        h.advance(1_ms);
        h.in(sack_ack(1001, {{6001, 6001 + 1000 * k}}));
        for (auto s : seqs_of(h.poll())) repairs.push_back(s);
    }
    REQUIRE(h.t.in_recovery());
    REQUIRE(h.t.ssthresh() == 5000);
    return repairs;
}

} // namespace

TEST_CASE("PRR: below ssthresh, an ACK that advances SND.UNA without a new loss may send one segment more than it delivered (PRR-SSRB)") {
    harness h(sack_config());
    CHECK(five_of_ten_lost(h) == std::vector<std::uint32_t>{1001, 2001, 3001});
    // the first repair arrives: SND.UNA moves by one segment and nothing is newly lost, so the
    // bound is what it delivered plus one (pipe 2000, ssthresh 5000: room for three)
    h.advance(100_ms);
    h.in(sack_ack(2001, {{6001, 11001}}));
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{4001, 5001});
}

TEST_CASE("PRR: below ssthresh, an ACK that delivers part of a segment still lets one whole segment go (Linux counts packets)") {
    harness h(sack_config());
    REQUIRE(five_of_ten_lost(h).size() == 3);
    // half of the second repair is SACKed: 500 bytes delivered, SND.UNA unchanged
    h.advance(100_ms);
    h.in(sack_ack(1001, {{2001, 2501}, {6001, 11001}}));
    CHECK(seqs_of(h.poll()) == std::vector<std::uint32_t>{4001});
}

TEST_CASE("PRR: an ACK after which fewer bytes are SACKed (a full scoreboard forgot its highest range) delivers nothing, and cwnd stays sane") {
    harness h(sack_config());
    establish_with_sack(h, false, 1000);
    const std::uint32_t next = h.full_window_rounds(3); // slow start: cwnd 10 -> 80 segments
    REQUIRE(h.t.cwnd() == 80000);
    h.send(pattern(65000));
    REQUIRE(h.poll().size() == 65); // the peer's unscaled window: 65 segments
    const std::uint32_t base = next; // segment i is [base + 1000 i, base + 1000 (i + 1))
    auto seg = [&](std::uint32_t i, std::uint32_t n = 1) { return block{base + 1000 * i, base + 1000 * (i + n)}; };
    h.advance(100_ms);
    // 15 single segments 4 apart arrive (2, 6, ..., 58), then 62-64 together: 16 SACKed ranges,
    // the scoreboard's capacity; the rest, the head included, was lost
    for (std::uint32_t k = 0; k < 15; ++k) {
        h.in(sack_ack(base, {seg(2 + 4 * k)}));
        h.poll();
    }
    h.in(sack_ack(base, {seg(62, 3), seg(58)}));
    h.poll();
    REQUIRE(h.t.in_recovery());
    REQUIRE(h.t.scoreboard().ranges().size() == 16);
    const std::uint32_t sacked = h.t.scoreboard().sacked_bytes();
    // segment 4 arrives: a 17th range, so the highest (3000 bytes) is forgotten for it (1000)
    h.in(sack_ack(base, {seg(4), seg(62, 3), seg(58)}));
    REQUIRE(h.t.scoreboard().sacked_bytes() < sacked);
    CHECK(h.t.cwnd() <= 80000);
    CHECK(h.poll().size() <= 2);
}
