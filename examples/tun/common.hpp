// examples/tun/common.hpp: what every TUN example shares: the common options, opening the device,
// configuring the kernel side, the stack on a real clock, signals, and the optional capture.
//
// Common options (every program):
//   --tun NAME           the TUN device (created if it does not exist; default tun0)
//   --ip ADDR            the address of this stack (required; never the kernel's)
//   --kernel-ip A/P      give the kernel side address A with prefix P and bring the device up
//   --mtu N              IP MTU (default: the device's; with --kernel-ip it is also set on the device)
//   --offload            IFF_VNET_HDR + TUNSETOFFLOAD(CSUM, TSO4): receive 64 KB GSO frames
//   --split-gso          with --offload: cut GSO frames into MSS segments
//   --no-uring           plain read()/write() + ppoll() instead of io_uring
//   --no-multishot       io_uring: receive with a multishot poll + read() instead of a multishot read
//   --busy-poll US       spin up to US microseconds for packets before blocking (lower latency, more CPU)
//   --syncookies N       tcp_syncookies (0, 1 = default, 2 = always answer with a SYN cookie)
//   --pcap FILE          record every packet (LINKTYPE_RAW; tshark/wireshark read it)
//   --trace              print every packet, tcpdump-style, to stderr
//   --verbose            print connection state changes and link counters to stderr
//
// main() of every program: parse_args() (--help, the program's own options, the common ones, the
// error for anything else); the servers then hand the rest to run_server() (signals, loop, stack,
// listen, the ready line "listening on ADDR:PORT", run until a signal, the --verbose summary).
#pragma once

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "corotcp/async/real_clock.hpp"
#include "corotcp/async/run_loop.hpp"
#include "corotcp/async/stack.hpp"
#include "corotcp/link/pcap.hpp"
#include "corotcp/link/tun.hpp"
#include "corotcp/link/tun_config.hpp"
#include "corotcp/wire/print.hpp"

namespace tun_example {

inline constexpr const char* common_usage =
    "  --tun NAME         TUN device to attach to or create (default tun0)\n"
    "  --ip ADDR          this stack's IPv4 address (required; not the kernel's)\n"
    "  --kernel-ip A/P    configure the kernel side: address A, prefix P, device up\n"
    "  --mtu N            IP MTU (default: the device's)\n"
    "  --offload          IFF_VNET_HDR + TSO4/CSUM offload (receive 64 KB GSO frames)\n"
    "  --split-gso        with --offload: split GSO frames into MSS-sized segments\n"
    "  --no-uring         use read()/write() + ppoll() instead of io_uring\n"
    "  --no-multishot     io_uring: multishot poll + read() instead of a multishot read\n"
    "  --busy-poll US     spin up to US microseconds for packets before blocking\n"
    "  --syncookies N     tcp_syncookies: 0 never, 1 when a SYN queue is full (default), 2 always\n"
    "  --pcap FILE        record every packet to FILE (pcap, LINKTYPE_RAW)\n"
    "  --trace            print every packet, tcpdump-style, to stderr\n"
    "  --verbose          print state changes and link counters to stderr\n"
    "  --help             this text\n";

struct common_options {
    std::string tun = "tun0";
    std::optional<corotcp::wire::ipv4_address> ip;
    std::optional<corotcp::ipv4_prefix> kernel_ip;
    std::size_t mtu = 0;
    bool offload = false;
    bool split_gso = false;
    bool no_uring = false;
    bool no_multishot = false;
    unsigned busy_poll_us = 0;
    unsigned syncookies = 1;
    std::string pcap;
    bool trace = false;
    bool verbose = false;
};

enum class arg_result { consumed, unknown, error };

/// Parses argv[i] (and its value) if it is a common option.
inline arg_result parse_common(const char* prog, int argc, char** argv, int& i, common_options& o) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> const char* {
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, argv[i]);
            return nullptr;
        }
        return argv[++i];
    };
    if (a == "--tun") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        o.tun = v;
    } else if (a == "--ip") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        o.ip = corotcp::wire::ipv4_address::parse(v);
        if (!o.ip) {
            std::fprintf(stderr, "%s: --ip: not an IPv4 address: %s\n", prog, v);
            return arg_result::error;
        }
    } else if (a == "--kernel-ip") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        o.kernel_ip = corotcp::ipv4_prefix::parse(v);
        if (!o.kernel_ip || o.kernel_ip->length == 0) {
            std::fprintf(stderr, "%s: --kernel-ip: expected ADDR/PREFIX (e.g. 10.0.0.1/24), got %s\n", prog, v);
            return arg_result::error;
        }
    } else if (a == "--busy-poll") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        char* end = nullptr;
        const unsigned long us = std::strtoul(v, &end, 10);
        if (*v == '\0' || *end != '\0' || us > 1'000'000) {
            std::fprintf(stderr, "%s: --busy-poll: expected 0..1000000 microseconds, got %s\n", prog, v);
            return arg_result::error;
        }
        o.busy_poll_us = static_cast<unsigned>(us);
    } else if (a == "--syncookies") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        const std::string_view n = v;
        if (n != "0" && n != "1" && n != "2") {
            std::fprintf(stderr, "%s: --syncookies: expected 0, 1 or 2, got %s\n", prog, v);
            return arg_result::error;
        }
        o.syncookies = static_cast<unsigned>(n[0] - '0');
    } else if (a == "--mtu") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        char* end = nullptr;
        const unsigned long m = std::strtoul(v, &end, 10);
        if (*v == '\0' || *end != '\0' || m < 576 || m > 65535) {
            std::fprintf(stderr, "%s: --mtu: expected 576..65535, got %s\n", prog, v);
            return arg_result::error;
        }
        o.mtu = m;
    } else if (a == "--pcap") {
        const char* v = value();
        if (v == nullptr) return arg_result::error;
        o.pcap = v;
    } else if (a == "--offload") {
        o.offload = true;
    } else if (a == "--split-gso") {
        o.split_gso = true;
    } else if (a == "--no-uring") {
        o.no_uring = true;
    } else if (a == "--no-multishot") {
        o.no_multishot = true;
    } else if (a == "--trace") {
        o.trace = true;
    } else if (a == "--verbose") {
        o.verbose = true;
    } else {
        return arg_result::unknown;
    }
    return arg_result::consumed;
}

/// What parse_args needs to know of a program: its name (the prefix of its messages) and the head
/// of its --help text (synopsis, description, its own options); the common options follow it.
struct program {
    const char* name;
    const char* usage;
};

/// The command line: --help/-h prints the usage to stdout (exit code 0); `own(a, i)` takes the
/// program's own options and arguments (consumed, or error after printing why, or unknown: not
/// its own); then the common options; anything else is an unknown option (exit code 2). Returns
/// the exit code to stop with, or nothing if the program should go on.
template <class Own>
std::optional<int> parse_args(const program& p, int argc, char** argv, common_options& o, Own&& own) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            std::printf("%s%s", p.usage, common_usage);
            return 0;
        }
        arg_result r = own(a, i);
        if (r == arg_result::unknown) r = parse_common(p.name, argc, argv, i, o);
        if (r == arg_result::error) return 2;
        if (r == arg_result::unknown) {
            std::fprintf(stderr, "%s: unknown option %s (see --help)\n", p.name, argv[i]);
            return 2;
        }
    }
    return std::nullopt;
}

/// The TUN link, plus an optional capture and trace: one stack type for every configuration.
class app_link {
public:
    app_link(corotcp::tun_link tun, std::unique_ptr<corotcp::pcap_writer> pcap, bool trace)
        : tun_(std::move(tun)), pcap_(std::move(pcap)), trace_(trace) {}

    [[nodiscard]] std::size_t mtu() const { return tun_.mtu(); }
    /// TSO: the stack sends 64 KB super-segments when the kernel accepted TSO4 (--offload).
    [[nodiscard]] std::size_t tso_max() const { return tun_.tso_max(); }

    void transmit(corotcp::instant now, corotcp::packet p) {
        if (pcap_) pcap_->write(now, std::as_const(p).bytes());
        if (trace_) print(now, '>', std::as_const(p).bytes());
        tun_.transmit(now, std::move(p));
    }

    std::size_t receive(corotcp::instant now, corotcp::packet_batch& out) {
        const std::size_t first = out.size();
        const std::size_t n = tun_.receive(now, out);
        for (std::size_t i = first; i < out.size(); ++i) {
            if (pcap_) pcap_->write(now, std::as_const(out[i]).bytes());
            if (trace_) print(now, '<', std::as_const(out[i]).bytes());
        }
        return n;
    }

    [[nodiscard]] corotcp::instant poll_at() const { return tun_.poll_at(); }

    bool wait(corotcp::instant deadline) {
        if (pcap_) pcap_->flush();
        return tun_.wait(deadline);
    }

    [[nodiscard]] corotcp::tun_link& tun() noexcept { return tun_; }
    [[nodiscard]] corotcp::pcap_writer* pcap() noexcept { return pcap_.get(); }

private:
    static void print(corotcp::instant now, char dir, std::span<const std::uint8_t> bytes) {
        std::fprintf(stderr, "%lld.%06lld %c %s\n", static_cast<long long>(now.us / 1000000),
                     static_cast<long long>(now.us % 1000000), dir, corotcp::wire::format_tcpdump(bytes).c_str());
    }

    corotcp::tun_link tun_;
    std::unique_ptr<corotcp::pcap_writer> pcap_;
    bool trace_;
};
static_assert(corotcp::blocking_link<app_link>);

using loop_type = corotcp::run_loop<corotcp::real_clock>;
using stack_type = corotcp::basic_stack<app_link>;
using connection = stack_type::connection;

// --- signals: SIGINT/SIGTERM end the loop (io_uring_enter returns EINTR: no SA_RESTART) ----------------
inline volatile std::sig_atomic_t stop_requested = 0;
inline void on_signal(int /*sig*/) { stop_requested = 1; }
inline void install_signal_handlers() {
    struct sigaction sa{};
    sa.sa_handler = &on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

/// Opens the device, configures the kernel side if asked, and builds the stack. Prints a clear
/// message and returns nullptr on failure.
inline std::unique_ptr<stack_type> open_stack(const char* prog, loop_type& loop, const common_options& o,
                                              corotcp::tcp::config tcp = {}) {
    if (!o.ip) {
        std::fprintf(stderr, "%s: --ip ADDR is required (see --help)\n", prog);
        return nullptr;
    }
    if (o.kernel_ip) {
        if (o.kernel_ip->address == *o.ip) {
            std::fprintf(stderr, "%s: --ip %s is the kernel side's address (--kernel-ip): pick another one\n", prog,
                         o.ip->to_string().c_str());
            return nullptr;
        }
        if (!o.kernel_ip->contains(*o.ip))
            std::fprintf(stderr, "%s: warning: %s is outside %s: the kernel will not route to it through %s\n", prog,
                         o.ip->to_string().c_str(), o.kernel_ip->to_string().c_str(), o.tun.c_str());
    }
    // An address the kernel already has (on a persistent device configured with `ip addr`, or on
    // any other device): the kernel would keep every packet for it and none would reach the stack.
    if (auto dev = corotcp::kernel_address_owner(*o.ip)) {
        if (!dev->empty())
            std::fprintf(stderr, "%s: --ip %s is already the kernel's address on %s: pick another one\n", prog,
                         o.ip->to_string().c_str(), dev->c_str());
        else
            std::fprintf(stderr, "%s: --ip %s is local to the kernel (see: ip route show table local): pick another one\n",
                         prog, o.ip->to_string().c_str());
        return nullptr;
    }
    corotcp::tun_options to;
    to.name = o.tun;
    to.mtu = o.mtu;
    to.offload = o.offload;
    to.split_gso = o.split_gso;
    to.io = o.no_uring ? corotcp::tun_io::plain : corotcp::tun_io::automatic;
    to.multishot_read = !o.no_multishot;
    to.busy_poll_us = o.busy_poll_us;
    to.log = [prog](std::string_view msg) {
        std::fprintf(stderr, "%s: %.*s\n", prog, static_cast<int>(msg.size()), msg.data());
    };
    auto tun = corotcp::tun_link::open(std::move(to));
    if (!tun) {
        std::fprintf(stderr, "%s: cannot open TUN device %s: %s\n", prog, o.tun.c_str(), tun.error().message().c_str());
        return nullptr;
    }
    if (o.kernel_ip) {
        if (auto ec = corotcp::configure_kernel_side(o.tun, *o.kernel_ip, o.mtu)) {
            std::fprintf(stderr, "%s: cannot configure %s on %s: %s\n", prog, o.kernel_ip->to_string().c_str(),
                         o.tun.c_str(), ec.message().c_str());
            return nullptr;
        }
    }
    if (o.verbose) std::fprintf(stderr, "%s: %s\n", prog, tun->describe().c_str());
    std::unique_ptr<corotcp::pcap_writer> pcap;
    if (!o.pcap.empty()) {
        // Wall-clock timestamps in the capture: steady_clock time plus the offset to the epoch.
        const auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
        corotcp::pcap_options po;
        po.time_offset = corotcp::duration::micros(wall - loop.now().us);
        pcap = std::make_unique<corotcp::pcap_writer>(std::filesystem::path(o.pcap), po);
        if (!pcap->ok()) {
            std::fprintf(stderr, "%s: cannot write %s: %s\n", prog, o.pcap.c_str(), std::strerror(errno));
            return nullptr;
        }
    }
    corotcp::iface::settings s;
    s.address = *o.ip;
    s.tcp = tcp;
    s.syncookies = static_cast<std::uint8_t>(o.syncookies);
    auto stack = std::make_unique<stack_type>(loop, app_link(std::move(*tun), std::move(pcap), o.trace), s);
    if (o.verbose) {
        stack->on_state_change([prog](const corotcp::iface::four_tuple& t, corotcp::tcp::state from,
                                      corotcp::tcp::state to, corotcp::tcp::event why) {
            std::fprintf(stderr, "%s: %s:%u > %s:%u  %s -> %s  (%s)\n", prog, t.local.to_string().c_str(),
                         t.local_port, t.remote.to_string().c_str(), t.remote_port,
                         std::string(corotcp::tcp::to_string(from)).c_str(),
                         std::string(corotcp::tcp::to_string(to)).c_str(),
                         std::string(corotcp::tcp::to_string(why)).c_str());
        });
    }
    return stack;
}

/// Runs the loop until `done()` or a signal. Returns false if a signal ended it.
template <class Done>
bool run_until(loop_type& loop, Done&& done) {
    loop.run_until([&] { return stop_requested != 0 || done(); }, corotcp::duration::seconds(3600LL * 24 * 365));
    return stop_requested == 0;
}

inline void print_link_stats(const char* prog, stack_type& s) {
    const auto& st = s.link().tun().stats();
    std::fprintf(stderr,
                 "%s: link: rx %llu frames (%llu bytes, %llu gso, %llu csum) -> %llu packets, %llu errors, %llu re-arms; tx %llu "
                 "packets (%llu bytes, %llu gso), %llu errors, %llu dropped; %llu submits, %llu waits (%llu ended by busy polling)\n",
                 prog, (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
                 (unsigned long long)st.rx_gso, (unsigned long long)st.rx_csum, (unsigned long long)st.rx_delivered,
                 (unsigned long long)st.rx_errors, (unsigned long long)st.rx_rearms, (unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes,
                 (unsigned long long)st.tx_gso, (unsigned long long)st.tx_errors, (unsigned long long)st.tx_dropped, (unsigned long long)st.submits,
                 (unsigned long long)st.waits, (unsigned long long)st.busy_polled);
    const auto& is = s.iface().stats();
    if (is.syncookies_sent + is.syncookies_failed + is.syn_overflow > 0)
        std::fprintf(stderr, "%s: listeners: %llu SYN cookies sent, %llu connections built from one, %llu refused, %llu SYNs dropped (backlog)\n",
                     prog, (unsigned long long)is.syncookies_sent, (unsigned long long)is.syncookies_recv,
                     (unsigned long long)is.syncookies_failed, (unsigned long long)is.syn_overflow);
}

/// Accepts connections until the listener fails, spawning handler(connection) for each.
template <class Handler>
corotcp::task<void> accept_each(const char* prog, stack_type& s, stack_type::listener l, Handler handler) {
    for (;;) {
        auto conn = co_await l.accept();
        if (!conn) {
            std::fprintf(stderr, "%s: accept: %s\n", prog, conn.error().message().c_str());
            break;
        }
        s.spawn(handler(std::move(*conn)));
    }
}

struct server_setup {
    corotcp::tcp::config tcp{};
    corotcp::listen_options listen{};
};

/// A server's main() once its options are parsed: signals, the loop, the stack and the listener on
/// `port` (exit code 1 if either fails), handler(connection) for every accepted connection, the
/// ready line on stdout, then the loop until a signal or done(); with --verbose, summary() and the
/// link counters on stderr. Returns the exit code.
template <class Handler, class Done, class Summary>
int run_server(const char* prog, const common_options& o, std::uint16_t port, const server_setup& setup, Handler handler,
               Done done, Summary summary) {
    install_signal_handlers();
    loop_type loop;
    auto stack = open_stack(prog, loop, o, setup.tcp);
    if (!stack) return 1;
    auto listener = stack->listen(port, setup.listen);
    if (!listener) {
        std::fprintf(stderr, "%s: listen on port %u: %s\n", prog, port, listener.error().message().c_str());
        return 1;
    }
    stack->spawn(accept_each(prog, *stack, std::move(*listener), std::move(handler)));
    std::printf("listening on %s:%u\n", o.ip->to_string().c_str(), port);
    std::fflush(stdout);
    run_until(loop, done);
    if (o.verbose) {
        summary();
        print_link_stats(prog, *stack);
    }
    loop.destroy_spawned();
    return 0;
}

/// Splits "HOST:PORT".
inline bool parse_host_port(std::string_view s, corotcp::wire::ipv4_address& host, std::uint16_t& port) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    const auto h = corotcp::wire::ipv4_address::parse(s.substr(0, colon));
    const std::string p(s.substr(colon + 1));
    char* end = nullptr;
    const unsigned long v = std::strtoul(p.c_str(), &end, 10);
    if (!h || p.empty() || *end != '\0' || v == 0 || v > 65535) return false;
    host = *h;
    port = static_cast<std::uint16_t>(v);
    return true;
}

inline bool parse_port(const char* s, std::uint16_t& port) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
}

/// The servers' --port PORT (for parse_args' `own`).
inline arg_result parse_port_option(const char* prog, int argc, char** argv, int& i, std::uint16_t& port) {
    if (std::string_view(argv[i]) != "--port" || i + 1 >= argc) return arg_result::unknown;
    if (!parse_port(argv[++i], port)) {
        std::fprintf(stderr, "%s: --port: expected 1..65535, got %s\n", prog, argv[i]);
        return arg_result::error;
    }
    return arg_result::consumed;
}

/// parse_args for a server, with --port PORT (required) besides the program's own options.
template <class Own>
std::optional<int> parse_server_args(const program& p, int argc, char** argv, common_options& o, std::uint16_t& port,
                                     Own&& own) {
    const auto stop = parse_args(p, argc, argv, o, [&](std::string_view a, int& i) {
        const arg_result r = parse_port_option(p.name, argc, argv, i, port);
        return r != arg_result::unknown ? r : own(a, i);
    });
    if (stop) return stop;
    if (port == 0) {
        std::fprintf(stderr, "%s: --port PORT is required (see --help)\n", p.name);
        return 2;
    }
    return std::nullopt;
}

} // namespace tun_example
