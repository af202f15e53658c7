// The policies compose: the same API over the real clock as over the virtual one, and over
// compile-time buffers (static_buffers: no heap) as over heap buffers.
#include <catch2/catch.hpp>

#include <type_traits>
#include <vector>

#include "corotcp/async/real_clock.hpp"
#include "corotcp/corotcp.hpp"
#include "harness.hpp"

namespace {

using namespace corotcp::time_literals;

/// Accepts one connection and echoes it until EOF; `shown`, if given, points at the connection
/// while the task runs.
template <class Pair>
corotcp::task<void> echo_once(typename Pair::listener l, typename Pair::connection** shown = nullptr) {
    auto c = co_await l.accept();
    if (!c) co_return;
    if (shown != nullptr) *shown = &*c;
    std::vector<std::uint8_t> buf(4096);
    for (;;) {
        auto n = co_await c->read(buf);
        if (!n || *n == 0) break;
        auto ec = co_await c->write(std::span<const std::uint8_t>(buf.data(), *n));
        if (ec) break;
    }
    auto ec = co_await c->shutdown();
    (void)ec;
    if (shown != nullptr) *shown = nullptr;
}

template <class Pair>
corotcp::task<std::vector<std::uint8_t>> send_and_collect(Pair& net, std::vector<std::uint8_t> data) {
    std::vector<std::uint8_t> got;
    auto c = co_await net.client().connect(net.server_address(), 7);
    if (!c) co_return got;
    auto wrote = co_await c->write(data);
    if (wrote) co_return got;
    auto shut = co_await c->shutdown();
    if (shut) co_return got;
    std::vector<std::uint8_t> buf(1000);
    for (;;) {
        auto n = co_await c->read(buf);
        if (!n || *n == 0) break;
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    co_return got;
}

/// Writes all of data, then half-closes; `done` once both completed (ec: the first error).
template <class Conn>
corotcp::task<void> write_all_and_shutdown(Conn& c, const std::vector<std::uint8_t>& data, std::error_code& ec, bool& done) {
    ec = co_await c.write(data);
    if (!ec) ec = co_await c.shutdown();
    done = true;
}

/// Reads until EOF (or an error) into out; `done` when the stream ended.
template <class Conn>
corotcp::task<void> read_to_eof(Conn& c, std::vector<std::uint8_t>& out, bool& done) {
    std::vector<std::uint8_t> buf(1500);
    for (;;) {
        auto n = co_await c.read(buf);
        if (!n || *n == 0) break;
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    done = true;
}

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    return v;
}

using static_8k = corotcp::tcp::static_buffers<8192, 8192>;
using static_pair = corotcp::memory_pair<corotcp::virtual_clock, static_8k>;

/// A pair on static_8k: an echo server on port 7 (server_side: its connection), a connected client,
/// 200 KiB to send, and the client's writer and reader tasks, started on demand.
struct static_echo {
    static_pair net;
    static_pair::connection* server_side = nullptr;
    static_pair::connection client;
    const std::vector<std::uint8_t> data = pattern(200 * 1024);
    std::vector<std::uint8_t> got;
    std::error_code wrote;
    bool write_done = false;
    bool read_done = false;

    static_echo() {
        auto l = net.server().listen(7);
        REQUIRE(l);
        net.spawn(echo_once<static_pair>(std::move(*l), &server_side));
        auto c = net.run(net.client().connect(net.server_address(), 7));
        REQUIRE(c);
        client = std::move(*c);
    }
    static_echo(const static_echo&) = delete;
    static_echo& operator=(const static_echo&) = delete;
    ~static_echo() { net.loop().destroy_spawned(); } // the tasks refer to the members

    void start_writer() { net.spawn(write_all_and_shutdown(client, data, wrote, write_done)); }
    void start_reader() { net.spawn(read_to_eof(client, got, read_done)); }
};

} // namespace

TEST_CASE("a pair on the real clock completes a handshake, an echo and the close") {
    using pair_t = corotcp::memory_pair<corotcp::real_clock>;
    pair_t net;
    auto l = net.server().listen(7);
    REQUIRE(l);
    net.spawn(echo_once<pair_t>(std::move(*l)));
    const auto data = pattern(64 * 1024);
    const auto got = net.run(send_and_collect(net, data));
    CHECK(got == data);
}

TEST_CASE("static_buffers<8192, 8192>: a 200 KiB echo is byte-exact when the client reads while it writes") {
    static_echo e;
    e.start_reader(); // the reader runs concurrently with the writer
    e.start_writer();
    REQUIRE(e.net.run_until([&] { return e.read_done && e.write_done; }, 60_s));
    CHECK_FALSE(e.wrote);
    CHECK(e.got.size() == e.data.size());
    CHECK(e.got == e.data);
}

TEST_CASE("static_buffers keep both byte rings inside the connection object: the buffers use no heap") {
    using tcb_t = corotcp::tcp::tcb<static_8k>;
    static_assert(std::is_same_v<tcb_t::send_ring::storage_type, corotcp::tcp::fixed_storage<8192>>);
    static_assert(std::is_same_v<tcb_t::recv_ring::storage_type, corotcp::tcp::fixed_storage<8192>>);
    // The bytes are in the rings themselves, so in the TCB (a heap-backed ring is a pointer and a size).
    static_assert(sizeof(tcb_t::send_ring) >= 8192 && sizeof(tcb_t::recv_ring) >= 8192);
    static_assert(sizeof(tcb_t) >= 2 * 8192);
    static_assert(sizeof(corotcp::tcp::tcb<corotcp::tcp::heap_buffers>) < 8192);

    // At run time: the configured (heap) sizes are ignored; the capacity is the compile-time one.
    corotcp::memory_pair_options o;
    for (auto* s : {&o.client, &o.server}) {
        s->tcp.send_buffer = 1 << 20;
        s->tcp.recv_buffer = 1 << 20;
    }
    static_pair net(o);
    auto l = net.server().listen(7);
    REQUIRE(l);
    auto c = net.run(net.client().connect(net.server_address(), 7));
    REQUIRE(c);
    auto s = net.run(l->accept());
    REQUIRE(s);
    REQUIRE(c->tcb() != nullptr);
    CHECK(c->tcb()->send_space() == 8192);
    CHECK(s->tcb()->send_space() == 8192);
    CHECK(c->tcb()->rcv_wnd() <= 8192);
    CHECK(s->tcb()->send_window() <= 8192); // what the client advertised
}

TEST_CASE("static_buffers<8192, 8192>: a client that writes 200 KiB before reading stalls both zero windows, "
          "persist probes continue (RFC 1122 4.2.2.17) and reading completes the echo") {
    static_echo e;
    auto& net = e.net;
    integ::tap tap(net.pipe(), net.loop());
    e.start_writer();

    // The application-level deadlock: the client's receive buffer is full (it does not read), so the
    // echo server blocks writing back, stops reading, and its own receive buffer fills up too.
    const auto& ct = *e.client.tcb();
    const auto stalled = [&] {
        return e.server_side != nullptr && ct.send_window() == 0 && e.server_side->tcb()->send_window() == 0 &&
               ct.recv_queue() == 8192 && e.server_side->tcb()->recv_queue() == 8192;
    };
    REQUIRE(net.run_until(stalled, 60_s));
    const auto& st = *e.server_side->tcb();
    const std::uint64_t client_in = ct.stats().bytes_in;
    const std::uint64_t server_in = st.stats().bytes_in;
    const std::size_t first = tap.segs.size();
    const corotcp::instant stall_start = net.now();

    // An hour of virtual time: far more probes than retries2 (15), so answered probes must keep the
    // connection open indefinitely (RFC 1122 4.2.2.17), and the backoff is capped at rto_max.
    net.run_for(corotcp::duration::seconds(3600));
    CHECK_FALSE(e.write_done);
    CHECK(stalled());
    CHECK(ct.current_state() == corotcp::tcp::state::established);
    CHECK(st.current_state() == corotcp::tcp::state::established);
    CHECK_FALSE(ct.error());
    CHECK_FALSE(st.error());
    CHECK(ct.stats().bytes_in == client_in); // nothing moved, nothing was lost
    CHECK(st.stats().bytes_in == server_in);
    CHECK(ct.stats().retransmits == 0);
    CHECK(st.stats().retransmits == 0);
    // A probe is a segment that does not carry the next new sequence number (or carries data);
    // the answer to one is a bare ACK at snd.nxt with the (still zero) window.
    const auto probes = [&](bool from_client, corotcp::instant since) {
        const std::uint32_t nxt = (from_client ? ct.snd_nxt() : st.snd_nxt()).value();
        std::size_t n = 0;
        for (std::size_t i = first; i < tap.segs.size(); ++i) {
            const auto& s = tap.segs[i];
            if (s.from_client == from_client && s.at >= since && (s.len > 0 || s.seq != nxt)) ++n;
        }
        return n;
    };
    CHECK(probes(true, stall_start) > 15);
    CHECK(probes(false, stall_start) > 15);
    const corotcp::instant last_ten_minutes = net.now() - corotcp::duration::seconds(600);
    CHECK(probes(true, last_ten_minutes) >= 2); // still probing at the end, every rto_max (120 s)
    CHECK(probes(false, last_ten_minutes) >= 2);

    // The client starts reading: the windows open and everything completes, byte-exact.
    e.start_reader();
    REQUIRE(net.run_until([&] { return e.read_done && e.write_done; }, corotcp::duration::seconds(600)));
    CHECK_FALSE(e.wrote);
    CHECK(e.got.size() == e.data.size());
    CHECK(e.got == e.data);
}

TEST_CASE("memory: connections with the stack's settings share one copy, and an idle connection fits in 1 KiB") {
    using pair_t = corotcp::memory_pair<>;
    pair_t net;
    auto l = net.server().listen(80);
    REQUIRE(l);
    auto a = net.run(net.client().connect(net.server_address(), 80));
    auto b = net.run(net.client().connect(net.server_address(), 80));
    corotcp::tcp::config own = net.client().iface().config().tcp;
    own.no_delay = true;
    auto c = net.run(net.client().connect(net.server_address(), 80, {.tcp = own}));
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    // One copy for every connection that uses the defaults...
    CHECK(&a->tcb()->settings() == &b->tcb()->settings());
    CHECK_FALSE(a->tcb()->settings().no_delay);
    // ...and its own for a connection with its own settings.
    CHECK(&c->tcb()->settings() != &a->tcb()->settings());
    CHECK(c->tcb()->settings().no_delay);
    // The connection object (with its intrusive hooks) plus malloc's 16-byte chunk header and a
    // hash bucket stays within 1 KiB; memory_bench measures the whole heap (992 B per end).
    static_assert(sizeof(corotcp::iface::socket<corotcp::tcp::heap_buffers>) + 16 + 8 <= 1024);
}
