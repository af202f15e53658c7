// pair_bench: two corotcp stacks in one thread over the in-memory pipe, through the public
// coroutine API, doing the work ../shared/PEERS.md describes for smoltcp and lwIP:
//   bulk  client -> server, 64 KiB application writes, 256 KiB buffers, every byte copied out
//   rr    64 B request/response on one connection (Nagle off), delayed ACK on / immediate ACKs
//   conn  connect, 64 B echo, close; sequential
// Prints one line per figure: `name value unit  # details`. Options: --seconds S (per figure),
// --mtu N, --verify (check every byte of bulk), --only NAME, --count N (rr and conn: exactly N round
// trips / connections instead of a duration: for instruction counts under callgrind).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "corotcp/corotcp.hpp"

namespace {

using pair_type = corotcp::memory_pair<>;
using clock_type = std::chrono::steady_clock;

struct options {
    double seconds = 2.0;
    std::size_t mtu = 1500;
    bool verify = false;
    std::string only;
    std::uint64_t count = 0; ///< rr and conn: this many, not --seconds
};

/// rr and conn: go on until `count` (if given) or until `seconds` have passed (checked every `every`).
bool more(const options& o, std::uint64_t done, std::uint64_t every, clock_type::time_point t0);

corotcp::memory_pair_options pair_options(const options& o, bool delayed_ack) {
    corotcp::memory_pair_options p;
    p.pipe.mtu = o.mtu;
    for (auto* s : {&p.client, &p.server}) {
        s->mtu = o.mtu;
        s->tcp.send_buffer = 256 * 1024;
        s->tcp.recv_buffer = 256 * 1024;
        s->tcp.no_delay = true;
        s->tcp.delayed_ack = delayed_ack;
        s->local_port_low = 49152;
        s->local_port_high = 65535;
    }
    return p;
}

double elapsed(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

bool more(const options& o, std::uint64_t done, std::uint64_t every, clock_type::time_point t0) {
    if (o.count > 0) return done < o.count;
    return (done % every) != 0 || elapsed(t0) < o.seconds;
}

// --- bulk -----------------------------------------------------------------------------------

corotcp::task<void> bulk_sink(pair_type::listener l, std::uint64_t& received, bool verify, bool& bad) {
    auto c = co_await l.accept();
    if (!c) co_return;
    std::vector<std::uint8_t> buf(64 * 1024);
    for (;;) {
        auto n = co_await c->read(buf);
        if (!n || *n == 0) break;
        if (verify)
            for (std::size_t i = 0; i < *n; ++i)
                if (buf[i] != static_cast<std::uint8_t>((received + i) * 131)) bad = true;
        received += *n;
    }
}

corotcp::task<void> bulk_source(pair_type& net, double seconds, bool verify, std::uint64_t& sent) {
    auto c = co_await net.client().connect(net.server_address(), 9);
    if (!c) co_return;
    std::vector<std::uint8_t> buf(64 * 1024);
    const auto t0 = clock_type::now();
    while (elapsed(t0) < seconds) {
        if (verify)
            for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>((sent + i) * 131);
        if (co_await c->write(buf)) break;
        sent += buf.size();
    }
    co_await c->shutdown();
}

void bench_bulk(const options& o) {
    pair_type net(pair_options(o, true));
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    bool bad = false;
    net.spawn(bulk_sink(std::move(*net.server().listen(9)), received, o.verify, bad));
    const auto t0 = clock_type::now();
    net.run(bulk_source(net, o.seconds, o.verify, sent));
    net.run_until([&] { return received == sent; }, corotcp::duration::seconds(10));
    const double s = elapsed(t0);
    std::printf("bulk_mtu%zu %.2f Gbit/s  # %.1f MiB in %.2f s, 64 KiB writes, 256 KiB buffers, software checksums%s\n",
                o.mtu, static_cast<double>(received) * 8 / s / 1e9, static_cast<double>(received) / 1048576.0, s,
                o.verify ? (bad ? ", VERIFY FAILED" : ", every byte verified") : "");
}

// --- request/response -----------------------------------------------------------------------

corotcp::task<void> rr_server(pair_type::listener l) {
    auto c = co_await l.accept();
    if (!c) co_return;
    std::uint8_t buf[64];
    for (;;) {
        auto n = co_await c->read_exactly(buf);
        if (!n || *n < sizeof buf) break;
        if (co_await c->write(std::span<const std::uint8_t>(buf, sizeof buf))) break;
    }
}

corotcp::task<void> rr_client(pair_type& net, const options& o, std::uint64_t& rounds) {
    auto c = co_await net.client().connect(net.server_address(), 10);
    if (!c) co_return;
    std::uint8_t buf[64] = {};
    const auto t0 = clock_type::now();
    while (more(o, rounds, 1024, t0)) {
        if (co_await c->write(std::span<const std::uint8_t>(buf, sizeof buf))) break;
        auto n = co_await c->read_exactly(buf);
        if (!n || *n < sizeof buf) break;
        ++rounds;
    }
}

void bench_rr(const options& o, bool delayed_ack) {
    pair_type net(pair_options(o, delayed_ack));
    std::uint64_t rounds = 0;
    net.spawn(rr_server(std::move(*net.server().listen(10))));
    const auto t0 = clock_type::now();
    net.run(rr_client(net, o, rounds));
    const double s = elapsed(t0);
    std::printf("rr_%s %.0f round-trips/s  # 64 B ping-pong, Nagle off, %s\n", delayed_ack ? "delack" : "quickack",
                static_cast<double>(rounds) / s, delayed_ack ? "delayed ACK" : "every segment ACKed at once");
}

// --- short connections -----------------------------------------------------------------------

corotcp::task<void> conn_server(pair_type& net, pair_type::listener l) {
    for (;;) {
        auto c = co_await l.accept();
        if (!c) co_return;
        std::uint8_t buf[64];
        auto n = co_await c->read_exactly(buf);
        if (n && *n == sizeof buf) co_await c->write(std::span<const std::uint8_t>(buf, sizeof buf));
        (void)net;
    }
}

corotcp::task<void> conn_client(pair_type& net, const options& o, std::uint64_t& done) {
    std::uint8_t buf[64] = {};
    const auto t0 = clock_type::now();
    while (more(o, done, 256, t0)) {
        auto c = co_await net.client().connect(net.server_address(), 11);
        if (!c) break;
        if (co_await c->write(std::span<const std::uint8_t>(buf, sizeof buf))) break;
        auto n = co_await c->read_exactly(buf);
        if (!n) break;
        c->abort(); // recycle the client side at once, as the peers' benchmarks do (no TIME_WAIT)
        ++done;
    }
}

void bench_conn(const options& o) {
    pair_type net(pair_options(o, false));
    std::uint64_t done = 0;
    auto l = net.server().listen(11, {.backlog = 1024});
    net.spawn(conn_server(net, std::move(*l)));
    const auto t0 = clock_type::now();
    net.run(conn_client(net, o, done));
    const double s = elapsed(t0);
    std::printf("conn %.0f connections/s  # connect, 64 B echo, client abort (TIME_WAIT skipped), sequential\n",
                static_cast<double>(done) / s);
}

// --- the machine's own ceiling ---------------------------------------------------------------------

void bench_memcpy(const options& o) {
    constexpr std::size_t block = 64 * 1024;
    constexpr std::size_t blocks = 128; // 8 MiB each side: not cache-hot, like the data a stack moves
    std::vector<std::uint8_t> src(block * blocks, 1);
    std::vector<std::uint8_t> dst(block * blocks);
    std::uint64_t bytes = 0;
    const auto t0 = clock_type::now();
    while (elapsed(t0) < o.seconds / 4) {
        for (std::size_t i = 0; i < blocks; ++i) {
            std::memcpy(dst.data() + i * block, src.data() + ((i * 37) % blocks) * block, block);
            asm volatile("" : : "r"(dst.data()) : "memory"); // keep the copy
        }
        bytes += blocks * block;
    }
    std::printf("memcpy_64k %.2f Gbit/s  # one thread, 64 KiB blocks over 8 MiB: bulk is best read as a fraction of this\n",
                static_cast<double>(bytes) * 8 / elapsed(t0) / 1e9);
}

} // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) o.seconds = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--mtu") == 0 && i + 1 < argc) o.mtu = static_cast<std::size_t>(std::atol(argv[++i]));
        else if (std::strcmp(argv[i], "--verify") == 0) o.verify = true;
        else if (std::strcmp(argv[i], "--count") == 0 && i + 1 < argc) o.count = std::strtoull(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) o.only = argv[++i];
        else {
            std::fprintf(stderr, "usage: %s [--seconds S] [--mtu N] [--verify] [--count N] [--only memcpy|bulk|rr|rr_delack|rr_quickack|conn]\n", argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (o.only.empty() || o.only == "memcpy") bench_memcpy(o);
    if (o.only.empty() || o.only == "bulk") bench_bulk(o);
    if (o.only.empty() || o.only == "rr" || o.only == "rr_delack") bench_rr(o, true);
    if (o.only.empty() || o.only == "rr" || o.only == "rr_quickack") bench_rr(o, false);
    if (o.only.empty() || o.only == "conn") bench_conn(o);
    return 0;
}
