// Engine specification: resets and blind-attack hardening (RFC 9293 3.5.2, 3.10.5, 3.10.7;
// RFC 5961 3, 4, 5).
#include "tcb_harness.hpp"

using namespace tcbtest;

// ================================================================== reset_for (no connection wants the segment)

TEST_CASE("reset_for: a segment with ACK earns <SEQ=SEG.ACK><CTL=RST>, ports swapped") {
    const auto r = reset_for(data(777, 4242, "xyz"));
    REQUIRE(r);
    CHECK(r->flags == R);
    CHECK(r->seq.value() == 4242);
    CHECK(r->src_port == our_port);
    CHECK(r->dst_port == peer_port);
    CHECK(r->payload.empty());
}

TEST_CASE("reset_for: a segment without ACK earns <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN counted") {
    const auto r1 = reset_for(syn(777));
    REQUIRE(r1);
    CHECK(r1->flags == (R | A));
    CHECK(r1->seq.value() == 0);
    CHECK(r1->ack.value() == 778);
    const auto r2 = reset_for(seg(F, 900, 0, "abcd"));
    REQUIRE(r2);
    CHECK(r2->ack.value() == 905);
    const auto r3 = reset_for(seg(0, 900, 0, "abcd"));
    REQUIRE(r3);
    CHECK(r3->ack.value() == 904);
}

TEST_CASE("reset_for: a RST is never answered") {
    CHECK_FALSE(reset_for(rst(1)));
    CHECK_FALSE(reset_for(rst_ack(1, 2)));
    CHECK_FALSE(reset_for(seg(R | S, 1, 0)));
}

// ================================================================== RFC 5961: RST in a synchronized state

TEST_CASE("ESTABLISHED: a RST exactly at RCV.NXT resets the connection (connection_reset), unanswered") {
    harness h;
    h.establish_as_client();
    h.send("pending");
    h.in(rst(peer_iss + 1));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::connection_reset);
    CHECK(h.t.error() == std::errc::connection_reset);
    CHECK(h.t.readable()); // the error wakes readers
    h.poll_none();
    CHECK(h.t.next_deadline() == instant::never());
    std::error_code ec;
    CHECK(h.t.send(bytes_of("x"), ec) == 0);
    CHECK(ec == errc::connection_reset);
}

TEST_CASE("ESTABLISHED: an in-window RST that is not exactly at RCV.NXT earns a challenge ACK, the connection survives") {
    harness h;
    h.establish_as_client();
    h.in(rst(peer_iss + 1 + 1000));
    CHECK(h.st() == state::established);
    CHECK_FALSE(h.t.error());
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 1);
    CHECK(a.ack() == peer_iss + 1);
    CHECK(h.t.stats().challenge_acks == 1);
    // the legitimate peer answers the challenge with the exact RST
    h.in(rst(peer_iss + 1));
    CHECK(h.st() == state::closed);
}

TEST_CASE("ESTABLISHED: an out-of-window RST is ignored without reply") {
    harness h;
    h.establish_as_client();
    h.in(rst(peer_iss + 1 + 70000)); // beyond the 65535 window
    h.in(rst(peer_iss));             // just before RCV.NXT
    CHECK(h.st() == state::established);
    h.poll_none();
    CHECK(h.t.stats().challenge_acks == 0);
}

TEST_CASE("ESTABLISHED: a SYN earns a challenge ACK (RFC 5961 4.2) and the connection survives") {
    harness h;
    h.establish_as_client();
    h.in(syn(peer_iss + 10));
    CHECK(h.st() == state::established);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 1);
    CHECK(a.ack() == peer_iss + 1);
    // another at once is not answered (RFC 5961 7 ACK throttling: one per 500 ms, Linux's
    // tcp_invalid_ratelimit); after 500 ms a SYN far outside the window earns one again
    h.in(syn(peer_iss + 900000));
    h.poll_none();
    CHECK(h.t.stats().challenge_acks == 1);
    h.advance(500_ms);
    h.in(syn(peer_iss + 900000));
    CHECK(h.poll_one().flags() == A);
    CHECK(h.st() == state::established);
}

TEST_CASE("ESTABLISHED: ACKs for invalid segments are throttled to one per 500 ms, except for segments with data (RFC 5961 7)") {
    const bool unlimited = GENERATE(false, true);
    CAPTURE(unlimited);
    config c = test_config();
    if (unlimited) c.invalid_ratelimit = duration::zero();
    harness h(c);
    h.establish_as_client();
    const auto acks_for = [&](const tcp_repr& s, int n) {
        std::size_t out = 0;
        for (int i = 0; i < n; ++i) {
            h.in(s);
            out += h.poll().size();
            h.advance(10_ms);
        }
        return out;
    };
    // pure ACKs out of the window: an ACK loop between desynchronized ends, or a blind attacker
    CHECK(acks_for(ack(peer_iss + 1 + 70000, our_iss + 1), 10) == (unlimited ? 10u : 1u));
    h.advance(500_ms);
    CHECK(acks_for(ack(peer_iss + 1 + 70000, our_iss + 1), 1) == 1u);
    // ACKs of data never sent, and in-window RSTs (challenge ACKs), share the same budget
    h.advance(500_ms);
    CHECK(acks_for(ack(peer_iss + 1, our_iss + 5000), 5) + acks_for(rst(peer_iss + 100), 5) == (unlimited ? 10u : 1u));
    // a retransmitted duplicate with data is always ACKed: its sender needs to hear
    h.in(data(peer_iss + 1, our_iss + 1, "data"));
    h.advance(40_ms);
    CHECK(h.poll_one().ack() == peer_iss + 5);
    CHECK(acks_for(data(peer_iss + 1, our_iss + 1, "data"), 5) == 5u);
    CHECK(h.st() == state::established);
}

TEST_CASE("ESTABLISHED: an ACK for data never sent is answered by an ACK and dropped") {
    harness h;
    h.establish_as_client();
    h.in(data(peer_iss + 1, our_iss + 500, "bogus"));
    CHECK(h.st() == state::established);
    CHECK(h.t.recv_queue() == 0);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.ack() == peer_iss + 1);
}

TEST_CASE("CLOSE_WAIT: a RST at RCV.NXT resets with connection_reset") {
    harness h;
    h.establish_as_client();
    h.in(fin(peer_iss + 1, our_iss + 1));
    h.poll_one();
    h.in(rst(peer_iss + 2));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::connection_reset);
}

// ================================================================== ABORT (RFC 9293 3.10.5)

TEST_CASE("ESTABLISHED: abort() emits RST <SEQ=SND.NXT>, discards queued data and fails with aborted") {
    harness h;
    h.establish_as_client();
    h.send("hello");
    CHECK(h.poll_one().len() == 5);
    h.send("queued behind Nagle");
    h.poll_none();
    CHECK(h.t.send_queue() == 5 + 19);
    h.in(data(peer_iss + 1, our_iss + 1, "unread"));
    h.t.abort(h.now);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::aborted);
    CHECK(h.t.send_queue() == 0);
    CHECK(h.t.recv_queue() == 0);
    const sent r = h.poll_one();
    CHECK(r.flags() == (R | A));
    CHECK(r.seq() == our_iss + 6);
    CHECK(r.ack() == peer_iss + 7);
    CHECK(r.len() == 0);
    h.poll_none();
    CHECK(h.t.next_deadline() == instant::never());
    CHECK(h.t.finished());
}

TEST_CASE("ESTABLISHED: abort() after a retransmission timeout rewound SND.NXT resets at SND.MAX") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(3000));
    CHECK(h.poll().size() == 3);
    CHECK(h.t.snd_nxt().value() == our_iss + 3001);
    const auto rtx = h.run_until(h.now + 300_ms);
    REQUIRE(rtx.size() == 1); // the loss window is one segment
    CHECK(h.t.snd_nxt().value() == our_iss + 1001);
    h.t.abort(h.now);
    const sent r = h.poll_one();
    CHECK((r.flags() & R) != 0);
    CHECK(r.seq() == our_iss + 3001);
}

TEST_CASE("CLOSED: on_segment on a CLOSED TCB does nothing (the stack answers with reset_for)") {
    harness h;
    h.in(syn(1));
    h.in(data(1, 2, "x"));
    h.poll_none();
    CHECK(h.st() == state::closed);
}
