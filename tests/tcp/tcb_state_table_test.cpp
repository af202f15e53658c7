// Engine specification: the state table (state.hpp) is what the engine does. The static_asserts in
// state.hpp prove the table's own invariants; these runtime checks prove the engine honours it:
// every state change is a row of the table, and the rows' actions (send RST, fail, release) happen.
#include "tcb_harness.hpp"

#include <array>

using namespace tcbtest;

namespace {

struct change {
    state from;
    state to;
    event why;
};

void record(void* ctx, state from, state to, event why) {
    static_cast<std::vector<change>*>(ctx)->push_back({from, to, why});
}

/// Brings a client (or, for SYN_RCVD, a server) TCB into `s` the ordinary way.
void drive(harness& h, state s) {
    switch (s) {
    case state::closed:
    case state::listen: return;
    case state::syn_sent: h.connect(); return;
    case state::syn_rcvd:
        h.t.open_passive(h.now, seq32(our_iss), syn(peer_iss));
        h.poll_one();
        return;
    default: break;
    }
    h.establish_as_client();
    switch (s) {
    case state::fin_wait_1:
        h.t.shutdown(h.now);
        h.poll_one();
        break;
    case state::fin_wait_2:
    case state::time_wait:
        h.t.shutdown(h.now);
        h.poll_one();
        h.in(ack(peer_iss + 1, our_iss + 2));
        if (s == state::time_wait) {
            h.in(fin(peer_iss + 1, our_iss + 2));
            h.poll_one();
        }
        break;
    case state::close_wait:
    case state::last_ack:
        h.in(fin(peer_iss + 1, our_iss + 1));
        h.poll_one();
        if (s == state::last_ack) {
            h.t.shutdown(h.now);
            h.poll_one();
        }
        break;
    case state::closing:
        h.t.shutdown(h.now);
        h.poll_one();
        h.in(fin(peer_iss + 1, our_iss + 1));
        h.poll_one();
        break;
    default: break;
    }
    REQUIRE(h.st() == s);
}

const state drivable[] = {state::closed,     state::syn_sent,   state::syn_rcvd, state::established,
                          state::fin_wait_1, state::fin_wait_2, state::close_wait, state::closing,
                          state::last_ack,   state::time_wait};

bool has_rst(const std::vector<sent>& out) {
    for (const auto& s : out)
        if ((s.flags() & R) != 0) return true;
    return false;
}

} // namespace

TEST_CASE("State table: abort() in every state does what its row says (RST, error, release)") {
    for (state s : drivable) {
        DYNAMIC_SECTION("abort in " << to_string(s)) {
            harness h;
            drive(h, s);
            std::vector<change> changes;
            h.t.set_state_observer({record, &changes});
            h.t.abort(h.now);
            const auto out = h.poll();
            const auto row = find_transition(s, event::user_abort);
            if (!row) {
                CHECK(h.st() == s);
                CHECK(out.empty());
                CHECK(changes.empty());
                continue;
            }
            CHECK(h.st() == row->to);
            CHECK(has_rst(out) == ((row->actions & act::send_rst) != 0));
            CHECK(bool(h.t.error()) == ((row->actions & act::fail) != 0));
            if ((row->actions & act::fail) != 0) CHECK(h.t.error() == errc::aborted);
            if ((row->actions & act::release) != 0) {
                CHECK(h.t.finished());
                CHECK(h.t.next_deadline() == instant::never());
            }
            REQUIRE(changes.size() == 1);
            CHECK(changes[0].from == s);
            CHECK(changes[0].to == row->to);
            CHECK(changes[0].why == event::user_abort);
        }
    }
}

TEST_CASE("State table: an acceptable RST in every state does what its row says, and is never answered") {
    for (state s : drivable) {
        if (s == state::closed) continue;
        DYNAMIC_SECTION("RST in " << to_string(s)) {
            harness h;
            drive(h, s);
            std::vector<change> changes;
            h.t.set_state_observer({record, &changes});
            if (s == state::syn_sent) h.in(rst_ack(0, our_iss + 1));
            else h.in(rst(h.t.rcv_nxt().value()));
            const auto out = h.poll();
            CHECK(out.empty());
            const auto row = find_transition(s, event::rcv_rst);
            REQUIRE(row); // every state but CLOSED handles RST (also a static_assert)
            CHECK(h.st() == row->to);
            CHECK(bool(h.t.error()) == ((row->actions & act::fail) != 0));
            if ((row->actions & act::release) != 0) CHECK(h.t.finished());
            REQUIRE(changes.size() == 1);
            CHECK(changes[0].why == event::rcv_rst);
            CHECK(changes[0].to == row->to);
        }
    }
}

TEST_CASE("State table: every state change the engine makes is a row of the table") {
    std::vector<change> changes;
    auto check_all = [&] {
        for (const auto& c : changes) {
            INFO(to_string(c.from) << " --" << to_string(c.why) << "--> " << to_string(c.to));
            const auto row = find_transition(c.from, c.why);
            REQUIRE(row);
            CHECK(row->to == c.to);
        }
    };
    SECTION("a handshake, data both ways, a four-way close and 2MSL") {
        wire_pair w;
        w.a.set_state_observer({record, &changes});
        w.b.set_state_observer({record, &changes});
        w.handshake();
        std::error_code ec;
        w.a.send(bytes_of("request"), ec);
        w.settle();
        w.b.send(bytes_of("response"), ec);
        w.b.shutdown(w.now);
        w.settle();
        std::array<std::uint8_t, 16> buf{};
        CHECK(w.a.recv(buf) == 8);
        w.a.close(w.now);
        w.settle();
        w.run_until(w.now + 61_s);
        CHECK(w.a.current_state() == state::closed);
        CHECK(w.b.current_state() == state::closed);
        check_all();
        // the passive side never saw TIME_WAIT, the active side never LAST_ACK
        for (const auto& c : changes) CHECK_FALSE((c.to == state::time_wait && c.from == state::close_wait));
        // open: a 2 (SYN_SENT, ESTABLISHED), b 3 (LISTEN, SYN_RCVD, ESTABLISHED);
        // close: b 4 (FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED), a 3 (CLOSE_WAIT, LAST_ACK, CLOSED)
        CHECK(changes.size() == 2 + 3 + 4 + 3);
    }
    SECTION("simultaneous open and simultaneous close") {
        wire_pair w;
        w.a.set_state_observer({record, &changes});
        w.b.set_state_observer({record, &changes});
        w.a.open_active(w.now, seq32(our_iss));
        w.b.open_active(w.now, seq32(peer_iss));
        const auto sa = w.collect(w.a);
        const auto sb = w.collect(w.b);
        w.deliver(w.b, sa);
        w.deliver(w.a, sb);
        w.settle();
        w.a.shutdown(w.now);
        w.b.shutdown(w.now);
        const auto fa = w.collect(w.a);
        const auto fb = w.collect(w.b);
        w.deliver(w.b, fa);
        w.deliver(w.a, fb);
        w.settle();
        w.run_until(w.now + 61_s);
        check_all();
        std::size_t closing = 0;
        for (const auto& c : changes) closing += c.to == state::closing ? 1 : 0;
        CHECK(closing == 2);
    }
    SECTION("timeouts: SYN retries, orphaned FIN_WAIT_2, keepalive") {
        harness syn_sent;
        syn_sent.t.set_state_observer({record, &changes});
        syn_sent.connect();
        syn_sent.run_until(at(200_s));
        harness fw2;
        fw2.establish_as_client();
        fw2.t.set_state_observer({record, &changes});
        fw2.t.close(fw2.now);
        fw2.poll();
        fw2.in(ack(peer_iss + 1, our_iss + 2));
        fw2.run_until(fw2.now + 61_s);
        config c = test_config();
        c.keepalive = true;
        harness ka(c);
        ka.establish_as_client();
        ka.t.set_state_observer({record, &changes});
        ka.run_until(ka.now + 8000_s);
        check_all();
        const std::vector<event> whys{changes[1].why, changes.back().why};
        CHECK(whys[0] == event::timeout_retransmit);
        CHECK(whys[1] == event::timeout_keepalive);
    }
}

TEST_CASE("State table: segments that the table has no row for change nothing") {
    // A FIN in CLOSE_WAIT (a retransmission of the one we have) has no row: the state stays.
    harness h;
    drive(h, state::close_wait);
    std::vector<change> changes;
    h.t.set_state_observer({record, &changes});
    h.in(fin(peer_iss + 1, our_iss + 1));
    CHECK(h.st() == state::close_wait);
    CHECK(changes.empty());
    CHECK(h.poll_one().flags() == A); // but it is ACKed again
}
