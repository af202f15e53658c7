// Engine specification: closing a connection (RFC 9293 3.6, 3.10.4, 3.10.7.4 step 8; RFC 1337;
// Linux's tcp_fin_timeout).
#include "tcb_harness.hpp"

using namespace tcbtest;

namespace {

/// A client that shut down and whose FIN the peer acknowledged: FIN_WAIT_2, SND.NXT = 1002.
void to_fin_wait_2(harness& h, bool orphan) {
    h.establish_as_client();
    if (orphan) h.t.close(h.now);
    else h.t.shutdown(h.now);
    const sent f = h.poll_one();
    REQUIRE(f.flags() == (F | A));
    h.in(ack(peer_iss + 1, our_iss + 2));
    REQUIRE(h.st() == state::fin_wait_2);
}

/// A client in TIME_WAIT after a four-way close; the peer's FIN arrived at h.now.
void to_time_wait(harness& h) {
    to_fin_wait_2(h, false);
    h.advance(1_s);
    h.in(fin(peer_iss + 1, our_iss + 2));
    REQUIRE(h.st() == state::time_wait);
    const sent a = h.poll_one();
    REQUIRE(a.flags() == A);
}

} // namespace

// ================================================================== the active close, one end

TEST_CASE("ESTABLISHED: shutdown() sends FIN <SEQ=SND.NXT> and enters FIN_WAIT_1") {
    harness h;
    h.establish_as_client();
    h.t.shutdown(h.now);
    CHECK(h.st() == state::fin_wait_1);
    const sent f = h.poll_one();
    CHECK(f.flags() == (F | A));
    CHECK(f.seq() == our_iss + 1);
    CHECK(f.ack() == peer_iss + 1);
    CHECK(f.len() == 0);
    CHECK(h.t.snd_nxt().value() == our_iss + 2); // the FIN consumes one number
    CHECK(h.t.next_deadline() == h.now + 300_ms); // RTO from the handshake's 100 ms sample
    std::error_code ec;
    CHECK(h.t.send(bytes_of("late"), ec) == 0);
    CHECK(ec == errc::connection_closing);
}

TEST_CASE("ESTABLISHED: the FIN follows queued data in the same segment") {
    harness h;
    h.establish_as_client();
    h.send("bye");
    h.t.shutdown(h.now);
    const sent f = h.poll_one();
    CHECK(f.flags() == (F | P | A));
    CHECK(f.seq() == our_iss + 1);
    CHECK(f.payload == "bye");
    CHECK(h.t.snd_nxt().value() == our_iss + 5);
}

TEST_CASE("FIN_WAIT_1: the ACK of our FIN moves to FIN_WAIT_2, the peer's FIN then to TIME_WAIT with 2MSL = 60 s") {
    harness h;
    h.establish_as_client();
    h.t.shutdown(h.now);
    h.poll_one();
    h.advance(50_ms);
    h.in(ack(peer_iss + 1, our_iss + 2));
    CHECK(h.st() == state::fin_wait_2);
    h.poll_none();
    CHECK(h.t.next_deadline() == instant::never()); // not orphaned: FIN_WAIT_2 may last forever
    h.advance(2_s);
    h.in(fin(peer_iss + 1, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 2);
    CHECK(a.ack() == peer_iss + 2);
    const instant expires = h.now + 60_s;
    CHECK(h.t.next_deadline() == expires);
    CHECK(h.t.to_time_wait_record().expires == expires);
    CHECK(h.t.to_time_wait_record().snd_nxt.value() == our_iss + 2);
    CHECK(h.t.to_time_wait_record().rcv_nxt.value() == peer_iss + 2);
    CHECK(h.run_until(expires - 1_us).empty());
    CHECK(h.st() == state::time_wait);
    CHECK(h.run_until(expires).empty());
    CHECK(h.st() == state::closed);
    CHECK_FALSE(h.t.error());
    CHECK(h.t.finished());
}

TEST_CASE("FIN_WAIT_1: a FIN that also acknowledges our FIN goes straight to TIME_WAIT") {
    harness h;
    h.establish_as_client();
    h.t.shutdown(h.now);
    h.poll_one();
    h.in(fin(peer_iss + 1, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 2);
    CHECK(a.ack() == peer_iss + 2);
    CHECK(h.t.next_deadline() == h.now + 60_s);
}

TEST_CASE("FIN_WAIT_1: a FIN that does not acknowledge our FIN moves to CLOSING, its ACK then to TIME_WAIT") {
    harness h;
    h.establish_as_client();
    h.t.shutdown(h.now);
    h.poll_one();
    h.in(fin(peer_iss + 1, our_iss + 1));
    CHECK(h.st() == state::closing);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.ack() == peer_iss + 2);
    h.advance(10_ms);
    h.in(ack(peer_iss + 2, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    CHECK(h.t.next_deadline() == h.now + 60_s);
    h.poll_none();
}

TEST_CASE("FIN_WAIT_1: an unacknowledged FIN is retransmitted at the RTO") {
    harness h;
    h.establish_as_client();
    h.t.shutdown(h.now);
    const sent f = h.poll_one();
    const auto out = h.run_until(f.when + 300_ms);
    REQUIRE(out.size() == 1);
    CHECK(out[0].flags() == (F | A));
    CHECK(out[0].seq() == our_iss + 1);
    CHECK(out[0].when == f.when + 300_ms);
    CHECK(h.t.next_deadline() == f.when + 300_ms + 600_ms);
}

// ================================================================== half-close

TEST_CASE("FIN_WAIT_2: after shutdown() the peer's data keeps arriving and is readable, EOF only at its FIN") {
    harness h;
    to_fin_wait_2(h, false);
    h.in(data(peer_iss + 1, our_iss + 2, "still "));
    h.in(data(peer_iss + 7, our_iss + 2, "talking"));
    CHECK(h.t.readable());
    CHECK_FALSE(h.t.at_eof());
    CHECK(h.recv() == "still talking");
    CHECK(h.recv().empty());
    CHECK_FALSE(h.t.at_eof()); // an empty buffer is not the end of the stream
    CHECK_FALSE(h.t.readable());
    h.poll_none(); // 13 bytes are less than two full segments: the ACK is delayed
    h.advance(40_ms);
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 14);
    h.in(fin(peer_iss + 14, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    CHECK(h.t.readable());
    CHECK(h.t.at_eof());
    CHECK(h.recv().empty());
    CHECK(h.poll_one().ack() == peer_iss + 15);
}

TEST_CASE("FIN_WAIT_1: data arriving before our FIN is acknowledged is delivered too") {
    harness h;
    h.establish_as_client();
    h.t.shutdown(h.now);
    h.poll_one();
    h.in(data(peer_iss + 1, our_iss + 1, "crossing"));
    CHECK(h.st() == state::fin_wait_1);
    CHECK(h.recv() == "crossing");
}

TEST_CASE("CLOSE_WAIT: the peer's half-close leaves our direction open") {
    harness h;
    h.establish_as_client();
    h.in(fin(peer_iss + 1, our_iss + 1, "last words"));
    CHECK(h.st() == state::close_wait);
    CHECK(h.recv() == "last words");
    CHECK(h.t.at_eof());
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.ack() == peer_iss + 12);
    h.send("reply");
    const sent d = h.poll_one();
    CHECK(d.payload == "reply");
    CHECK(d.seq() == our_iss + 1);
    h.in(ack(peer_iss + 12, our_iss + 6));
    h.t.shutdown(h.now);
    CHECK(h.st() == state::last_ack);
    const sent f = h.poll_one();
    CHECK(f.flags() == (F | A));
    CHECK(f.seq() == our_iss + 6);
    h.in(ack(peer_iss + 12, our_iss + 7));
    CHECK(h.st() == state::closed);
    CHECK_FALSE(h.t.error());
    CHECK(h.t.finished());
}

TEST_CASE("CLOSE_WAIT: closing before the ACK of the peer's FIN went out sends one FIN+ACK") {
    harness h;
    h.establish_as_client();
    h.in(fin(peer_iss + 1, our_iss + 1));
    CHECK(h.st() == state::close_wait);
    h.t.shutdown(h.now);
    CHECK(h.st() == state::last_ack);
    const sent f = h.poll_one();
    CHECK(f.flags() == (F | A));
    CHECK(f.seq() == our_iss + 1);
    CHECK(f.ack() == peer_iss + 2);
}

TEST_CASE("ESTABLISHED: close() with unread data resets the connection (RFC 2525 2.17)") {
    harness h;
    h.establish_as_client();
    h.in(data(peer_iss + 1, our_iss + 1, "unread"));
    h.t.close(h.now);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::aborted);
    const sent r = h.poll_one();
    CHECK((r.flags() & R) != 0);
    CHECK(r.seq() == our_iss + 1);
}

// ================================================================== both ends over a wire

TEST_CASE("Four-way close over a wire: states after every segment on both sides") {
    wire_pair w;
    w.handshake();
    w.a.shutdown(w.now);
    CHECK(w.a.current_state() == state::fin_wait_1);
    auto s = w.a_to_b(); // FIN
    REQUIRE(s.size() == 1);
    CHECK(s[0].flags() == (F | A));
    CHECK(w.a.current_state() == state::fin_wait_1);
    CHECK(w.b.current_state() == state::close_wait);
    s = w.b_to_a(); // ACK of the FIN
    REQUIRE(s.size() == 1);
    CHECK(s[0].flags() == A);
    CHECK(s[0].ack() == our_iss + 2);
    CHECK(w.a.current_state() == state::fin_wait_2);
    CHECK(w.b.current_state() == state::close_wait);
    w.b.shutdown(w.now);
    CHECK(w.b.current_state() == state::last_ack);
    s = w.b_to_a(); // the peer's FIN
    REQUIRE(s.size() == 1);
    CHECK(s[0].flags() == (F | A));
    CHECK(s[0].seq() == peer_iss + 1);
    CHECK(w.a.current_state() == state::time_wait);
    CHECK(w.b.current_state() == state::last_ack);
    s = w.a_to_b(); // the last ACK
    REQUIRE(s.size() == 1);
    CHECK(s[0].flags() == A);
    CHECK(s[0].ack() == peer_iss + 2);
    CHECK(w.a.current_state() == state::time_wait);
    CHECK(w.b.current_state() == state::closed);
    CHECK(w.settle() == 0);
    CHECK(w.log.size() == 3 + 4);
    const instant expires = w.now + 60_s;
    CHECK(w.a.next_deadline() == expires);
    w.run_until(expires);
    CHECK(w.a.current_state() == state::closed);
    CHECK_FALSE(w.a.error());
    CHECK_FALSE(w.b.error());
}

TEST_CASE("Simultaneous close: both FIN_WAIT_1 -> CLOSING -> TIME_WAIT") {
    wire_pair w;
    w.handshake();
    w.a.shutdown(w.now);
    w.b.shutdown(w.now);
    const auto fin_a = w.collect(w.a);
    const auto fin_b = w.collect(w.b);
    REQUIRE(fin_a.size() == 1);
    REQUIRE(fin_b.size() == 1);
    CHECK(fin_a[0].flags() == (F | A));
    CHECK(fin_b[0].flags() == (F | A));
    w.deliver(w.b, fin_a); // the FINs cross
    w.deliver(w.a, fin_b);
    CHECK(w.a.current_state() == state::closing);
    CHECK(w.b.current_state() == state::closing);
    const auto ack_a = w.collect(w.a);
    const auto ack_b = w.collect(w.b);
    REQUIRE(ack_a.size() == 1);
    REQUIRE(ack_b.size() == 1);
    CHECK(ack_a[0].flags() == A);
    CHECK(ack_a[0].seq() == our_iss + 2);
    CHECK(ack_a[0].ack() == peer_iss + 2);
    CHECK(ack_b[0].ack() == our_iss + 2);
    w.deliver(w.b, ack_a);
    w.deliver(w.a, ack_b);
    CHECK(w.a.current_state() == state::time_wait);
    CHECK(w.b.current_state() == state::time_wait);
    CHECK(w.settle() == 0);
    CHECK(w.a.next_deadline() == w.now + 60_s);
    CHECK(w.b.next_deadline() == w.now + 60_s);
    w.run_until(w.now + 60_s);
    CHECK(w.a.current_state() == state::closed);
    CHECK(w.b.current_state() == state::closed);
}

TEST_CASE("LAST_ACK: a lost final ACK makes the passive side resend its FIN at the RTO, TIME_WAIT ACKs it again") {
    wire_pair w;
    w.handshake(); // both RTOs: 300 ms
    w.drop = {6};  // SYN, SYN-ACK, ACK, FIN, ACK, FIN, [last ACK lost]
    w.a.shutdown(w.now);
    w.a_to_b();
    w.b_to_a();
    w.b.shutdown(w.now);
    const instant fin_sent = w.now;
    w.b_to_a();
    w.a_to_b(); // lost
    CHECK(w.a.current_state() == state::time_wait);
    CHECK(w.b.current_state() == state::last_ack);
    CHECK(w.b.next_deadline() == fin_sent + 300_ms);
    w.now = fin_sent + 300_ms;
    const auto again = w.b_to_a();
    REQUIRE(again.size() == 1);
    CHECK(again[0].flags() == (F | A));
    CHECK(again[0].seq() == peer_iss + 1);
    const auto reack = w.a_to_b();
    REQUIRE(reack.size() == 1);
    CHECK(reack[0].flags() == A);
    CHECK(reack[0].ack() == peer_iss + 2);
    CHECK(w.b.current_state() == state::closed);
    CHECK(w.a.current_state() == state::time_wait);
    CHECK(w.a.next_deadline() == w.now + 60_s); // restarted by the retransmitted FIN
}

// ================================================================== TIME_WAIT

TEST_CASE("TIME_WAIT: a retransmitted FIN is ACKed again and restarts 2MSL") {
    harness h;
    to_time_wait(h);
    const instant first_expiry = h.now + 60_s;
    CHECK(h.t.next_deadline() == first_expiry);
    h.advance(10_s);
    h.in(fin(peer_iss + 1, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 2);
    CHECK(a.ack() == peer_iss + 2);
    CHECK(h.t.next_deadline() == h.now + 60_s);
    CHECK(h.t.next_deadline() == first_expiry + 10_s);
    h.run_until(first_expiry);
    CHECK(h.st() == state::time_wait);
    h.run_until(first_expiry + 10_s);
    CHECK(h.st() == state::closed);
}

TEST_CASE("TIME_WAIT: SYNs are ACKed at most once per 500 ms, data and retransmitted FINs always (RFC 5961 7, Linux's tcp_invalid_ratelimit)") {
    harness h;
    to_time_wait(h);
    h.advance(1_s);
    h.in(syn(peer_iss + 1)); // an old SYN: not beyond RCV.NXT
    CHECK(h.poll_one().flags() == A);
    h.advance(1_ms);
    h.in(syn(peer_iss + 1));
    h.poll_none(); // throttled
    h.advance(100_ms);
    h.in(data(peer_iss + 2, our_iss + 2, "x"));
    CHECK(h.poll_one().ack() == peer_iss + 2);
    h.in(data(peer_iss + 2, our_iss + 2, "x"));
    CHECK(h.poll_one().ack() == peer_iss + 2);
    h.in(fin(peer_iss + 1, our_iss + 2));
    CHECK(h.poll_one().flags() == A);
    h.in(fin(peer_iss + 1, our_iss + 2));
    CHECK(h.poll_one().flags() == A);
    h.advance(400_ms); // 501 ms after the first SYN's ACK
    h.in(syn(peer_iss + 1));
    CHECK(h.poll_one().flags() == A);
    CHECK(h.st() == state::time_wait);
}

TEST_CASE("TIME_WAIT: a bare ACK is dropped without reply") {
    harness h;
    to_time_wait(h);
    const instant expiry = h.t.next_deadline();
    h.advance(1_s);
    h.in(ack(peer_iss + 2, our_iss + 2));
    h.poll_none();
    CHECK(h.st() == state::time_wait);
    CHECK(h.t.next_deadline() == expiry);
}

TEST_CASE("TIME_WAIT: data is ACKed but never delivered") {
    harness h;
    to_time_wait(h);
    const instant expiry = h.t.next_deadline();
    h.in(data(peer_iss + 2, our_iss + 2, "ghost"));
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 2);
    CHECK(a.ack() == peer_iss + 2);
    CHECK(h.t.recv_queue() == 0);
    CHECK(h.recv().empty());
    CHECK(h.t.next_deadline() == expiry); // not restarted
}

TEST_CASE("TIME_WAIT: a RST does not end it (RFC 1337)") {
    harness h;
    to_time_wait(h);
    const instant expiry = h.t.next_deadline();
    h.in(rst(peer_iss + 2));
    h.in(rst_ack(peer_iss + 2, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    CHECK_FALSE(h.t.error());
    h.poll_none();
    CHECK(h.t.next_deadline() == expiry);
    h.run_until(expiry);
    CHECK(h.st() == state::closed);
}

TEST_CASE("TIME_WAIT: a SYN is answered by an ACK (RFC 5961 4.2), the state is kept") {
    harness h;
    to_time_wait(h);
    h.in(syn(peer_iss + 100000));
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 2);
    CHECK(a.ack() == peer_iss + 2);
    CHECK(h.st() == state::time_wait);
}

TEST_CASE("TIME_WAIT: abort() ends it quietly") {
    harness h;
    to_time_wait(h);
    h.t.abort(h.now);
    CHECK(h.st() == state::closed);
    h.poll_none();
}

namespace {
/// A compact TIME-WAIT record at RCV.NXT `rcv_nxt` (timestamps with TS.Recent `ts_recent`, if given).
time_wait_record tw_record(std::uint32_t snd_nxt, std::uint32_t rcv_nxt, std::optional<std::uint32_t> ts_recent = {}) {
    time_wait_record r;
    r.snd_nxt = seq32(snd_nxt);
    r.rcv_nxt = seq32(rcv_nxt);
    r.ts_ok = ts_recent.has_value();
    r.ts_recent = ts_recent.value_or(0);
    return r;
}
} // namespace

TEST_CASE("time_wait classification: RST and bare ACK drop, retransmitted FIN restarts, SYN/data/other FIN ACK") {
    const seq32 rn(peer_iss + 2);
    const auto r = tw_record(our_iss + 2, rn.value());
    CHECK(classify_in_time_wait(r, rst(peer_iss + 2)) == time_wait_verdict::drop);
    CHECK(classify_in_time_wait(r, ack(peer_iss + 2, 1)) == time_wait_verdict::drop);
    CHECK(classify_in_time_wait(r, fin(peer_iss + 1, 1)) == time_wait_verdict::ack_and_restart);
    CHECK(classify_in_time_wait(r, fin(peer_iss - 2, 1, "abc")) == time_wait_verdict::ack_and_restart);
    CHECK(classify_in_time_wait(r, fin(peer_iss + 2, 1)) == time_wait_verdict::ack);
    CHECK(classify_in_time_wait(r, syn(peer_iss + 2)) == time_wait_verdict::ack);
    CHECK(classify_in_time_wait(r, data(peer_iss + 2, 1, "x")) == time_wait_verdict::ack);
}

TEST_CASE("time_wait classification: a SYN of a new incarnation (RFC 6191)") {
    const seq32 rn(peer_iss + 2);
    auto syn_ts = [](std::uint32_t seq, std::uint32_t tsval) {
        auto s = syn(seq);
        s.options.timestamps = wire::tcp_timestamps{tsval, 0};
        return s;
    };
    SECTION("the old connection had no timestamps: the sequence number decides") {
        const auto r = tw_record(our_iss + 2, rn.value());
        CHECK(classify_in_time_wait(r, syn(peer_iss + 3)) == time_wait_verdict::new_incarnation);
        CHECK(classify_in_time_wait(r, syn(peer_iss + 2)) == time_wait_verdict::ack);
        CHECK(classify_in_time_wait(r, syn(peer_iss - 100)) == time_wait_verdict::ack);
        CHECK(classify_in_time_wait(r, syn_ts(peer_iss + 3, 1)) == time_wait_verdict::new_incarnation);
        CHECK(classify_in_time_wait(r, syn_ts(peer_iss + 2, 1)) == time_wait_verdict::ack);
    }
    SECTION("both have timestamps: a newer TSval decides; an equal one leaves it to the sequence number") {
        const auto r = tw_record(our_iss + 2, rn.value(), 5000);
        CHECK(classify_in_time_wait(r, syn_ts(peer_iss - 100, 5001)) == time_wait_verdict::new_incarnation);
        CHECK(classify_in_time_wait(r, syn_ts(peer_iss + 100, 4999)) == time_wait_verdict::ack);
        CHECK(classify_in_time_wait(r, syn_ts(peer_iss + 100, 5000)) == time_wait_verdict::new_incarnation);
        CHECK(classify_in_time_wait(r, syn_ts(peer_iss + 2, 5000)) == time_wait_verdict::ack);
        // TSval compared modulo 2^32 (RFC 7323 5.2)
        const auto w = tw_record(our_iss + 2, rn.value(), 0xFFFF'FFF0u);
        CHECK(classify_in_time_wait(w, syn_ts(peer_iss, 0x10)) == time_wait_verdict::new_incarnation);
        // the new connection would have no timestamps: the sequence number decides
        CHECK(classify_in_time_wait(r, syn(peer_iss + 3)) == time_wait_verdict::new_incarnation);
        CHECK(classify_in_time_wait(r, syn(peer_iss + 2)) == time_wait_verdict::ack);
    }
    SECTION("a SYN-ACK or a SYN with FIN never opens one") {
        const auto r = tw_record(our_iss + 2, rn.value());
        auto sa = syn(peer_iss + 100);
        sa.flags = tcp_flags::syn | tcp_flags::ack;
        CHECK(classify_in_time_wait(r, sa) == time_wait_verdict::ack);
        sa.flags = tcp_flags::syn | tcp_flags::fin;
        CHECK(classify_in_time_wait(r, sa) == time_wait_verdict::ack);
    }
    SECTION("the new ISN lies beyond a 64 KiB window past the old SND.NXT") {
        const auto r = tw_record(0xFFFF'0000u, rn.value());
        CHECK(new_incarnation_isn(r, seq32(0xFFFF'0100u)).value() == 0xFFFF'0000u + 65537u); // 1, after the wrap
        CHECK(new_incarnation_isn(r, seq32(0xFFFF'0000u + 65538u)).value() == 0xFFFF'0000u + 65538u);
        CHECK(new_incarnation_isn(r, seq32(0x8000'0000u)).value() == 0x8000'0000u); // after, modulo 2^32
    }
}

// ================================================================== FIN_WAIT_2 timeout

TEST_CASE("FIN_WAIT_2: an orphaned connection goes CLOSED after exactly fin_timeout (60 s), silently") {
    harness h;
    to_fin_wait_2(h, true);
    const instant expiry = h.now + 60_s;
    CHECK(h.t.next_deadline() == expiry);
    CHECK(h.run_until(expiry - 1_us).empty());
    CHECK(h.st() == state::fin_wait_2);
    CHECK(h.run_until(expiry).empty());
    CHECK(h.st() == state::closed);
    CHECK(h.t.finished());
}

TEST_CASE("FIN_WAIT_2: the orphan's timeout is at least 3.5 RTOs (Linux's tcp_fin_time)") {
    config c = test_config();
    c.fin_timeout = 1_s;
    harness h(c);
    h.establish_as_client(2_s); // a slow path: an RTO of several seconds
    h.t.close(h.now);
    REQUIRE(h.poll_one().flags() == (F | A));
    h.advance(2_s);
    h.in(ack(peer_iss + 1, our_iss + 2));
    REQUIRE(h.st() == state::fin_wait_2);
    const duration floor = h.t.rtt().rto() * 7 / 2;
    REQUIRE(floor > 5_s);
    CHECK(h.t.next_deadline() == h.now + floor);
}

TEST_CASE("FIN_WAIT_2: close() after shutdown() starts the fin_timeout then") {
    harness h;
    to_fin_wait_2(h, false);
    h.advance(30_s);
    h.t.close(h.now);
    CHECK(h.st() == state::fin_wait_2);
    CHECK(h.t.next_deadline() == h.now + 60_s);
}

TEST_CASE("FIN_WAIT_2: a connection that was merely shut down does not time out") {
    harness h;
    to_fin_wait_2(h, false);
    CHECK(h.t.next_deadline() == instant::never());
    CHECK(h.run_until(h.now + 3600_s).empty());
    CHECK(h.st() == state::fin_wait_2);
}

TEST_CASE("FIN_WAIT_2: data for an orphaned connection is answered by RST") {
    harness h;
    to_fin_wait_2(h, true);
    h.in(data(peer_iss + 1, our_iss + 2, "nobody reads this"));
    CHECK(h.st() == state::closed);
    const sent r = h.poll_one();
    CHECK((r.flags() & R) != 0);
    CHECK(r.seq() == our_iss + 2);
}

TEST_CASE("FIN_WAIT_2: the peer's FIN before fin_timeout ends in TIME_WAIT with its own 60 s") {
    harness h;
    to_fin_wait_2(h, true);
    h.advance(59_s);
    h.in(fin(peer_iss + 1, our_iss + 2));
    CHECK(h.st() == state::time_wait);
    CHECK(h.poll_one().ack() == peer_iss + 2);
    CHECK(h.t.next_deadline() == h.now + 60_s);
}
