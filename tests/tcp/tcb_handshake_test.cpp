// Engine specification: opening a connection (RFC 9293 3.5, 3.10.7.3; RFC 6298 5.7; RFC 7323 2).
#include "tcb_harness.hpp"

using namespace tcbtest;

// ================================================================== CLOSED -> SYN_SENT

TEST_CASE("CLOSED: active open sends one SYN without payload that consumes one sequence number and carries MSS") {
    harness h;
    REQUIRE(h.st() == state::closed);
    const sent s = h.connect();
    CHECK(h.st() == state::syn_sent);
    CHECK(s.flags() == S);
    CHECK(s.seq() == our_iss);
    CHECK(s.ack() == 0);
    CHECK(s.len() == 0);
    CHECK(s.h.src_port == our_port);
    CHECK(s.h.dst_port == peer_port);
    CHECK(s.h.options.mss == 1460);
    CHECK_FALSE(s.h.options.window_scale); // window_scaling is off in test_config()
    CHECK(s.window() == 65535);            // 128 KiB of buffer, unscaled: the field's maximum
    CHECK(h.t.snd_una().value() == our_iss);
    CHECK(h.t.snd_nxt().value() == our_iss + 1);
    CHECK(h.t.next_deadline() == at(1_s)); // RFC 6298 2.1: the initial RTO is 1 s
}

TEST_CASE("CLOSED: with window scaling on, the SYN offers our shift (2 for a 128 KiB buffer)") {
    config c = test_config();
    c.window_scaling = true;
    harness h(c);
    const sent s = h.connect();
    CHECK(s.h.options.window_scale == 2);
    CHECK(s.h.options.mss == 1460);
    CHECK(s.window() == 65535); // a SYN's window is never scaled (RFC 7323 2.2)
}

TEST_CASE("SYN_SENT: send() before the handshake fails with not_connected") {
    harness h;
    h.connect();
    std::error_code ec;
    CHECK(h.t.send(bytes_of("early"), ec) == 0);
    CHECK(ec == errc::not_connected);
}

// ================================================================== SYN_SENT

TEST_CASE("SYN_SENT: a SYN-ACK acknowledging our SYN completes connect and is ACKed at once") {
    harness h;
    h.connect();
    h.advance(100_ms);
    h.in(syn_ack(peer_iss, our_iss + 1, 1200));
    CHECK(h.st() == state::established);
    CHECK(h.t.established_once());
    CHECK(h.t.irs().value() == peer_iss);
    CHECK(h.t.rcv_nxt().value() == peer_iss + 1);
    CHECK(h.t.snd_una().value() == our_iss + 1);
    CHECK(h.t.send_mss() == 1200);
    CHECK(h.t.send_window() == peer_window);
    CHECK(h.t.next_deadline() == instant{}); // the ACK is due now
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 1);
    CHECK(a.ack() == peer_iss + 1);
    CHECK(a.len() == 0);
    CHECK(a.window() == 65535);
    CHECK(h.t.rcv_wnd() == 65535); // unscaled: never more than the field can say
    CHECK_FALSE(a.h.options.mss);
    CHECK(h.t.next_deadline() == instant::never());
    // The SYN was timed (it was not retransmitted): SRTT = 100 ms, RTO = 100 + 4 * 50 = 300 ms.
    CHECK(h.t.rtt().srtt() == 100_ms);
    CHECK(h.t.rtt().rto() == 300_ms);
}

TEST_CASE("SYN_SENT: a SYN-ACK without MSS option leaves the send MSS at 536 (RFC 9293 3.7.1)") {
    harness h;
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 1, std::nullopt));
    CHECK(h.st() == state::established);
    CHECK(h.t.send_mss() == 536);
}

TEST_CASE("SYN_SENT: a SYN-ACK whose ACK is not ISS+1 is answered by RST <SEQ=SEG.ACK> and ignored") {
    harness h;
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 77));
    CHECK(h.st() == state::syn_sent);
    const sent r = h.poll_one();
    CHECK(r.flags() == R);
    CHECK(r.seq() == our_iss + 77);
    CHECK(r.h.src_port == our_port);
    CHECK(r.h.dst_port == peer_port);
    CHECK(r.len() == 0);
    // an ACK of ISS itself (nothing acknowledged) is just as unacceptable
    h.in(syn_ack(peer_iss, our_iss));
    CHECK(h.poll_one().seq() == our_iss);
    CHECK(h.st() == state::syn_sent);
    CHECK(h.t.next_deadline() == at(1_s)); // the SYN's retransmission clock keeps running
}

TEST_CASE("SYN_SENT: an acceptable RST ends the attempt: CLOSED with connection_refused") {
    harness h;
    h.connect();
    h.in(rst_ack(0, our_iss + 1));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::connection_refused);
    CHECK(h.t.error() == std::errc::connection_refused);
    h.poll_none(); // never answer a RST
    CHECK(h.t.next_deadline() == instant::never());
    CHECK(h.t.finished());
}

TEST_CASE("SYN_SENT: a RST with an unacceptable ACK, or without ACK, is ignored") {
    harness h;
    h.connect();
    h.in(rst_ack(0, our_iss + 5));
    CHECK(h.st() == state::syn_sent);
    h.in(rst(0));
    h.in(rst(peer_iss));
    CHECK(h.st() == state::syn_sent);
    CHECK_FALSE(h.t.error());
    h.poll_none();
}

TEST_CASE("SYN_SENT: a segment with neither SYN nor RST is dropped") {
    harness h;
    h.connect();
    h.in(ack(peer_iss, our_iss + 1));
    CHECK(h.st() == state::syn_sent);
    h.poll_none();
}

TEST_CASE("SYN_SENT: abort() closes at once with aborted and sends nothing (the peer holds no state)") {
    harness h;
    h.connect();
    h.t.abort(h.now);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::aborted);
    h.poll_none();
}

// ================================================================== SYN retransmission schedule

TEST_CASE("SYN_SENT: the SYN is resent at 1, 3, 7, 15, 31 and 63 s, connect fails with timed_out at 127 s") {
    harness h;
    h.connect();
    const auto out = h.run_until(at(127_s) - 1_us);
    REQUIRE(out.size() == 6);
    const std::int64_t expect_s[] = {1, 3, 7, 15, 31, 63};
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("retransmission " << i + 1);
        CHECK(out[i].when == at(duration::seconds(expect_s[i])));
        CHECK(out[i].flags() == S);
        CHECK(out[i].seq() == our_iss);
        CHECK(out[i].h.options.mss == 1460);
        CHECK(out[i].len() == 0);
    }
    CHECK(h.st() == state::syn_sent);
    CHECK(h.t.next_deadline() == at(127_s));
    h.run_until(at(127_s));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
    CHECK(h.t.next_deadline() == instant::never());
}

TEST_CASE("SYN_SENT: with syn_retries = 2 the SYN is resent at 1 and 3 s and connect fails at 7 s") {
    config c = test_config();
    c.syn_retries = 2;
    harness h(c);
    h.connect();
    const auto out = h.run_until(at(7_s) - 1_us);
    REQUIRE(out.size() == 2);
    CHECK(out[0].when == at(1_s));
    CHECK(out[1].when == at(3_s));
    CHECK(h.st() == state::syn_sent);
    h.run_until(at(7_s));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}

TEST_CASE("SYN_SENT: a SYN-ACK after a retransmitted SYN gives no RTT sample and RTO restarts at 3 s (RFC 6298 5.7)") {
    harness h;
    h.connect();
    h.run_until(at(1_s)); // one retransmission
    h.advance_to(at(1_s + 50_ms));
    h.in(syn_ack(peer_iss, our_iss + 1));
    h.poll_one();
    CHECK_FALSE(h.t.rtt().has_sample()); // Karn: which SYN does it answer?
    CHECK(h.t.rtt().rto() == 3_s);
    h.send("x");
    const sent d = h.poll_one();
    CHECK(d.len() == 1);
    CHECK(h.t.retransmit_deadline() == h.now + 3_s);
}

// ================================================================== LISTEN -> SYN_RCVD (passive)

TEST_CASE("LISTEN: a SYN opens SYN_RCVD and is answered by SYN-ACK with ACK = ISN+1 and our MSS") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss, 1400));
    CHECK(h.st() == state::syn_rcvd);
    const sent sa = h.poll_one();
    CHECK(sa.flags() == (S | A));
    CHECK(sa.seq() == our_iss);
    CHECK(sa.ack() == peer_iss + 1);
    CHECK(sa.len() == 0);
    CHECK(sa.h.options.mss == 1460);
    CHECK_FALSE(sa.h.options.window_scale);
    CHECK(sa.window() == 65535);
    CHECK(h.t.send_mss() == 1400);
    CHECK(h.t.snd_nxt().value() == our_iss + 1);
    CHECK(h.t.next_deadline() == at(1_s));
    CHECK_FALSE(h.t.established_once());
}

TEST_CASE("SYN_RCVD: the ACK of our SYN-ACK completes the passive open") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    h.advance(20_ms);
    h.in(ack(peer_iss + 1, our_iss + 1));
    CHECK(h.st() == state::established);
    CHECK(h.t.established_once());
    CHECK(h.t.snd_una().value() == our_iss + 1);
    h.poll_none(); // nothing to say: an ACK is not ACKed
    CHECK(h.t.next_deadline() == instant::never());
    CHECK(h.t.rtt().srtt() == 20_ms);
}

TEST_CASE("SYN_RCVD: data on the third segment is accepted and delivered") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    h.in(data(peer_iss + 1, our_iss + 1, "hello"));
    CHECK(h.st() == state::established);
    CHECK(h.recv() == "hello");
    CHECK(h.t.rcv_nxt().value() == peer_iss + 6);
    CHECK(h.t.next_deadline() == h.now + 40_ms); // a single small segment: delayed ACK
    h.advance(40_ms);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.ack() == peer_iss + 6);
}

TEST_CASE("SYN_RCVD: an ACK that does not acknowledge our SYN-ACK is answered by RST <SEQ=SEG.ACK>") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    h.in(ack(peer_iss + 1, our_iss + 9));
    CHECK(h.st() == state::syn_rcvd);
    const sent r = h.poll_one();
    CHECK(r.flags() == R);
    CHECK(r.seq() == our_iss + 9);
}

TEST_CASE("SYN_RCVD: an unacceptable segment and an inexact RST are answered by an ACK, and no stale ACK follows the open") {
    const bool rst_case = GENERATE(false, true);
    CAPTURE(rst_case);
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    if (rst_case) h.in(rst(peer_iss + 100)); // in the window, not at RCV.NXT: RFC 5961 3.2 challenge
    else h.in(data(peer_iss + 1 + 100000, our_iss + 1, "far")); // beyond the window: RFC 9293 3.10.7.4 step 1
    CHECK(h.st() == state::syn_rcvd);
    const sent a = h.poll_one();
    CHECK(a.flags() == A);
    CHECK(a.seq() == our_iss + 1);
    CHECK(a.ack() == peer_iss + 1);
    h.in(ack(peer_iss + 1, our_iss + 1));
    CHECK(h.st() == state::established);
    h.poll_none();
}

TEST_CASE("SYN_RCVD: a retransmitted SYN is answered by the SYN-ACK again") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    h.advance(300_ms);
    h.in(syn(peer_iss));
    const sent sa = h.poll_one();
    CHECK(sa.flags() == (S | A));
    CHECK(sa.seq() == our_iss);
    CHECK(sa.ack() == peer_iss + 1);
    CHECK(h.st() == state::syn_rcvd);
}

TEST_CASE("SYN_RCVD: a RST exactly at RCV.NXT closes the embryonic connection") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    h.in(rst(peer_iss + 1));
    CHECK(h.st() == state::closed);
    h.poll_none();
}

TEST_CASE("SYN_RCVD: abort() answers with RST and closes") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    h.t.abort(h.now);
    CHECK(h.st() == state::closed);
    const sent r = h.poll_one();
    CHECK((r.flags() & R) != 0);
    CHECK(r.seq() == our_iss + 1);
}

TEST_CASE("SYN_RCVD: the SYN-ACK is resent at 1, 3, 7, 15 and 31 s, the half-open connection is dropped at 63 s") {
    harness h;
    h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
    h.poll_one();
    const auto out = h.run_until(at(63_s) - 1_us);
    REQUIRE(out.size() == 5);
    const std::int64_t expect_s[] = {1, 3, 7, 15, 31};
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("retransmission " << i + 1);
        CHECK(out[i].when == at(duration::seconds(expect_s[i])));
        CHECK(out[i].flags() == (S | A));
        CHECK(out[i].seq() == our_iss);
        CHECK(out[i].ack() == peer_iss + 1);
    }
    CHECK(h.st() == state::syn_rcvd);
    CHECK(h.t.next_deadline() == at(63_s));
    const auto last = h.run_until(at(63_s));
    CHECK(last.empty()); // dropped silently, as Linux does
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}

// ================================================================== lost third segment

TEST_CASE("SYN_RCVD: if the third segment is lost the SYN-ACK is resent at 1 s and the client's ACK completes the open") {
    wire_pair w;
    w.drop = {2}; // SYN, SYN-ACK, [ACK lost]
    w.a.open_active(w.now, seq32(our_iss));
    w.a_to_b(); // SYN
    // the passive side of the pair is opened by the SYN the "listener" saw
    const sent the_syn = w.log.at(0);
    w.b.open_passive(w.now, seq32(peer_iss), the_syn.as_received());
    w.b_to_a(); // SYN-ACK
    CHECK(w.a.current_state() == state::established);
    w.a_to_b(); // the ACK, lost
    CHECK(w.b.current_state() == state::syn_rcvd);
    CHECK(w.b.next_deadline() == at(1_s));
    w.now = at(1_s);
    const auto resent = w.b_to_a();
    REQUIRE(resent.size() == 1);
    CHECK(resent[0].flags() == (S | A));
    CHECK(resent[0].seq() == peer_iss);
    const auto reply = w.a_to_b(); // ESTABLISHED answers the duplicate SYN-ACK with an ACK
    REQUIRE(reply.size() == 1);
    CHECK(reply[0].flags() == A);
    CHECK(reply[0].seq() == our_iss + 1);
    CHECK(reply[0].ack() == peer_iss + 1);
    CHECK(w.b.current_state() == state::established);
    CHECK(w.settle() == 0);
}

TEST_CASE("SYN_RCVD: if the third segment is lost the client's first data completes the open") {
    wire_pair w;
    w.drop = {2};
    w.a.open_active(w.now, seq32(our_iss));
    w.a_to_b();
    w.b.open_passive(w.now, seq32(peer_iss), w.log.at(0).as_received());
    w.b_to_a();
    w.a_to_b(); // lost
    std::error_code ec;
    REQUIRE(w.a.send(bytes_of("GET /"), ec) == 5);
    const auto d = w.a_to_b();
    REQUIRE(d.size() == 1);
    CHECK(d[0].seq() == our_iss + 1);
    CHECK(d[0].ack() == peer_iss + 1);
    CHECK(w.b.current_state() == state::established);
    std::string got(16, '\0');
    got.resize(w.b.recv({reinterpret_cast<std::uint8_t*>(got.data()), got.size()}));
    CHECK(got == "GET /");
}

// ================================================================== the pair: both ends

TEST_CASE("Three-way handshake over a wire: states after every segment, exactly three segments") {
    wire_pair w;
    w.a.open_active(w.now, seq32(our_iss));
    CHECK(w.a.current_state() == state::syn_sent);
    const auto s1 = w.collect(w.a);
    REQUIRE(s1.size() == 1);
    CHECK(s1[0].flags() == S);
    w.b.open_passive(w.now, seq32(peer_iss), s1[0].as_received());
    w.log.push_back(s1[0]);
    CHECK(w.b.current_state() == state::syn_rcvd);
    const auto s2 = w.b_to_a();
    REQUIRE(s2.size() == 1);
    CHECK(s2[0].flags() == (S | A));
    CHECK(s2[0].seq() == peer_iss);
    CHECK(s2[0].ack() == our_iss + 1);
    CHECK(w.a.current_state() == state::established);
    CHECK(w.b.current_state() == state::syn_rcvd);
    const auto s3 = w.a_to_b();
    REQUIRE(s3.size() == 1);
    CHECK(s3[0].flags() == A);
    CHECK(s3[0].seq() == our_iss + 1);
    CHECK(s3[0].ack() == peer_iss + 1);
    CHECK(w.b.current_state() == state::established);
    CHECK(w.settle() == 0);
    CHECK(w.log.size() == 3);
}

TEST_CASE("Simultaneous open: both SYN_SENT -> SYN_RCVD -> ESTABLISHED with exactly four segments") {
    wire_pair w;
    w.a.open_active(w.now, seq32(our_iss));
    w.b.open_active(w.now, seq32(peer_iss));
    const auto syn_a = w.collect(w.a);
    const auto syn_b = w.collect(w.b);
    REQUIRE(syn_a.size() == 1);
    REQUIRE(syn_b.size() == 1);
    w.deliver(w.b, syn_a); // the SYNs cross
    w.deliver(w.a, syn_b);
    CHECK(w.a.current_state() == state::syn_rcvd);
    CHECK(w.b.current_state() == state::syn_rcvd);
    const auto sa_a = w.collect(w.a);
    const auto sa_b = w.collect(w.b);
    REQUIRE(sa_a.size() == 1);
    REQUIRE(sa_b.size() == 1);
    CHECK(sa_a[0].flags() == (S | A));
    CHECK(sa_a[0].seq() == our_iss);
    CHECK(sa_a[0].ack() == peer_iss + 1);
    CHECK(sa_b[0].flags() == (S | A));
    CHECK(sa_b[0].seq() == peer_iss);
    CHECK(sa_b[0].ack() == our_iss + 1);
    w.deliver(w.b, sa_a); // the SYN-ACKs cross
    w.deliver(w.a, sa_b);
    CHECK(w.a.current_state() == state::established);
    CHECK(w.b.current_state() == state::established);
    CHECK(w.a.established_once());
    CHECK(w.b.established_once());
    CHECK(w.settle() == 0);
    CHECK(w.log.size() == 4);
    CHECK(w.a.next_deadline() == instant::never());
    CHECK(w.b.next_deadline() == instant::never());
}

TEST_CASE("Simultaneous open: a CLOSE in SYN_RCVD is queued and takes effect once ESTABLISHED: FIN_WAIT_1, the FIN after the handshake (RFC 9293 3.10.4)") {
    const bool orphan = GENERATE(false, true);
    CAPTURE(orphan);
    wire_pair w;
    w.cross_syns();
    REQUIRE(w.a.current_state() == state::syn_rcvd);
    if (orphan) w.a.close(w.now); // the application gave up on the connect
    else w.a.shutdown(w.now);
    CHECK(w.a.current_state() == state::syn_rcvd);
    const auto sa_a = w.collect(w.a);
    REQUIRE(sa_a.size() == 1);
    CHECK(sa_a[0].flags() == (S | A)); // no FIN before our SYN is acknowledged
    const auto sa_b = w.collect(w.b);
    w.deliver(w.b, sa_a);
    w.deliver(w.a, sa_b);
    CHECK(w.a.current_state() == state::fin_wait_1);
    CHECK(w.b.current_state() == state::established);
    w.settle();
    CHECK(w.a.current_state() == state::fin_wait_2);
    CHECK(w.b.current_state() == state::close_wait);
    w.b.shutdown(w.now);
    w.settle();
    CHECK(w.a.current_state() == state::time_wait);
    CHECK(w.b.current_state() == state::closed);
}

TEST_CASE("Simultaneous open: a SYN-ACK that arrives before ours went out is ACKed, so the peer need not time out") {
    wire_pair w;
    w.a.open_active(w.now, seq32(our_iss));
    w.b.open_active(w.now, seq32(peer_iss));
    const auto syn_a = w.collect(w.a);
    const auto syn_b = w.collect(w.b);
    w.deliver(w.b, syn_a); // the SYNs cross
    w.deliver(w.a, syn_b);
    REQUIRE(w.a.current_state() == state::syn_rcvd);
    REQUIRE(w.b.current_state() == state::syn_rcvd);
    const auto sa_a = w.a_to_b(); // a's SYN-ACK reaches b before b sent its own
    REQUIRE(sa_a.size() == 1);
    CHECK(w.b.current_state() == state::established);
    CHECK(w.a.current_state() == state::syn_rcvd);
    const auto reply = w.b_to_a();
    REQUIRE(reply.size() == 1);
    CHECK(reply[0].flags() == A);
    CHECK(reply[0].seq() == peer_iss + 1);
    CHECK(reply[0].ack() == our_iss + 1);
    CHECK(w.a.current_state() == state::established);
    CHECK(w.settle() == 0);
}

// ================================================================== window scaling (RFC 7323)

TEST_CASE("Window scaling: used when both SYNs carry it, the window field is scaled afterwards") {
    config c = test_config();
    c.window_scaling = true;
    harness h(c);
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 1, 1460, 7));
    CHECK(h.t.send_window() == peer_window); // the SYN-ACK's own window is not scaled
    const sent a = h.poll_one();
    CHECK(a.window() == 131072 >> 2); // our 128 KiB, shifted by our 2
    CHECK(h.t.rcv_wnd() == 131072);
    h.in(ack(peer_iss + 1, our_iss + 1, 100));
    CHECK(h.t.send_window() == 100u << 7);
}

TEST_CASE("Window scaling: the edge the peer sees never moves left when RCV.NXT moves by less than the unit (RFC 7323 2.4)") {
    config c = test_config();
    c.window_scaling = true; // our shift 2 for 128 KiB: the field counts 4-byte units
    c.delayed_ack = false;
    harness h(c);
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 1, 1460, 7));
    const sent first = h.poll_one();
    std::uint32_t edge = first.ack() + (std::uint32_t{first.window()} << 2);
    CHECK(edge == peer_iss + 1 + 131072);
    std::uint32_t seq = peer_iss + 1;
    SECTION("the application reads: the window is rounded up, and that edge is ours") {
        for (int i = 0; i < 20; ++i) { // 3 bytes each: RCV.NXT moves off the 4-byte grid and on again
            h.in(data(seq, our_iss + 1, "abc"));
            seq += 3;
            CHECK(h.recv() == "abc"); // before the ACK goes: the buffer has room past the edge
            const sent a = h.poll_one();
            const std::uint32_t now_edge = a.ack() + (std::uint32_t{a.window()} << 2);
            CAPTURE(i, a.ack(), a.window());
            CHECK(seq32(now_edge) >= seq32(edge));
            CHECK(now_edge == a.ack() + h.t.rcv_wnd()); // what we accept is what we said
            edge = now_edge;
        }
    }
    SECTION("nothing is read: the buffer is full to the edge, the field rounds down, the larger edge is still accepted") {
        h.in(data(seq, our_iss + 1, "abc"));
        seq += 3;
        const sent a = h.poll_one();
        CHECK(a.window() == (131072 - 4) / 4); // 131069 bytes left: 32767 units
        CHECK(h.t.rcv_wnd() == 131069);       // RFC 7323 2.4: what any ACK allowed is still in window
    }
}

TEST_CASE("Window scaling: not used when the SYN-ACK does not carry it, on either side") {
    config c = test_config();
    c.window_scaling = true;
    harness h(c);
    const sent s = h.connect();
    CHECK(s.h.options.window_scale == 2);
    h.in(syn_ack(peer_iss, our_iss + 1, 1460, std::nullopt));
    const sent a = h.poll_one();
    CHECK(a.window() == 65535); // unscaled, and capped at what 16 bits say
    CHECK(h.t.rcv_wnd() == 65535);
    h.in(ack(peer_iss + 1, our_iss + 1, 100));
    CHECK(h.t.send_window() == 100);
}

TEST_CASE("Window scaling: off on our side, a peer's shift is ignored both ways, as client and as server") {
    config c = test_config();
    c.window_scaling = false;
    SECTION("client: the SYN offers none, a SYN-ACK that offers 7 anyway does not turn it on") {
        harness h(c);
        const sent s = h.connect();
        CHECK_FALSE(s.h.options.window_scale);
        h.in(syn_ack(peer_iss, our_iss + 1, 1460, 7));
        const sent a = h.poll_one();
        CHECK(a.window() == 65535); // our 128 KiB, unscaled: what 16 bits can say
        CHECK(h.t.rcv_wnd() == 65535);
        h.in(ack(peer_iss + 1, our_iss + 1, 100));
        CHECK(h.t.send_window() == 100); // not 100 << 7
    }
    SECTION("server: a SYN that offers 7 gets a SYN-ACK without the option") {
        harness h(c);
        h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss, 1460, 7));
        const sent sa = h.poll_one();
        CHECK_FALSE(sa.h.options.window_scale);
        h.in(ack(peer_iss + 1, our_iss + 1, 10));
        CHECK(h.t.send_window() == 10); // not 10 << 7
    }
}

TEST_CASE("Window scaling: our shift is at most 14 (RFC 7323 2.3), and a peer's 14 scales its window by 2^14") {
    config c = test_config();
    c.window_scaling = true;
    c.recv_buffer = std::size_t{1} << 31; // 2 GiB would need a shift of 16 (allocated lazily: never here)
    harness h(c);
    const sent s = h.connect();
    CHECK(s.h.options.window_scale == 14);
    h.in(syn_ack(peer_iss, our_iss + 1, 1460, 14));
    const sent a = h.poll_one();
    CHECK(a.window() == 0xFFFF); // 2^31 >> 14 = 131072 does not fit: the largest field
    CHECK(h.t.rcv_wnd() == 0xFFFFu << 14);
    h.in(ack(peer_iss + 1, our_iss + 1, 0xFFFF));
    CHECK(h.t.send_window() == 0xFFFFu << 14);
}

TEST_CASE("Window scaling: the SYN-ACK offers our shift only if the SYN offered one") {
    config c = test_config();
    c.window_scaling = true;
    SECTION("SYN with wscale") {
        harness h(c);
        h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss, 1460, 3));
        const sent sa = h.poll_one();
        CHECK(sa.h.options.window_scale == 2);
        CHECK(sa.window() == 65535);
        h.in(ack(peer_iss + 1, our_iss + 1, 10));
        CHECK(h.t.send_window() == 80);
    }
    SECTION("SYN without wscale") {
        harness h(c);
        h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss, 1460, std::nullopt));
        const sent sa = h.poll_one();
        CHECK_FALSE(sa.h.options.window_scale);
        h.in(ack(peer_iss + 1, our_iss + 1, 10));
        CHECK(h.t.send_window() == 10);
    }
}
