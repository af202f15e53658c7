// tun_bench: corotcp's side of the TUN benchmark against the Linux kernel (scripts/tun_bench.sh runs
// it, with benchmarks/kernel_peer.cpp as the kernel's side, in a private network namespace).
//
// corotcp is the server, on a TUN device driven by io_uring (corotcp::tun_link, run_loop<real_clock>,
// one thread); a kernel client (`kernel_peer client`) connects through the device. The modes are
// named from corotcp's side and mirror `kernel_peer server`, which does the same work for the
// kernel <-> kernel baseline over a veth pair:
//   bulk-rx  kernel -> corotcp: reads (64 KiB) to the client's EOF, then closes.
//   bulk-tx  corotcp -> kernel: writes 64 KiB blocks for --seconds, half-closes, reads to the
//            client's EOF (so the time covers the delivery of every byte).
//   rr       64 B request / 64 B response on one connection, Nagle off, delayed ACK on (the ACK rides
//            on the response), until the client's EOF.
//   conn     sequential short connections: accept, read 64 B, echo them, close (the kernel client
//            then aborts: no TIME-WAIT anywhere); no ACK delay; ends after a request starting 0xFF.
// The time runs from accept() to the end of the exchange. The figure is printed as one line,
// `tun_<figure> value unit  # details` (the prefix is --name), details including the process's CPU
// time and the link's counters (frames, GSO frames, io_uring submits and blocking waits).
//
//   tun_bench --mode bulk-rx [--offload] [--seconds S] [--tun NAME] [--ip ADDR] [--kernel-ip A/P]
//             [--port P] [--mtu N] [--buffer BYTES] [--no-uring] [--no-multishot] [--reads N] [--batch N] [--rx-buffers N] [--busy-poll US] [--name PREFIX] [--limit S]
//
// --offload: IFF_VNET_HDR + TUNSETOFFLOAD, whatever the link offers (today: GSO super-frames received
// whole and checksums left to us; transmitted segments are MSS-sized). Prints "listening on
// ADDR:PORT" once the device is up. Exit status 0 after printing the figure; 1 on any failure, or
// when --limit seconds pass first (default 120: a run never hangs).
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "corotcp/async/real_clock.hpp"
#include "corotcp/async/run_loop.hpp"
#include "corotcp/async/stack.hpp"
#include "corotcp/link/tun.hpp"
#include "corotcp/link/tun_config.hpp"

namespace {

using loop_type = corotcp::run_loop<corotcp::real_clock>;
using stack_type = corotcp::basic_stack<corotcp::tun_link>;
using clock_type = std::chrono::steady_clock;

enum class mode { bulk_rx, bulk_tx, rr, conn };

struct options {
    mode m = mode::bulk_rx;
    bool mode_given = false;
    double seconds = 3.0;
    std::string tun = "ctunb0";
    std::string ip = "10.79.0.2";
    std::string kernel_ip = "10.79.0.1/24";
    std::uint16_t port = 5201;
    std::size_t mtu = 0;
    std::size_t buffer = 256 * 1024;
    bool offload = false;
    bool no_uring = false;
    bool no_multishot = false;
    int reads = -1;     // -1: tun_options' default (0: multishot poll + read() drain)
    unsigned batch = 0; // 0: tun_options' default
    unsigned busy_poll = 0; // microseconds; 0: off (tun_options' default)
    unsigned rx_buffers = 0; // 0: tun_options' default
    std::string name = "tun";
    double limit = 120;
};

const char* figure_name(mode m) {
    switch (m) {
    case mode::bulk_rx: return "bulk_rx";
    case mode::bulk_tx: return "bulk_tx";
    case mode::rr: return "rr";
    case mode::conn: return "conn";
    }
    return "?";
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

/// What one run measured.
struct result {
    bool done = false;
    bool failed = false;
    std::string error;
    std::uint64_t count = 0; // bytes, round trips or connections
    clock_type::time_point t0{};
    double seconds = 0;
    double cpu0 = 0;
    double cpu = 0;

    void start() {
        t0 = clock_type::now();
        cpu0 = cpu_seconds();
    }
    void finish() {
        seconds = since(t0);
        cpu = cpu_seconds() - cpu0;
        done = true;
    }
    void fail(std::string what) {
        error = std::move(what);
        failed = true;
        done = true;
    }
};

// --- the four servers --------------------------------------------------------------------------------

corotcp::task<void> serve_bulk_rx(stack_type::listener l, result& r) {
    auto c = co_await l.accept();
    if (!c) co_return r.fail("accept: " + c.error().message());
    r.start();
    std::vector<std::uint8_t> buf(64 * 1024);
    for (;;) {
        auto n = co_await c->read(buf);
        if (!n) co_return r.fail("read: " + n.error().message());
        if (*n == 0) break;
        r.count += *n;
    }
    r.finish();
    co_await c->shutdown();
}

corotcp::task<void> serve_bulk_tx(stack_type::listener l, double seconds, result& r) {
    auto c = co_await l.accept();
    if (!c) co_return r.fail("accept: " + c.error().message());
    r.start();
    const std::vector<std::uint8_t> buf(64 * 1024, 0x5a);
    while (since(r.t0) < seconds) {
        if (auto ec = co_await c->write(buf)) co_return r.fail("write: " + ec.message());
        r.count += buf.size();
    }
    if (auto ec = co_await c->shutdown()) co_return r.fail("shutdown: " + ec.message());
    std::uint8_t rest[256];
    for (;;) { // the client's EOF: it has every byte
        auto n = co_await c->read(rest);
        if (!n) co_return r.fail("read: " + n.error().message());
        if (*n == 0) break;
    }
    r.finish();
}

corotcp::task<void> serve_rr(stack_type::listener l, result& r) {
    auto c = co_await l.accept();
    if (!c) co_return r.fail("accept: " + c.error().message());
    r.start();
    std::uint8_t msg[64];
    for (;;) {
        auto n = co_await c->read_exactly(msg);
        if (!n) co_return r.fail("read: " + n.error().message());
        if (*n < sizeof msg) break; // the client's EOF
        if (auto ec = co_await c->write(std::span<const std::uint8_t>(msg, sizeof msg)))
            co_return r.fail("write: " + ec.message());
        ++r.count;
    }
    r.finish();
    co_await c->shutdown();
}

corotcp::task<void> serve_conn(stack_type::listener l, result& r) {
    std::uint8_t msg[64];
    for (;;) {
        auto c = co_await l.accept();
        if (!c) co_return r.fail("accept: " + c.error().message());
        if (r.count == 0) r.start();
        auto n = co_await c->read_exactly(msg);
        if (!n) co_return r.fail("read: " + n.error().message());
        if (*n == sizeof msg) {
            if (auto ec = co_await c->write(std::span<const std::uint8_t>(msg, sizeof msg)))
                co_return r.fail("write: " + ec.message());
        }
        c->close(); // FIN after the echo; the client's RST ends the connection
        ++r.count;
        if (*n > 0 && msg[0] == 0xFF) break;
    }
    r.finish();
}

// --- signals: SIGINT/SIGTERM end the loop (io_uring_enter returns EINTR: no SA_RESTART) -------------
volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int /*sig*/) { stop_requested = 1; }

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: tun_bench --mode bulk-rx|bulk-tx|rr|conn [options]\n"
                 "corotcp's side of the TUN benchmark against the kernel (scripts/tun_bench.sh; the kernel's side is\n"
                 "kernel_peer client). corotcp serves on a TUN device; prints `tun_<figure> value unit  # details`.\n"
                 "  --mode M          bulk-rx (kernel -> corotcp), bulk-tx (corotcp -> kernel), rr (64 B echo),\n"
                 "                    conn (short connections)\n"
                 "  --offload         IFF_VNET_HDR + TUNSETOFFLOAD: whatever offloads the link offers\n"
                 "  --seconds S       bulk-tx: how long to send (default 3); other modes: the client decides\n"
                 "  --tun NAME        TUN device, created if absent (default ctunb0)\n"
                 "  --ip ADDR         this stack's address (default 10.79.0.2)\n"
                 "  --kernel-ip A/P   the kernel side's address/prefix, set on the device (default 10.79.0.1/24;\n"
                 "                    \"none\": leave the device as it is)\n"
                 "  --port P          port to listen on (default 5201)\n"
                 "  --mtu N           IP MTU (default: the device's)\n"
                 "  --buffer BYTES    send and receive buffer of the connection (default 262144)\n"
                 "  --no-uring        read()/write() + ppoll() instead of io_uring\n"
                 "  --no-multishot    io_uring: a multishot poll + read() until EAGAIN instead of the\n"
                 "                    multishot read into provided buffers\n"
                 "  --reads N         io_uring: 0 = one multishot read (or poll, see --no-multishot), the\n"
                 "                    default; N > 0 = N reads kept armed (the link's first design)\n"
                 "  --batch N         frames read() per receive() at most (default: tun_options' 64)\n"
                 "  --rx-buffers N    multishot read: provided buffers (default: tun_options')\n"
                 "  --busy-poll US    spin up to US microseconds before blocking (default 0: off)\n"
                 "  --name PREFIX     figure name prefix (default tun)\n"
                 "  --limit S         give up (exit 1) after S seconds (default 120)\n");
}

bool parse(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--offload") {
            o.offload = true;
            continue;
        }
        if (a == "--no-uring") {
            o.no_uring = true;
            continue;
        }
        if (a == "--no-multishot") {
            o.no_multishot = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "tun_bench: unknown option or missing value: %s (see --help)\n", argv[i]);
            return false;
        }
        const std::string_view v = argv[++i];
        if (a == "--mode") {
            o.mode_given = true;
            if (v == "bulk-rx") o.m = mode::bulk_rx;
            else if (v == "bulk-tx") o.m = mode::bulk_tx;
            else if (v == "rr") o.m = mode::rr;
            else if (v == "conn") o.m = mode::conn;
            else {
                std::fprintf(stderr, "tun_bench: --mode: expected bulk-rx, bulk-tx, rr or conn\n");
                return false;
            }
        } else if (a == "--seconds") o.seconds = std::atof(argv[i]);
        else if (a == "--tun") o.tun = v;
        else if (a == "--ip") o.ip = v;
        else if (a == "--kernel-ip") o.kernel_ip = v;
        else if (a == "--port") o.port = static_cast<std::uint16_t>(std::atoi(argv[i]));
        else if (a == "--mtu") o.mtu = static_cast<std::size_t>(std::atol(argv[i]));
        else if (a == "--buffer") o.buffer = static_cast<std::size_t>(std::atol(argv[i]));
        else if (a == "--reads") o.reads = std::atoi(argv[i]);
        else if (a == "--batch") o.batch = static_cast<unsigned>(std::atoi(argv[i]));
        else if (a == "--busy-poll") o.busy_poll = static_cast<unsigned>(std::atoi(argv[i]));
        else if (a == "--rx-buffers") o.rx_buffers = static_cast<unsigned>(std::atoi(argv[i]));
        else if (a == "--name") o.name = v;
        else if (a == "--limit") o.limit = std::atof(argv[i]);
        else {
            std::fprintf(stderr, "tun_bench: unknown option %s (see --help)\n", argv[i - 1]);
            return false;
        }
    }
    if (!o.mode_given) {
        std::fprintf(stderr, "tun_bench: --mode is required (see --help)\n");
        return false;
    }
    if (!(o.seconds > 0) || !(o.limit > 0) || o.port == 0 || o.buffer < 4096 ||
        (o.mtu != 0 && (o.mtu < 576 || o.mtu > 65535))) {
        std::fprintf(stderr, "tun_bench: needs --seconds > 0, --limit > 0, a port, --buffer >= 4096, --mtu 576..65535\n");
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    options o;
    if (!parse(argc, argv, o)) return 2;
    const auto ip = corotcp::wire::ipv4_address::parse(o.ip);
    if (!ip) {
        std::fprintf(stderr, "tun_bench: --ip: not an IPv4 address: %s\n", o.ip.c_str());
        return 2;
    }
    std::optional<corotcp::ipv4_prefix> kernel;
    if (o.kernel_ip != "none") {
        kernel = corotcp::ipv4_prefix::parse(o.kernel_ip);
        if (!kernel || kernel->length == 0 || kernel->address == *ip) {
            std::fprintf(stderr, "tun_bench: --kernel-ip: expected ADDR/PREFIX other than --ip, got %s\n", o.kernel_ip.c_str());
            return 2;
        }
    }

    struct sigaction sa{};
    sa.sa_handler = &on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    corotcp::tun_options to;
    to.name = o.tun;
    to.mtu = o.mtu;
    to.offload = o.offload;
    to.io = o.no_uring ? corotcp::tun_io::plain : corotcp::tun_io::automatic;
    to.multishot_read = !o.no_multishot;
    if (o.reads >= 0) to.reads_in_flight = static_cast<unsigned>(o.reads);
    if (o.batch != 0) to.rx_batch = o.batch;
    to.busy_poll_us = o.busy_poll;
    if (o.rx_buffers != 0) to.rx_buffers = o.rx_buffers;
    to.log = [](std::string_view msg) { std::fprintf(stderr, "tun_bench: %.*s\n", static_cast<int>(msg.size()), msg.data()); };
    auto link = corotcp::tun_link::open(std::move(to));
    if (!link) {
        std::fprintf(stderr, "tun_bench: cannot open TUN device %s: %s\n", o.tun.c_str(), link.error().message().c_str());
        return 1;
    }
    if (kernel) {
        if (auto ec = corotcp::configure_kernel_side(o.tun, *kernel, o.mtu)) {
            std::fprintf(stderr, "tun_bench: cannot configure %s on %s: %s\n", o.kernel_ip.c_str(), o.tun.c_str(),
                         ec.message().c_str());
            return 1;
        }
    }
    const std::string link_description = link->describe();

    corotcp::iface::settings s;
    s.address = *ip;
    s.tcp.send_buffer = o.buffer;
    s.tcp.recv_buffer = o.buffer;
    s.tcp.no_delay = true;                   // Nagle off in every mode, as the kernel peer sets TCP_NODELAY
    s.tcp.delayed_ack = o.m != mode::conn;   // conn: no ACK delay (../shared/PEERS.md's method)
    loop_type loop;
    stack_type stack(loop, std::move(*link), s);
    corotcp::listen_options lo;
    lo.backlog = 1024;
    auto listener = stack.listen(o.port, lo);
    if (!listener) {
        std::fprintf(stderr, "tun_bench: listen on port %u: %s\n", o.port, listener.error().message().c_str());
        return 1;
    }

    result r;
    switch (o.m) {
    case mode::bulk_rx: stack.spawn(serve_bulk_rx(std::move(*listener), r)); break;
    case mode::bulk_tx: stack.spawn(serve_bulk_tx(std::move(*listener), o.seconds, r)); break;
    case mode::rr: stack.spawn(serve_rr(std::move(*listener), r)); break;
    case mode::conn: stack.spawn(serve_conn(std::move(*listener), r)); break;
    }
    std::printf("listening on %s:%u\n", o.ip.c_str(), o.port);
    std::fflush(stdout);

    const bool finished = loop.run_until([&] { return r.done || stop_requested != 0; },
                                         corotcp::duration::micros(static_cast<std::int64_t>(o.limit * 1e6)));
    // Let the last FIN/ACKs reach the kernel (bounded), so the peer sees a clean end.
    if (finished && !r.failed) loop.run_for(corotcp::duration::millis(20));
    if (!finished || stop_requested != 0) {
        std::fprintf(stderr, "tun_bench: %s before the run ended\n", stop_requested != 0 ? "interrupted" : "--limit reached");
        loop.destroy_spawned();
        return 1;
    }
    if (r.failed) {
        std::fprintf(stderr, "tun_bench: %s\n", r.error.c_str());
        loop.destroy_spawned();
        return 1;
    }

    const auto& st = stack.link().stats();
    char counters[384];
    std::snprintf(counters, sizeof counters,
                  "cpu %.2f s; link rx %llu frames (%llu gso, %llu re-arms), tx %llu packets (%llu B average), %llu submits, %llu "
                  "waits (%llu ended by busy polling); %s",
                  r.cpu, static_cast<unsigned long long>(st.rx_packets), static_cast<unsigned long long>(st.rx_gso),
                  static_cast<unsigned long long>(st.rx_rearms), static_cast<unsigned long long>(st.tx_packets),
                  static_cast<unsigned long long>(st.tx_packets ? st.tx_bytes / st.tx_packets : 0),
                  static_cast<unsigned long long>(st.submits),
                  static_cast<unsigned long long>(st.waits), static_cast<unsigned long long>(st.busy_polled),
                  link_description.c_str());
    const double secs = r.seconds > 0 ? r.seconds : 1e-9;
    const auto n = static_cast<unsigned long long>(r.count);
    switch (o.m) {
    case mode::bulk_rx:
    case mode::bulk_tx:
        std::printf("%s_%s %.2f Gbit/s  # %s, %.1f MiB in %.2f s, 64 KiB %s, %zu KiB buffers, %s\n", o.name.c_str(),
                    figure_name(o.m), static_cast<double>(r.count) * 8 / secs / 1e9,
                    o.m == mode::bulk_rx ? "kernel -> corotcp" : "corotcp -> kernel", static_cast<double>(r.count) / 1048576.0,
                    r.seconds, o.m == mode::bulk_rx ? "reads" : "writes", o.buffer / 1024, counters);
        break;
    case mode::rr:
        std::printf("%s_rr %.0f round-trips/s  # %llu 64 B round trips in %.2f s, Nagle off, delayed ACK, %s\n",
                    o.name.c_str(), static_cast<double>(r.count) / secs, n, r.seconds, counters);
        break;
    case mode::conn:
        std::printf("%s_conn %.0f connections/s  # %llu connections in %.2f s (64 B echo, we close, the kernel "
                    "client aborts), %s\n",
                    o.name.c_str(), static_cast<double>(r.count) / secs, n, r.seconds, counters);
        break;
    }
    std::fflush(stdout);
    loop.destroy_spawned();
    return 0;
}
