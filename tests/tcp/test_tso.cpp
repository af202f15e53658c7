// Engine specification: TCP segmentation offload on the sending side (config::tso_max). New data
// may leave as one super-segment of several MSS, marked with segment_out::gso_size = MSS, for a
// link that cuts it up (the kernel, through TUN's virtio header). Retransmissions stay one MSS;
// tso_max = 0 (every link but TUN with offloads) is exactly the segment-by-segment engine.
#include "tcb_harness.hpp"

using namespace tcbtest;

namespace {

/// One emitted segment, with the TSO mark the harness's copy does not keep.
struct emitted {
    sent s;
    std::uint16_t gso_size = 0;
};

std::vector<emitted> poll_tso(harness& h) {
    std::vector<emitted> out;
    h.t.poll(h.now, [&](const segment_out& s) { out.push_back({copy_of(s, h.now), s.gso_size}); });
    return out;
}

config tso_config(std::uint32_t tso_max = 65535, bool no_delay = false) {
    config c = test_config();
    c.tso_max = tso_max;
    c.no_delay = no_delay;
    return c;
}

/// A client in ESTABLISHED with peer MSS 1460, TSO on.
struct tso_client : harness {
    explicit tso_client(config c = tso_config()) : harness(c) { establish_as_client(100_ms, 1460); }
};

} // namespace

TEST_CASE("TSO: a bulk send leaves as one super-segment with gso_size = MSS, and SND.NXT counts all of it") {
    tso_client h;
    REQUIRE(h.t.cwnd() == 14600); // the initial window: 10 segments
    h.send(pattern(20000));
    const auto out = poll_tso(h);
    REQUIRE(out.size() == 1);
    CHECK(out[0].s.seq() == 1001);
    CHECK(out[0].s.len() == 14600); // all that cwnd allows, in one segment
    CHECK(out[0].gso_size == 1460);
    CHECK(out[0].s.payload == pattern(20000).substr(0, 14600));
    CHECK(h.t.snd_nxt() == seq32(1001 + 14600));
    CHECK(h.t.stats().segments_out == 2 + 1); // SYN, ACK, the super-segment
    CHECK(h.t.stats().bytes_out == 14600);
    // an ACK of part of it opens cwnd (slow start) and the rest follows as another super-segment:
    // its whole segments (3 of the 5400 bytes left); Nagle holds the 1020-byte tail for an ACK
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 1001 + 7300));
    const auto more = poll_tso(h);
    REQUIRE(more.size() == 1);
    CHECK(more[0].s.seq() == 1001 + 14600);
    CHECK(more[0].s.len() == 3 * 1460);
    CHECK(more[0].gso_size == 1460);
    CHECK(h.t.snd_nxt() == seq32(1001 + 14600 + 3 * 1460));
}

TEST_CASE("TSO: a short tail rides along only where it could go alone (Nagle, RFC 896)") {
    SECTION("Nagle on: whole segments now, the 620-byte tail after the ACK") {
        tso_client h;
        h.send(pattern(5000));
        const auto out = poll_tso(h);
        REQUIRE(out.size() == 1);
        CHECK(out[0].s.len() == 3 * 1460);
        CHECK(out[0].gso_size == 1460);
        h.advance(100_ms);
        h.in(ack(peer_iss + 1, 1001 + 3 * 1460));
        const auto tail = poll_tso(h);
        REQUIRE(tail.size() == 1);
        CHECK(tail[0].s.len() == 620);
        CHECK(tail[0].gso_size == 0); // one ordinary segment
    }
    SECTION("Nagle off: all 5000 bytes in one super-segment") {
        tso_client h(tso_config(65535, true));
        h.send(pattern(5000));
        const auto out = poll_tso(h);
        REQUIRE(out.size() == 1);
        CHECK(out[0].s.len() == 5000);
        CHECK(out[0].gso_size == 1460);
        CHECK((out[0].s.flags() & P) != 0); // PSH: the kernel keeps it on the last piece only
    }
    SECTION("the FIN rides on the super-segment that ends the stream") {
        tso_client h;
        h.send(pattern(5000));
        h.t.shutdown(h.now);
        const auto out = poll_tso(h);
        REQUIRE(out.size() == 1);
        CHECK(out[0].s.len() == 5000);
        CHECK((out[0].s.flags() & F) != 0);
        CHECK(h.t.snd_nxt() == seq32(1001 + 5000 + 1));
    }
}

TEST_CASE("TSO: one datagram at most (64 KB), and never beyond the peer's window or cwnd") {
    config c = tso_config(200000);
    c.window_scaling = true;
    c.initial_cwnd_segments = 100;
    c.send_buffer = 256 * 1024;
    harness h(c);
    h.connect();
    h.advance(100_ms);
    h.in(syn_ack(peer_iss, our_iss + 1, 1460, 7));
    REQUIRE(h.poll_one().flags() == A);
    h.in(ack(peer_iss + 1, our_iss + 1, 1000)); // window 1000 << 7 = 128000
    std::error_code ec;
    const std::string data = pattern(200000);
    REQUIRE(h.t.send(bytes_of(data), ec) == 200000);
    const auto out = poll_tso(h);
    REQUIRE(out.size() == 2);
    CHECK(out[0].s.len() == 44 * 1460); // 65455 payload bytes fit one datagram: 44 whole segments
    CHECK(20 + out[0].s.h.header_len() + out[0].s.len() <= 65535);
    CHECK(out[1].s.len() == 128000 - 44 * 1460 - (128000 - 44 * 1460) % 1460); // the window's whole segments
    for (const auto& e : out) CHECK(e.gso_size == 1460);
    CHECK(h.t.snd_nxt() - seq32(1001) <= 128000);
}

TEST_CASE("TSO: retransmissions go one MSS at a time, without gso_size") {
    tso_client h;
    h.send(pattern(14600));
    REQUIRE(poll_tso(h).size() == 1);
    const auto rto = h.t.retransmit_deadline();
    h.advance_to(rto);
    const auto again = poll_tso(h);
    REQUIRE(again.size() == 1); // cwnd is one segment after the RTO (RFC 5681 3.1)
    CHECK(again[0].s.seq() == 1001);
    CHECK(again[0].s.len() == 1460);
    CHECK(again[0].gso_size == 0);
    // slow start after the RTO: the go-back continues segment by segment, never as a super-segment
    h.advance(100_ms);
    h.in(ack(peer_iss + 1, 1001 + 1460));
    const auto next = poll_tso(h);
    REQUIRE(next.size() == 2);
    for (const auto& e : next) {
        CHECK(e.s.len() == 1460);
        CHECK(e.gso_size == 0);
    }
}

TEST_CASE("TSO off (tso_max = 0, every link but TUN with offloads): one MSS per segment, as ever") {
    harness h(tso_config(0));
    h.establish_as_client(100_ms, 1460);
    h.send(pattern(20000));
    const auto out = poll_tso(h);
    REQUIRE(out.size() == 10);
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(out[i].s.seq() == 1001 + i * 1460);
        CHECK(out[i].s.len() == 1460);
        CHECK(out[i].gso_size == 0);
    }
}

TEST_CASE("TSO: a tso_max below two segments changes nothing") {
    tso_client h(tso_config(1460));
    h.send(pattern(5000));
    const auto out = poll_tso(h);
    REQUIRE(out.size() == 3);
    for (const auto& e : out) CHECK(e.gso_size == 0);
}
