// Engine specification: ICMP errors (RFC 1122 4.2.3.9, RFC 5927) and path MTU discovery (RFC 1191),
// as the interface hands them to a TCB: on_icmp_error(type, code, quoted seq) and
// on_path_mtu(mtu, quoted seq).
#include "tcb_harness.hpp"

using namespace tcbtest;
namespace icmp_type = corotcp::wire::icmp_type;
namespace unreach = corotcp::wire::icmp_unreach;

namespace {

icmp_outcome unreachable(harness& h, std::uint8_t code, std::uint32_t quoted_seq) {
    return h.t.on_icmp_error(h.now, icmp_type::dest_unreachable, code, seq32(quoted_seq));
}

config no_delay_config() {
    config c = test_config();
    c.no_delay = true;
    return c;
}

/// A client in ESTABLISHED (peer MSS 1460, no options), Nagle off so every byte goes at once.
struct established_client : harness {
    explicit established_client(config c = no_delay_config()) : harness(c) { establish_as_client(100_ms, 1460); }
};

} // namespace

// ------------------------------------------------------------------ the mapping

TEST_CASE("ICMP codes map to the errors a sockets programmer expects (Linux's icmp_err_convert)") {
    CHECK(classify_icmp_error(icmp_type::dest_unreachable, unreach::net)->error == errc::network_unreachable);
    CHECK(classify_icmp_error(icmp_type::dest_unreachable, unreach::host)->error == errc::host_unreachable);
    CHECK(classify_icmp_error(icmp_type::dest_unreachable, unreach::port)->error == errc::connection_refused);
    CHECK(classify_icmp_error(icmp_type::dest_unreachable, unreach::protocol)->error == errc::connection_refused);
    CHECK(classify_icmp_error(icmp_type::time_exceeded, 0)->error == errc::host_unreachable);
    // RFC 1122 4.2.3.9: protocol and port unreachable are hard; net and host unreachable are soft
    CHECK(classify_icmp_error(icmp_type::dest_unreachable, unreach::port)->hard);
    CHECK(classify_icmp_error(icmp_type::dest_unreachable, unreach::protocol)->hard);
    CHECK_FALSE(classify_icmp_error(icmp_type::dest_unreachable, unreach::net)->hard);
    CHECK_FALSE(classify_icmp_error(icmp_type::dest_unreachable, unreach::host)->hard);
    // fragmentation needed is path MTU discovery, not an error; unknown codes and types are nothing
    CHECK_FALSE(classify_icmp_error(icmp_type::dest_unreachable, unreach::frag_needed));
    CHECK_FALSE(classify_icmp_error(icmp_type::dest_unreachable, 16));
    CHECK_FALSE(classify_icmp_error(icmp_type::echo_reply, 0));
    CHECK(make_error_code(errc::connection_refused) == std::errc::connection_refused);
    CHECK(make_error_code(errc::host_unreachable) == std::errc::host_unreachable);
    CHECK(make_error_code(errc::network_unreachable) == std::errc::network_unreachable);
}

// ------------------------------------------------------------------ RFC 5927 4.1: the window check

TEST_CASE("an ICMP error that does not quote an unacknowledged sequence number is ignored (RFC 5927 4.1)") {
    SECTION("SYN_SENT: only our SYN's number (ISS) is believed") {
        harness h;
        h.connect();
        CHECK(unreachable(h, unreach::port, our_iss + 1) == icmp_outcome::ignored);
        CHECK(unreachable(h, unreach::port, our_iss - 1) == icmp_outcome::ignored);
        CHECK(unreachable(h, unreach::port, 0x12345678) == icmp_outcome::ignored);
        CHECK(h.t.on_path_mtu(h.now, 1000, seq32(our_iss + 1)) == icmp_outcome::ignored);
        CHECK(h.st() == state::syn_sent);
        CHECK_FALSE(h.t.error());
        CHECK(h.t.path_mtu() == 1500);
    }
    SECTION("ESTABLISHED: [SND.UNA, SND.MAX)") {
        established_client h;
        h.send(pattern(3000));
        REQUIRE(h.poll().size() == 3); // 1001..4001 in flight
        h.in(ack(peer_iss + 1, 2461)); // SND.UNA = 2461
        CHECK(unreachable(h, unreach::host, 1001) == icmp_outcome::ignored); // acknowledged already
        CHECK(unreachable(h, unreach::host, 4001) == icmp_outcome::ignored); // SND.MAX: never sent
        CHECK(h.t.soft_error() == errc::ok);
        CHECK(h.t.on_path_mtu(h.now, 1000, seq32(2460)) == icmp_outcome::ignored);
        CHECK(h.t.on_path_mtu(h.now, 1000, seq32(4001)) == icmp_outcome::ignored);
        CHECK(h.t.send_mss() == 1460);
        CHECK(h.t.path_mtu() == 1500);
        // the edges of the window are believed
        CHECK(unreachable(h, unreach::host, 2461) == icmp_outcome::soft_error);
        CHECK(unreachable(h, unreach::net, 4000) == icmp_outcome::soft_error);
    }
    SECTION("nothing in flight: nothing is believed") {
        established_client h;
        CHECK(unreachable(h, unreach::port, 1001) == icmp_outcome::ignored);
        CHECK(h.t.on_path_mtu(h.now, 1000, seq32(1001)) == icmp_outcome::ignored);
        CHECK(h.st() == state::established);
    }
}

// ------------------------------------------------------------------ connection attempts

TEST_CASE("port unreachable in SYN_SENT fails the connect at once with connection_refused, without a RST") {
    harness h;
    h.connect();
    h.advance(30_ms);
    CHECK(unreachable(h, unreach::port, our_iss) == icmp_outcome::aborted);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::connection_refused);
    CHECK(h.t.error() == std::errc::connection_refused);
    h.poll_none(); // nothing to the peer: it never had state
    CHECK(h.t.finished());
    CHECK(h.t.next_deadline().is_never()); // no SYN retries left running
}

TEST_CASE("net and host unreachable in SYN_SENT fail the connect too (RFC 1122 4.2.3.9 calls them soft, but Linux gives up: the widespread practice RFC 5461 describes)") {
    const auto [code, expected] = GENERATE(table<std::uint8_t, errc>({
        {unreach::net, errc::network_unreachable},
        {unreach::host, errc::host_unreachable},
        {unreach::protocol, errc::connection_refused},
        {std::uint8_t{13}, errc::host_unreachable}, // administratively prohibited (RFC 1812)
    }));
    harness h;
    h.connect();
    CHECK(unreachable(h, code, our_iss) == icmp_outcome::aborted);
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == expected);
}

TEST_CASE("time exceeded in SYN_SENT fails the connect with host_unreachable") {
    harness h;
    h.connect();
    CHECK(h.t.on_icmp_error(h.now, icmp_type::time_exceeded, 0, seq32(our_iss)) == icmp_outcome::aborted);
    CHECK(h.t.error() == errc::host_unreachable);
}

TEST_CASE("in SYN_RCVD a hard error drops the embryonic connection silently, a soft one is only remembered") {
    SECTION("port unreachable: gone, no RST") {
        harness h;
        h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
        REQUIRE(h.poll_one().flags() == (S | A));
        CHECK(unreachable(h, unreach::port, our_iss) == icmp_outcome::aborted);
        CHECK(h.st() == state::closed);
        h.poll_none();
        CHECK(h.t.finished());
    }
    SECTION("host unreachable: the SYN-ACK goes on being retried") {
        harness h;
        h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
        REQUIRE(h.poll_one().flags() == (S | A));
        CHECK(unreachable(h, unreach::host, our_iss) == icmp_outcome::soft_error);
        CHECK(h.st() == state::syn_rcvd);
        const auto out = h.run_until(at(1_s));
        REQUIRE(out.size() == 1);
        CHECK(out[0].flags() == (S | A));
    }
}

// ------------------------------------------------------------------ synchronized states: soft errors

TEST_CASE("in ESTABLISHED even a hard error is soft: the connection lives on (RFC 5927 5.2, as Linux)") {
    established_client h;
    h.send(pattern(1000));
    REQUIRE(h.poll().size() == 1);
    CHECK(unreachable(h, unreach::port, 1001) == icmp_outcome::soft_error);
    CHECK(unreachable(h, unreach::host, 1001) == icmp_outcome::soft_error);
    CHECK(h.st() == state::established);
    CHECK_FALSE(h.t.error());
    CHECK(h.t.soft_error() == errc::host_unreachable); // the latest one
    // and data still flows
    h.in(ack(peer_iss + 1, 2001));
    CHECK(h.t.snd_una() == seq32(2001));
}

TEST_CASE("a connection that times out after an ICMP soft error reports that error, not timed_out") {
    config c = test_config();
    c.retries2 = 2;
    harness h(c);
    h.establish_as_client();
    h.send(pattern(100));
    REQUIRE(h.poll().size() == 1);
    REQUIRE(unreachable(h, unreach::net, 1001) == icmp_outcome::soft_error);
    h.run_until(at(60_s));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::network_unreachable);
    std::error_code ec;
    CHECK(h.t.send(bytes_of("more"), ec) == 0);
    CHECK(ec == errc::network_unreachable);
    CHECK(h.t.readable()); // a read returns the error
}

TEST_CASE("an ACK of new data forgets an ICMP soft error: a later timeout is timed_out") {
    config c = test_config();
    c.retries2 = 2;
    harness h(c);
    h.establish_as_client();
    h.send(pattern(100));
    REQUIRE(h.poll().size() == 1);
    REQUIRE(unreachable(h, unreach::host, 1001) == icmp_outcome::soft_error);
    h.in(ack(peer_iss + 1, 1101)); // something worked
    CHECK(h.t.soft_error() == errc::ok);
    h.send(pattern(100));
    REQUIRE(h.poll().size() == 1);
    h.run_until(at(60_s));
    CHECK(h.st() == state::closed);
    CHECK(h.t.error() == errc::timed_out);
}

// ------------------------------------------------------------------ path MTU discovery (RFC 1191)

TEST_CASE("fragmentation needed lowers the MSS to MTU - 40 and resends from SND.UNA at once, re-segmented (RFC 1191)") {
    // with Nagle on too: it holds back new data, never a retransmission (the 40-byte tail goes)
    const bool nagle = GENERATE(false, true);
    CAPTURE(nagle);
    config c = no_delay_config();
    c.no_delay = !nagle;
    established_client h(c);
    h.send(pattern(2920));
    const auto first = h.poll();
    REQUIRE(first.size() == 2);
    REQUIRE(first[0].len() == 1460);
    const std::uint32_t cwnd = h.t.cwnd();
    const std::uint32_t ssthresh = h.t.ssthresh();
    const std::uint64_t retransmits = h.t.stats().retransmits;
    h.advance(20_ms);

    CHECK(h.t.on_path_mtu(h.now, 1000, seq32(1001)) == icmp_outcome::mtu_lowered);
    CHECK(h.t.path_mtu() == 1000);
    CHECK(h.t.send_mss() == 960);
    CHECK(h.t.next_deadline() <= h.now); // the retransmission is due now, not at the RTO
    const auto again = h.poll();
    REQUIRE(again.size() == 4); // 960 + 960 + 960 + 40, from SND.UNA
    std::uint32_t expect_seq = 1001;
    for (const auto& s : again) {
        CHECK(s.seq() == expect_seq);
        CHECK(s.len() <= 960);
        CHECK(s.payload == pattern(2920).substr(s.seq() - 1001, s.len()));
        expect_seq += static_cast<std::uint32_t>(s.len());
    }
    CHECK(expect_seq == 1001 + 2920);
    CHECK(h.t.stats().retransmits == retransmits + 4);
    // no congestion signal (RFC 1191 6.4): cwnd and ssthresh as they were, no recovery
    CHECK(h.t.cwnd() == cwnd);
    CHECK(h.t.ssthresh() == ssthresh);
    CHECK_FALSE(h.t.in_recovery());
    // new data goes at the new size as well
    h.in(ack(peer_iss + 1, 1001 + 2920));
    h.send(pattern(2000));
    for (const auto& s : h.poll()) CHECK(s.len() <= 960);
}

TEST_CASE("the path MTU only goes down, and never below 576 (an MSS of 536)") {
    established_client h;
    h.send(pattern(4000));
    REQUIRE(h.poll().size() == 3);
    CHECK(h.t.on_path_mtu(h.now, 1200, seq32(1001)) == icmp_outcome::mtu_lowered);
    CHECK(h.t.send_mss() == 1160);
    CHECK(h.t.on_path_mtu(h.now, 1400, seq32(1001)) == icmp_outcome::ignored); // larger: not believed
    CHECK(h.t.on_path_mtu(h.now, 1200, seq32(1001)) == icmp_outcome::ignored); // the same: nothing new
    CHECK(h.t.send_mss() == 1160);
    CHECK(h.t.on_path_mtu(h.now, 296, seq32(1001)) == icmp_outcome::mtu_lowered);
    CHECK(h.t.path_mtu() == 576);
    CHECK(h.t.send_mss() == 536);
    CHECK(h.t.on_path_mtu(h.now, 68, seq32(1001)) == icmp_outcome::ignored);
    CHECK(h.t.send_mss() == 536);
    for (const auto& s : h.poll()) CHECK(s.len() <= 536);
}

TEST_CASE("a next-hop MTU below 576 clears DF: the path MTU stays at 576 and what is in flight goes again without DF (Linux)") {
    const bool at_floor_first = GENERATE(false, true); // 576 was reached by an earlier report, or this one lowers to it
    CAPTURE(at_floor_first);
    established_client h;
    h.send(pattern(4000));
    for (const auto& s : h.poll()) CHECK(s.df);
    if (at_floor_first) {
        REQUIRE(h.t.on_path_mtu(h.now, 576, seq32(1001)) == icmp_outcome::mtu_lowered);
        const auto again = h.poll();
        REQUIRE_FALSE(again.empty());
        for (const auto& s : again) CHECK(s.df); // 576 itself is a path MTU like any other
    }
    CHECK(h.t.on_path_mtu(h.now, 400, seq32(1001)) == icmp_outcome::mtu_lowered);
    CHECK(h.t.path_mtu() == 576);
    CHECK(h.t.send_mss() == 536);
    const auto resent = h.poll(); // from SND.UNA at once, now without DF for the small hop to fragment
    REQUIRE_FALSE(resent.empty());
    CHECK(resent.front().seq() == 1001);
    for (const auto& s : resent) {
        CHECK_FALSE(s.df);
        CHECK(s.len() <= 536);
    }
    CHECK(h.t.on_path_mtu(h.now, 300, seq32(1001)) == icmp_outcome::ignored); // nothing more to lower
    h.in(ack(peer_iss + 1, 1001 + 4000));
    h.send(pattern(100));
    const sent later = h.poll_one();
    CHECK_FALSE(later.df); // and it stays off
}

TEST_CASE("a path MTU below the peer's MSS caps it when the SYN-ACK arrives later") {
    harness h;
    h.connect();
    CHECK(h.t.on_path_mtu(h.now, 1000, seq32(our_iss)) == icmp_outcome::mtu_lowered);
    CHECK(h.st() == state::syn_sent); // the SYN itself is small: nothing to resend early
    h.advance(100_ms);
    h.in(syn_ack(peer_iss, our_iss + 1, 1460));
    REQUIRE(h.poll_one().flags() == A);
    CHECK(h.t.send_mss() == 960);
}

TEST_CASE("a peer MSS already below the new path MTU is kept, and nothing is resent") {
    config c = test_config();
    c.no_delay = true;
    harness h(c);
    h.establish_as_client(100_ms, 600);
    h.send(pattern(1200));
    REQUIRE(h.poll().size() == 2);
    CHECK(h.t.on_path_mtu(h.now, 1000, seq32(1001)) == icmp_outcome::mtu_lowered);
    CHECK(h.t.path_mtu() == 1000);
    CHECK(h.t.send_mss() == 600);
    h.poll_none();
}
