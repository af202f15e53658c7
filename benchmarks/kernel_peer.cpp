// kernel_peer: the Linux kernel's side of the TUN benchmark (scripts/tun_bench.sh), plain BSD sockets,
// one thread, no allocation on the data path. The same program is the kernel client that drives
// corotcp's tun_bench over a TUN device and, for the kernel <-> kernel baseline over a veth pair, both
// the client and the server, so that every figure is produced by the same work on both paths.
//
//   kernel_peer server --mode M --bind ADDR --port P [--seconds S]   (the mirror of tun_bench)
//   kernel_peer client --mode M --connect ADDR:PORT --seconds S
//   kernel_peer offloads DEV on|off   (ethtool -K DEV tx/rx/sg/tso/gso/gro, without ethtool)
//
// The modes are named from the server's side, as tun_bench's are:
//   bulk-rx  the client writes 64 KiB blocks for S seconds, half-closes, waits for the server's EOF;
//            the server reads (64 KiB reads) to EOF and closes.
//   bulk-tx  the server writes 64 KiB blocks for S seconds, half-closes, reads to the client's EOF;
//            the client reads to EOF and closes.
//   rr       64 B request / 64 B response on one connection, TCP_NODELAY, for S seconds (client).
//   conn     sequential short connections for S seconds: connect, 64 B request, 64 B echo, the server
//            closes, the client aborts (SO_LINGER 0: RST, no TIME-WAIT on either side, as the peers of
//            ../shared/PEERS.md do). The client's last request starts with 0xFF: the server stops there.
// Both sides print one line in the project's format, `name value unit  # details`; the server's line
// (name `<prefix>_<figure>`, prefix from --name, default "kernel") is the figure tun_bench.sh reports,
// the client's (`<prefix>_<figure>_client`) is a cross-check. The server times from accept() to the
// end of the exchange (the peer's EOF, or the marked last connection). Every run ends: --limit
// seconds (default 120) after the start an alarm kills the process.
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::string role;     // server | client
    std::string mode;     // bulk-rx | bulk-tx | rr | conn
    std::string address;  // server: bind; client: connect
    std::uint16_t port = 5201;
    double seconds = 3.0;
    unsigned limit = 120;
    std::string name = "kernel";
};

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "kernel_peer: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

sockaddr_in make_addr(const std::string& ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
        std::fprintf(stderr, "kernel_peer: not an IPv4 address: %s\n", ip.c_str());
        std::exit(2);
    }
    return a;
}

void set_int(int fd, int level, int opt, int v) {
    if (setsockopt(fd, level, opt, &v, sizeof v) < 0) die("setsockopt");
}

/// Writes all of buf; false if the connection failed.
bool write_all(int fd, const std::uint8_t* buf, std::size_t n) {
    while (n > 0) {
        const ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        buf += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

/// Reads exactly n bytes unless the stream ends first; returns how many were read (-1 on error).
ssize_t read_exactly(int fd, std::uint8_t* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::recv(fd, buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return static_cast<ssize_t>(got);
}

/// Reads and discards until EOF; returns the bytes read (stops at an error too).
std::uint64_t drain(int fd, std::vector<std::uint8_t>& buf) {
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        total += static_cast<std::uint64_t>(r);
    }
    return total;
}

/// Writes 64 KiB blocks for `seconds`; returns the bytes written.
std::uint64_t source(int fd, const std::vector<std::uint8_t>& buf, double seconds) {
    std::uint64_t total = 0;
    const auto t0 = clock_type::now();
    while (since(t0) < seconds) {
        if (!write_all(fd, buf.data(), buf.size())) break;
        total += buf.size();
    }
    return total;
}

void print_figure(const options& o, bool client, double value, const char* unit, const std::string& details) {
    const char* figure = o.mode == "bulk-rx" ? "bulk_rx" : o.mode == "bulk-tx" ? "bulk_tx" : o.mode == "rr" ? "rr" : "conn";
    std::printf("%s_%s%s %.*f %s  # %s\n", o.name.c_str(), figure, client ? "_client" : "",
                unit[0] == 'G' ? 2 : 0, value, unit, details.c_str());
    std::fflush(stdout);
}

std::string bulk_details(std::uint64_t bytes, double s, double cpu) {
    char d[160];
    std::snprintf(d, sizeof d, "%.1f MiB in %.2f s, 64 KiB writes, kernel socket buffers (autotuned), cpu %.2f s",
                  static_cast<double>(bytes) / 1048576.0, s, cpu);
    return d;
}

std::string count_details(std::uint64_t n, double s, double cpu, const char* what) {
    char d[200];
    std::snprintf(d, sizeof d, "%llu %s; %.2f s, cpu %.2f s", static_cast<unsigned long long>(n), what, s, cpu);
    return d;
}

// --- server ----------------------------------------------------------------------------------------

int run_server(const options& o) {
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0) die("socket");
    set_int(l, SOL_SOCKET, SO_REUSEADDR, 1);
    set_int(l, IPPROTO_TCP, TCP_NODELAY, 1); // inherited by accepted sockets
    const sockaddr_in a = make_addr(o.address, o.port);
    if (::bind(l, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0) die("bind");
    if (::listen(l, 1024) < 0) die("listen");
    std::printf("listening on %s:%u\n", o.address.c_str(), o.port);
    std::fflush(stdout);

    std::vector<std::uint8_t> buf(64 * 1024, 0x5a);
    std::uint8_t msg[64];
    clock_type::time_point t0;
    double cpu0 = 0;
    const auto start = [&] {
        t0 = clock_type::now();
        cpu0 = cpu_seconds();
    };
    const auto accept_one = [&] {
        const int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) die("accept");
        return c;
    };

    if (o.mode == "conn") {
        std::uint64_t n = 0;
        for (;;) {
            const int c = accept_one();
            if (n == 0) start();
            const ssize_t r = read_exactly(c, msg, sizeof msg);
            if (r == static_cast<ssize_t>(sizeof msg)) write_all(c, msg, sizeof msg);
            ::close(c);
            ++n;
            if (r > 0 && msg[0] == 0xFF) break;
        }
        const double s = since(t0);
        print_figure(o, false, static_cast<double>(n) / s, "connections/s",
                     count_details(n, s, cpu_seconds() - cpu0, "connections (64 B echo, server closes, client RST)"));
        return 0;
    }

    const int c = accept_one();
    start();
    if (o.mode == "bulk-rx") {
        const std::uint64_t bytes = drain(c, buf);
        const double s = since(t0);
        print_figure(o, false, static_cast<double>(bytes) * 8 / s / 1e9, "Gbit/s", bulk_details(bytes, s, cpu_seconds() - cpu0));
    } else if (o.mode == "bulk-tx") {
        const std::uint64_t bytes = source(c, buf, o.seconds);
        ::shutdown(c, SHUT_WR);
        drain(c, buf); // the client's EOF: it has everything
        const double s = since(t0);
        print_figure(o, false, static_cast<double>(bytes) * 8 / s / 1e9, "Gbit/s", bulk_details(bytes, s, cpu_seconds() - cpu0));
    } else { // rr
        std::uint64_t n = 0;
        while (read_exactly(c, msg, sizeof msg) == static_cast<ssize_t>(sizeof msg)) {
            if (!write_all(c, msg, sizeof msg)) break;
            ++n;
        }
        const double s = since(t0);
        print_figure(o, false, static_cast<double>(n) / s, "round-trips/s",
                     count_details(n, s, cpu_seconds() - cpu0, "64 B round trips, TCP_NODELAY"));
    }
    ::close(c);
    ::close(l);
    return 0;
}

// --- client ----------------------------------------------------------------------------------------

int connect_to(const sockaddr_in& a) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0) die("socket");
    set_int(c, IPPROTO_TCP, TCP_NODELAY, 1);
    if (::connect(c, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0) die("connect");
    return c;
}

int run_client(const options& o) {
    const sockaddr_in a = make_addr(o.address, o.port);
    std::vector<std::uint8_t> buf(64 * 1024, 0xa5);
    std::uint8_t msg[64] = {};
    const double cpu0 = cpu_seconds();
    const auto t0 = clock_type::now();

    if (o.mode == "conn") {
        std::uint64_t n = 0;
        for (bool last = false; !last; ++n) {
            last = since(t0) >= o.seconds;
            const int c = connect_to(a);
            msg[0] = last ? 0xFF : 0;
            if (!write_all(c, msg, sizeof msg) || read_exactly(c, msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) {
                std::fprintf(stderr, "kernel_peer: connection %llu: no echo\n", static_cast<unsigned long long>(n));
                return 1;
            }
            const linger lg{1, 0}; // abort: RST, no TIME-WAIT
            if (setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0) die("setsockopt SO_LINGER");
            ::close(c);
        }
        const double s = since(t0);
        print_figure(o, true, static_cast<double>(n) / s, "connections/s",
                     count_details(n, s, cpu_seconds() - cpu0, "connections, client view"));
        return 0;
    }

    const int c = connect_to(a);
    if (o.mode == "bulk-rx") {
        const std::uint64_t bytes = source(c, buf, o.seconds);
        ::shutdown(c, SHUT_WR);
        drain(c, buf); // the server's EOF: it read everything
        const double s = since(t0);
        print_figure(o, true, static_cast<double>(bytes) * 8 / s / 1e9, "Gbit/s", bulk_details(bytes, s, cpu_seconds() - cpu0));
    } else if (o.mode == "bulk-tx") {
        const std::uint64_t bytes = drain(c, buf);
        const double s = since(t0);
        print_figure(o, true, static_cast<double>(bytes) * 8 / s / 1e9, "Gbit/s", bulk_details(bytes, s, cpu_seconds() - cpu0));
    } else { // rr
        std::uint64_t n = 0;
        while ((n & 63) != 0 || since(t0) < o.seconds) {
            if (!write_all(c, msg, sizeof msg) || read_exactly(c, msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) {
                std::fprintf(stderr, "kernel_peer: rr: the connection failed after %llu round trips\n",
                             static_cast<unsigned long long>(n));
                return 1;
            }
            ++n;
        }
        const double s = since(t0);
        print_figure(o, true, static_cast<double>(n) / s, "round-trips/s",
                     count_details(n, s, cpu_seconds() - cpu0, "64 B round trips, client view"));
    }
    ::close(c);
    return 0;
}

// --- offloads ----------------------------------------------------------------------------------------

/// Turns the usual offloads of a device on or off with the legacy ethtool ioctls (what `ethtool -K DEV
/// rx/tx/sg/tso/gso/gro on|off` does). Features a device cannot change are reported, not fatal.
int set_offloads(const std::string& dev, bool on) {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    struct feature {
        const char* name;
        std::uint32_t cmd;
    };
    // Order matters when turning on: TSO needs SG, SG needs TX checksumming; reversed when turning off.
    const feature features[] = {{"rx", ETHTOOL_SRXCSUM}, {"tx", ETHTOOL_STXCSUM}, {"sg", ETHTOOL_SSG},
                                {"tso", ETHTOOL_STSO},   {"gso", ETHTOOL_SGSO},   {"gro", ETHTOOL_SGRO}};
    const int n = static_cast<int>(std::size(features));
    int failures = 0;
    for (int k = 0; k < n; ++k) {
        const feature& f = features[on ? k : n - 1 - k];
        ethtool_value v{};
        v.cmd = f.cmd;
        v.data = on ? 1 : 0;
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
        ifr.ifr_data = reinterpret_cast<char*>(&v);
        if (::ioctl(s, SIOCETHTOOL, &ifr) < 0) {
            std::fprintf(stderr, "kernel_peer: %s: cannot turn %s %s: %s\n", dev.c_str(), f.name, on ? "on" : "off",
                         std::strerror(errno));
            ++failures;
        }
    }
    ::close(s);
    return failures == 0 ? 0 : 1;
}

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: kernel_peer server --mode MODE --bind ADDR [--port P] [--seconds S] [--name PREFIX] [--limit S]\n"
                 "       kernel_peer client --mode MODE --connect ADDR[:PORT] [--seconds S] [--name PREFIX] [--limit S]\n"
                 "       kernel_peer offloads DEV on|off\n"
                 "The kernel's side of the TUN benchmark (see scripts/tun_bench.sh). MODE: bulk-rx | bulk-tx | rr | conn,\n"
                 "named from the server's side (bulk-rx: the server receives). Prints `name value unit  # details`.\n"
                 "  --seconds S   how long the driving side runs (client; server in bulk-tx), default 3\n"
                 "  --port P      default 5201\n"
                 "  --name PREFIX figure name prefix, default kernel\n"
                 "  --limit S     an alarm ends the process after S seconds, default 120\n");
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 4 && std::strcmp(argv[1], "offloads") == 0) {
        const std::string_view v = argv[3];
        if (v != "on" && v != "off") {
            usage(stderr);
            return 2;
        }
        return set_offloads(argv[2], v == "on");
    }
    if (argc < 2 || (std::strcmp(argv[1], "server") != 0 && std::strcmp(argv[1], "client") != 0)) {
        usage(stderr);
        return 2;
    }
    options o;
    o.role = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "kernel_peer: %s needs a value (see --help)\n", argv[i]);
            return 2;
        }
        const char* v = argv[++i];
        if (a == "--mode") o.mode = v;
        else if (a == "--bind" || a == "--connect") {
            o.address = v;
            if (const auto colon = o.address.find(':'); colon != std::string::npos) {
                o.port = static_cast<std::uint16_t>(std::atoi(o.address.c_str() + colon + 1));
                o.address.resize(colon);
            }
        } else if (a == "--port") o.port = static_cast<std::uint16_t>(std::atoi(v));
        else if (a == "--seconds") o.seconds = std::atof(v);
        else if (a == "--limit") o.limit = static_cast<unsigned>(std::atoi(v));
        else if (a == "--name") o.name = v;
        else {
            std::fprintf(stderr, "kernel_peer: unknown option %s (see --help)\n", argv[i - 1]);
            return 2;
        }
    }
    if (o.mode != "bulk-rx" && o.mode != "bulk-tx" && o.mode != "rr" && o.mode != "conn") {
        std::fprintf(stderr, "kernel_peer: --mode must be bulk-rx, bulk-tx, rr or conn\n");
        return 2;
    }
    if (o.address.empty() || o.port == 0 || !(o.seconds > 0) || o.limit == 0) {
        std::fprintf(stderr, "kernel_peer: needs --bind/--connect ADDR, a port, --seconds > 0 and --limit > 0\n");
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    alarm(o.limit); // SIGALRM's default action ends the process: no run hangs
    return o.role == "server" ? run_server(o) : run_client(o);
}
