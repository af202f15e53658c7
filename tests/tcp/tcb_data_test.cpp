// Engine specification: data transfer in ESTABLISHED (RFC 9293 3.8, 3.10.7.4 steps 1, 5, 7; RFC 896;
// RFC 1122 4.2.3.2; RFC 5681 4.2).
#include "tcb_harness.hpp"

using namespace tcbtest;

// ================================================================== sending

TEST_CASE("ESTABLISHED: data is cut into segments of the peer's MSS, a short tail waits for the ACK (Nagle)") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    const std::string msg = pattern(2500);
    CHECK(h.send(msg) == 2500);
    const auto out = h.poll();
    REQUIRE(out.size() == 2);
    CHECK(out[0].flags() == A);
    CHECK(out[0].seq() == our_iss + 1);
    CHECK(out[0].ack() == peer_iss + 1);
    CHECK(out[0].payload == msg.substr(0, 1000));
    CHECK(out[1].seq() == our_iss + 1001);
    CHECK(out[1].payload == msg.substr(1000, 1000));
    CHECK(h.t.snd_nxt().value() == our_iss + 2001);
    h.in(ack(peer_iss + 1, our_iss + 2001));
    const sent tail = h.poll_one();
    CHECK(tail.flags() == (P | A)); // the segment that empties the buffer carries PSH
    CHECK(tail.seq() == our_iss + 2001);
    CHECK(tail.payload == msg.substr(2000));
}

TEST_CASE("ESTABLISHED: cumulative ACKs free the send buffer and move SND.UNA, the timer stops when all is ACKed") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.send(pattern(3000));
    const auto out = h.poll();
    REQUIRE(out.size() == 3);
    CHECK(out[2].flags() == (P | A));
    CHECK(h.t.send_queue() == 3000);
    const instant first_sent = h.now;
    CHECK(h.t.retransmit_deadline() == first_sent + 300_ms);
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, our_iss + 2001));
    CHECK(h.t.snd_una().value() == our_iss + 2001);
    CHECK(h.t.send_queue() == 1000);
    CHECK(h.t.retransmit_deadline() == h.now + h.t.rtt().rto()); // restarted (RFC 6298 5.3)
    h.in(ack(peer_iss + 1, our_iss + 3001));
    CHECK(h.t.send_queue() == 0);
    CHECK(h.t.retransmit_deadline() == instant::never()); // RFC 6298 5.2
    h.poll_none();
}

TEST_CASE("ESTABLISHED: Nagle: a second small write waits for the ACK of the first") {
    harness h;
    h.establish_as_client();
    h.send("a");
    CHECK(h.poll_one().payload == "a");
    h.send("b");
    h.poll_none();
    h.send("c");
    h.poll_none();
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, our_iss + 2));
    const sent s = h.poll_one();
    CHECK(s.seq() == our_iss + 2);
    CHECK(s.payload == "bc");
}

TEST_CASE("ESTABLISHED: with no_delay small writes go out at once") {
    config c = test_config();
    c.no_delay = true;
    harness h(c);
    h.establish_as_client();
    h.send("a");
    CHECK(h.poll_one().payload == "a");
    h.send("b");
    const sent s = h.poll_one();
    CHECK(s.seq() == our_iss + 2);
    CHECK(s.payload == "b");
}

TEST_CASE("ESTABLISHED: sender SWS avoidance: no runt into a small usable window while data is in flight") {
    harness h;
    h.establish_as_client(100_ms, 1000);
    h.in(ack(peer_iss + 1, our_iss + 1, 1500));
    CHECK(h.t.send_window() == 1500);
    h.send(pattern(3000));
    const auto out = h.poll();
    REQUIRE(out.size() == 1); // the 500 bytes left of the window are less than half of 1500
    CHECK(out[0].len() == 1000);
    h.in(ack(peer_iss + 1, our_iss + 1001, 1500));
    const auto more = h.poll();
    REQUIRE(more.size() == 1);
    CHECK(more[0].seq() == our_iss + 1001);
    CHECK(more[0].len() == 1000);
}

// ================================================================== receiving

TEST_CASE("ESTABLISHED: an out-of-order segment is buffered and ACKed at once, the hole fill delivers all in order") {
    harness h;
    h.establish_as_client();
    h.in(data(peer_iss + 6, our_iss + 1, "world"));
    CHECK(h.t.recv_queue() == 0);
    CHECK_FALSE(h.t.readable());
    const sent dup = h.poll_one(); // duplicate ACK, immediately (RFC 5681 4.2)
    CHECK(dup.flags() == A);
    CHECK(dup.ack() == peer_iss + 1);
    h.in(data(peer_iss + 16, our_iss + 1, "!"));
    CHECK(h.poll_one().ack() == peer_iss + 1);
    h.in(data(peer_iss + 1, our_iss + 1, "hello"));
    CHECK(h.t.rcv_nxt().value() == peer_iss + 11);
    const sent a = h.poll_one(); // filling a hole is ACKed at once too
    CHECK(a.ack() == peer_iss + 11);
    CHECK(h.recv() == "helloworld");
    h.in(data(peer_iss + 11, our_iss + 1, "12345"));
    CHECK(h.recv() == "12345!");
    CHECK(h.t.rcv_nxt().value() == peer_iss + 17);
}

TEST_CASE("ESTABLISHED: a duplicate segment is discarded and ACKed, an overlapping one delivers only the new bytes") {
    harness h;
    h.establish_as_client();
    h.in(data(peer_iss + 1, our_iss + 1, "hello"));
    CHECK(h.recv() == "hello");
    h.advance(40_ms);
    CHECK(h.poll_one().ack() == peer_iss + 6);
    h.in(data(peer_iss + 1, our_iss + 1, "hello"));
    CHECK(h.t.recv_queue() == 0);
    const sent a = h.poll_one(); // an unacceptable segment is answered by an ACK at once
    CHECK(a.ack() == peer_iss + 6);
    CHECK(h.t.stats().dropped_out_of_window == 1);
    h.in(data(peer_iss + 4, our_iss + 1, "loWORLD"));
    CHECK(h.recv() == "WORLD");
    CHECK(h.t.rcv_nxt().value() == peer_iss + 11);
    CHECK(h.t.stats().bytes_in == 10);
}

TEST_CASE("ESTABLISHED: a segment beyond the window is dropped and ACKed") {
    config c = test_config();
    c.recv_buffer = 4096;
    harness h(c);
    h.establish_as_client();
    h.in(data(peer_iss + 1 + 4096, our_iss + 1, "far"));
    CHECK(h.t.recv_queue() == 0);
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 1);
    CHECK(a.window() == 4096);
}

TEST_CASE("ESTABLISHED: the advertised window shrinks as data is buffered and a window update follows recv()") {
    config c = test_config();
    c.recv_buffer = 4096;
    harness h(c);
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 1));
    CHECK(h.poll_one().window() == 4096);
    const std::string d = pattern(4096);
    const std::string_view v = d;
    h.in(data(peer_iss + 1, our_iss + 1, v.substr(0, 1000)));
    h.poll_none();
    CHECK(h.t.rcv_wnd() == 3096);
    h.in(data(peer_iss + 1001, our_iss + 1, v.substr(1000, 1000)));
    const sent a1 = h.poll_one(); // two full segments: ACK now
    CHECK(a1.ack() == peer_iss + 2001);
    CHECK(a1.window() == 2096);
    h.in(data(peer_iss + 2001, our_iss + 1, v.substr(2000, 1000)));
    h.in(data(peer_iss + 3001, our_iss + 1, v.substr(3000, 1096)));
    h.advance(40_ms);
    const sent a2 = h.poll_one();
    CHECK(a2.ack() == peer_iss + 4097);
    CHECK(a2.window() == 0);

    // receiver SWS avoidance (RFC 9293 3.8.6.2.2): 1000 free bytes are less than one MSS (1096 seen)
    CHECK(h.recv(1000) == d.substr(0, 1000));
    h.poll_none(); // no window update for a sliver
    h.in(ack(peer_iss + 4096, our_iss + 1)); // the peer's zero-window probe
    const sent probe_reply = h.poll_one();
    CHECK(probe_reply.ack() == peer_iss + 4097);
    CHECK(probe_reply.window() == 0); // the right edge does not creep forward

    CHECK(h.recv(1000) == d.substr(1000, 1000));
    const sent update = h.poll_one(); // the window opened from 0 to 2000: tell the peer at once
    CHECK(update.flags() == A);
    CHECK(update.ack() == peer_iss + 4097);
    CHECK(update.window() == 2000);
    CHECK(h.recv() == d.substr(2000));
}

namespace {
config small_buffer_config() {
    config c = test_config();
    c.recv_buffer = 4096;
    return c;
}
/// A client with a 4 KiB receive buffer, past the handshake (its ACK taken).
void establish_small(harness& h) {
    h.connect();
    h.in(syn_ack(peer_iss, our_iss + 1));
    h.poll_one();
}
} // namespace

TEST_CASE("ESTABLISHED: at a zero receive window a probe's byte is dropped but its ACK and window are taken (RFC 9293 3.10.7.4)") {
    harness h(small_buffer_config());
    establish_small(h);
    const std::string d = pattern(4096);
    h.in(data(peer_iss + 1, our_iss + 1, d));
    CHECK(h.poll_one().window() == 0);
    h.send("reply");
    REQUIRE(h.poll_one().len() == 5);
    // the peer's window probe: one byte at RCV.NXT, carrying the ACK of our reply and a new window
    h.in(data(peer_iss + 4097, our_iss + 6, "x", 9000));
    CHECK(h.t.snd_una().value() == our_iss + 6);
    CHECK(h.t.send_window() == 9000);
    CHECK(h.t.retransmit_deadline() == instant::never());
    CHECK(h.t.recv_queue() == 4096); // the byte itself had no room
    const sent a = h.poll_one();     // answered at once: still no room
    CHECK(a.ack() == peer_iss + 4097);
    CHECK(a.window() == 0);
    CHECK(h.recv() == d);
}

TEST_CASE("ESTABLISHED: reads that free space the right edge cannot take yet (SWS avoidance) send no ACK, one update when it moves") {
    harness h(small_buffer_config());
    establish_small(h);
    const std::string d = pattern(3496);
    const std::string_view v = d;
    h.in(data(peer_iss + 1, our_iss + 1, v.substr(0, 1460)));
    h.in(data(peer_iss + 1461, our_iss + 1, v.substr(1460, 1460)));
    h.in(data(peer_iss + 2921, our_iss + 1, v.substr(2920)));
    h.advance(40_ms);
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 3497);
    CHECK(a.window() == 600);
    // 100 bytes per read: the window that could be offered grows 700, 800, ..., but with a step of
    // min(4096 / 2, 1460) the edge moves only once 600 + 1460 are free (the 15th read: 2100); an ACK
    // before that would repeat ack 3497, window 600: a duplicate ACK to the sender
    std::vector<sent> updates;
    for (int i = 0; i < 20; ++i) {
        CHECK(h.recv(100).size() == 100);
        for (const sent& s : h.poll()) updates.push_back(s);
    }
    REQUIRE(updates.size() == 1);
    CHECK(updates[0].ack() == peer_iss + 3497);
    CHECK(updates[0].window() == 2100);
}

// ================================================================== delayed ACK

TEST_CASE("ESTABLISHED: a single segment is ACKed at exactly +40 ms (delayed ACK)") {
    harness h;
    h.establish_as_client();
    h.advance(1_s);
    const instant arrival = h.now;
    h.in(data(peer_iss + 1, our_iss + 1, "ping"));
    h.poll_none();
    CHECK(h.t.next_deadline() == arrival + 40_ms);
    CHECK(h.run_until(arrival + 40_ms - 1_us).empty());
    const auto out = h.run_until(arrival + 40_ms);
    REQUIRE(out.size() == 1);
    CHECK(out[0].when == arrival + 40_ms);
    CHECK(out[0].flags() == A);
    CHECK(out[0].ack() == peer_iss + 5);
    CHECK(h.t.next_deadline() == instant::never());
}

TEST_CASE("ESTABLISHED: two full-sized segments are ACKed at once") {
    harness h;
    h.establish_as_client();
    const std::string d = pattern(2920);
    const std::string_view v = d;
    h.in(data(peer_iss + 1, our_iss + 1, v.substr(0, 1460)));
    h.poll_none();
    h.in(data(peer_iss + 1461, our_iss + 1, v.substr(1460)));
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 2921);
    CHECK(h.t.delayed_ack_deadline() == instant::never());
}

TEST_CASE("ESTABLISHED: a GSO super-frame from the link does not raise the full size: two MSS segments after it are ACKed at once") {
    harness h;
    h.establish_as_client();
    const std::string d = pattern(4 * 1460 + 2920);
    const std::string_view v = d;
    h.in(data(peer_iss + 1, our_iss + 1, v.substr(0, 4 * 1460))); // 4 segments in one frame (TUN offload)
    CHECK(h.poll_one().ack() == peer_iss + 1 + 4 * 1460);
    h.in(data(peer_iss + 1 + 4 * 1460, our_iss + 1, v.substr(4 * 1460, 1460)));
    h.poll_none();
    h.in(data(peer_iss + 1 + 5 * 1460, our_iss + 1, v.substr(5 * 1460)));
    // RFC 5681 4.2: at least every second full-sized segment; the full size is at most the MSS we
    // advertised (Linux: rcv_mss = min(len, advmss)), not the 5840 bytes of the frame
    const sent a = h.poll_one();
    CHECK(a.ack() == peer_iss + 1 + 6 * 1460);
    CHECK(h.t.delayed_ack_deadline() == instant::never());
}

TEST_CASE("ESTABLISHED: a pending delayed ACK rides on outgoing data") {
    harness h;
    h.establish_as_client();
    h.in(data(peer_iss + 1, our_iss + 1, "question"));
    h.poll_none();
    h.send("answer");
    const sent s = h.poll_one();
    CHECK(s.payload == "answer");
    CHECK(s.ack() == peer_iss + 9);
    CHECK(h.t.delayed_ack_deadline() == instant::never());
}

TEST_CASE("ESTABLISHED: with delayed_ack off every segment is ACKed at once") {
    config c = test_config();
    c.delayed_ack = false;
    harness h(c);
    h.establish_as_client();
    h.in(data(peer_iss + 1, our_iss + 1, "ping"));
    CHECK(h.poll_one().ack() == peer_iss + 5);
}

// ================================================================== quick ACK mode (Linux)

namespace {
config quick_ack_config() {
    config c = test_config();
    c.max_quick_acks = 16; // the default; test_config() turns it off for the delayed-ACK tests
    return c;
}
/// `n` segments of 10 bytes from the peer, 1 ms apart, read at once; returns how many were ACKed
/// at once (at their own poll). RCV.NXT runs on from `seq`, which is updated.
std::size_t small_segments(harness& h, std::uint32_t& seq, int n) {
    std::size_t acked_at_once = 0;
    for (int i = 0; i < n; ++i) {
        h.advance(1_ms);
        h.in(data(seq, our_iss + 1, "0123456789"));
        seq += 10;
        h.recv();
        const auto out = h.poll();
        if (!out.empty() && out.back().ack() == seq) ++acked_at_once;
    }
    return acked_at_once;
}
} // namespace

TEST_CASE("quick ACK mode: the first 16 data segments of a connection are ACKed at once, then ACKs are delayed") {
    harness h(quick_ack_config());
    h.establish_as_client();
    h.advance(1_s); // nothing sent: the connection is not interactive
    std::uint32_t seq = peer_iss + 1;
    CHECK(small_segments(h, seq, 16) == 16);
    CHECK(h.t.delayed_ack_deadline() == instant::never());
    CHECK(small_segments(h, seq, 1) == 0); // the 17th waits for the timer
    CHECK(h.t.delayed_ack_deadline() == h.now + 40_ms);
}

TEST_CASE("quick ACK mode: half the window in segments if that is fewer, at least 2") {
    config c = quick_ack_config();
    c.recv_buffer = 2048; // 2048 / (2 x 536): 1 segment, so 2
    harness h(c);
    h.establish_as_client();
    h.advance(1_s);
    std::uint32_t seq = peer_iss + 1;
    CHECK(small_segments(h, seq, 3) == 2);
}

TEST_CASE("quick ACK mode: a reply within 40 ms makes the connection interactive, the ACK then rides on the next reply, and a delayed ACK that has to fire ends it") {
    harness h(quick_ack_config());
    h.establish_as_client();
    h.advance(1_s);
    h.in(data(peer_iss + 1, our_iss + 1, "q1"));
    CHECK(h.poll_one().ack() == peer_iss + 3); // quick
    h.advance(5_ms);
    h.send("a1"); // answers within 40 ms: interactive
    CHECK(h.poll_one().payload == "a1");
    h.advance(100_ms);
    h.in(ack(peer_iss + 3, our_iss + 3));
    h.in(data(peer_iss + 3, our_iss + 3, "q2"));
    h.poll_none(); // quick ACKs are left, but the ACK waits for the reply
    h.advance(5_ms);
    h.send("a2");
    const sent a2 = h.poll_one();
    CHECK(a2.payload == "a2");
    CHECK(a2.ack() == peer_iss + 5);
    h.advance(100_ms);
    h.in(ack(peer_iss + 5, our_iss + 5));
    h.in(data(peer_iss + 5, our_iss + 5, "q3"));
    h.poll_none();
    const auto timer = h.run_until(h.now + 40_ms); // no reply: the delayed ACK fires
    REQUIRE(timer.size() == 1);
    CHECK(timer[0].ack() == peer_iss + 7);
    h.advance(100_ms);
    h.in(data(peer_iss + 7, our_iss + 5, "q4"));
    CHECK(h.poll_one().ack() == peer_iss + 9); // no longer interactive: quick again
}

TEST_CASE("quick ACK mode: a client that writes right after the handshake is interactive from the start (its first reply waits 40 ms for an ACK)") {
    harness h(quick_ack_config());
    h.establish_as_client();
    h.send("GET /");
    CHECK(h.poll_one().payload == "GET /");
    h.advance(100_ms);
    h.in(data(peer_iss + 1, our_iss + 6, "200 OK"));
    h.poll_none();
    CHECK(h.t.delayed_ack_deadline() == h.now + 40_ms);
}

TEST_CASE("quick ACK mode: again after a silence longer than the RTO, and after a retransmitted duplicate") {
    harness h(quick_ack_config());
    h.establish_as_client(); // RTO 300 ms
    h.advance(1_s);
    std::uint32_t seq = peer_iss + 1;
    REQUIRE(small_segments(h, seq, 16) == 16);
    REQUIRE(small_segments(h, seq, 1) == 0);
    h.run_until(h.now + 40_ms);
    SECTION("silence") {
        h.advance(200_ms); // within the RTO: still delayed
        CHECK(small_segments(h, seq, 1) == 0);
        h.run_until(h.now + 40_ms);
        h.advance(1_s);
        CHECK(small_segments(h, seq, 1) == 1);
        CHECK(small_segments(h, seq, 14) == 14); // a run of 16 again (the 1 ms gaps, then 2 more)
    }
    SECTION("duplicate") {
        h.advance(10_ms);
        h.in(data(seq - 10, our_iss + 1, "0123456789")); // the peer resent what we ACKed late
        CHECK(h.poll_one().ack() == seq);
        CHECK(small_segments(h, seq, 16) == 16);
    }
}

// ================================================================== the one-pass receive path

TEST_CASE("receive_landing: in-order data gets its place in the receive buffer, and a segment placed there is not copied again") {
    harness h;
    h.establish_as_client();
    const std::string msg = pattern(500);
    auto landing = h.t.receive_landing(seq32(peer_iss + 1), msg.size());
    REQUIRE(landing.size() == msg.size());
    std::copy(msg.begin(), msg.end(), landing.begin()); // what the interface's fused copy+checksum does
    tcp_repr s = data(peer_iss + 1, our_iss + 1, "");
    s.payload = landing;
    h.in(s);
    CHECK(h.recv() == msg);

    // a refused segment (here: never handed to the TCB, as with a bad checksum) leaves no trace
    auto scratch = h.t.receive_landing(seq32(peer_iss + 501), 100);
    REQUIRE(scratch.size() == 100);
    std::fill(scratch.begin(), scratch.end(), std::uint8_t{'X'});
    h.in(data(peer_iss + 501, our_iss + 1, "hello"));
    CHECK(h.recv() == "hello");
}

TEST_CASE("receive_landing: no place for data out of order, with held out-of-order data, beyond the window, or in a state that takes no data") {
    harness h;
    h.establish_as_client();
    CHECK(h.t.receive_landing(seq32(peer_iss + 2), 10).empty());        // not the next in order
    CHECK(h.t.receive_landing(seq32(peer_iss + 1), 0).empty());         // nothing to place
    CHECK(h.t.receive_landing(seq32(peer_iss + 1), 1u << 30).empty());  // more than the window
    h.in(data(peer_iss + 101, our_iss + 1, "later"));                    // a hole at rcv.nxt
    CHECK(h.t.receive_landing(seq32(peer_iss + 1), 100).empty());        // held data could be overwritten
    h.in(data(peer_iss + 1, our_iss + 1, pattern(100)));                 // fills the hole
    CHECK(h.recv() == pattern(100) + "later");
    CHECK(h.t.receive_landing(seq32(peer_iss + 106), 10).size() == 10);  // back on the fast path

    harness c;
    CHECK(c.t.receive_landing(seq32(peer_iss + 1), 10).empty()); // CLOSED
}
