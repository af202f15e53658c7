// tcp_client: like `nc`, on corotcp through a TUN device.
//
//   tcp_client --tun tun0 --ip 10.0.0.2 --kernel-ip 10.0.0.1/24 --connect 10.0.0.1:7 --send hello
//
// Connects, sends TEXT (or all of stdin), half-closes, prints everything it receives until the peer's
// FIN, and closes. Exit status 0 on a clean end of stream; 1 with a clear message when the connection
// is refused, times out or is reset.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common.hpp"

namespace {

using namespace tun_example;

const program this_program{
    "tcp_client",
    "usage: tcp_client --tun NAME --ip ADDR --connect HOST:PORT [--send TEXT] [options]\n"
    "Like nc: sends TEXT (or stdin), half-closes, prints what it receives until EOF.\n\n"
    "  --connect HOST:PORT  where to connect (required)\n"
    "  --send TEXT        send TEXT instead of stdin\n"
    "  --timeout SECONDS  connect timeout (default 10)\n"
    "  --linger MS        keep the stack running MS milliseconds after the close\n",
};

struct client_options {
    corotcp::wire::ipv4_address host;
    std::uint16_t port = 0;
    std::optional<std::string> text;
    corotcp::duration timeout = corotcp::duration::seconds(10);
    corotcp::duration linger = corotcp::duration::zero();
};

/// Shared by the two halves of the session; owned by main(), so it outlives both tasks.
struct session {
    std::optional<connection> conn;
    bool send_failed = false;
    bool send_done = false;
    bool done = false;
    int status = 1;
};

corotcp::task<void> send_side(loop_type& loop, session& ss, const client_options& c) {
    connection& conn = *ss.conn;
    if (c.text) {
        if (auto ec = co_await conn.write(*c.text)) {
            std::fprintf(stderr, "tcp_client: send: %s\n", ec.message().c_str());
            ss.send_failed = true;
        }
    } else {
        // stdin, without blocking the loop: non-blocking reads, a short sleep when nothing is there.
        const int fl = ::fcntl(0, F_GETFL);
        if (fl >= 0) ::fcntl(0, F_SETFL, fl | O_NONBLOCK);
        std::uint8_t buf[65536];
        for (;;) {
            const ssize_t n = ::read(0, buf, sizeof buf);
            if (n == 0) break;
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    co_await loop.sleep_for(corotcp::duration::millis(2));
                    if (!conn.is_open() || stop_requested) break;
                    continue;
                }
                std::fprintf(stderr, "tcp_client: reading stdin: %s\n", std::strerror(errno));
                ss.send_failed = true;
                break;
            }
            if (auto ec = co_await conn.write(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)))) {
                if (conn.is_open()) std::fprintf(stderr, "tcp_client: send: %s\n", ec.message().c_str());
                ss.send_failed = true;
                break;
            }
        }
        if (fl >= 0) ::fcntl(0, F_SETFL, fl);
    }
    if (!ss.send_failed && conn.is_open()) {
        if (auto ec = co_await conn.shutdown()) {
            if (conn.is_open()) std::fprintf(stderr, "tcp_client: shutdown: %s\n", ec.message().c_str());
            ss.send_failed = true;
        }
    }
    ss.send_done = true;
}

corotcp::task<void> run(loop_type& loop, stack_type& s, const client_options& c, session& ss) {
    const std::string where = c.host.to_string() + ":" + std::to_string(c.port);
    auto conn = co_await s.connect(c.host, c.port, {.timeout = c.timeout});
    if (!conn) {
        const auto ec = conn.error();
        std::fprintf(stderr, "tcp_client: connect to %s: %s\n", where.c_str(),
                     ec == corotcp::errc::operation_timed_out ? "connection timed out" : ec.message().c_str());
        ss.done = true;
        co_return;
    }
    ss.conn.emplace(std::move(*conn));
    s.spawn(send_side(loop, ss, c));

    std::uint8_t buf[65536];
    int status = 0;
    for (;;) {
        auto n = co_await ss.conn->read(buf);
        if (!n) {
            std::fprintf(stderr, "tcp_client: %s: %s\n", where.c_str(), n.error().message().c_str());
            status = 1;
            break;
        }
        if (*n == 0) break;
        if (std::fwrite(buf, 1, *n, stdout) != *n) {
            std::fprintf(stderr, "tcp_client: writing stdout: %s\n", std::strerror(errno));
            status = 1;
            break;
        }
    }
    std::fflush(stdout);
    if (status != 0) ss.conn->abort(); // the send side then fails at once
    // the peer's FIN is in: our side finishes sending (the peer may still read) and is acknowledged
    while (!ss.send_done && !stop_requested) co_await loop.sleep_for(corotcp::duration::millis(1));
    if (ss.send_failed || !ss.send_done) status = 1;
    if (status == 0 && c.linger.us > 0) {
        ss.conn->close(); // the stack finishes the close; its state (TIME_WAIT) stays visible while we linger
        co_await loop.sleep_for(c.linger);
    }
    ss.status = status;
    ss.done = true;
}

} // namespace

int main(int argc, char** argv) {
    common_options o;
    client_options c;
    bool have_target = false;
    const auto stop = parse_args(this_program, argc, argv, o, [&](std::string_view a, int& i) {
        if (i + 1 >= argc) return arg_result::unknown; // every option of its own takes a value
        if (a == "--connect") {
            if (!parse_host_port(argv[++i], c.host, c.port)) {
                std::fprintf(stderr, "tcp_client: --connect: expected IPv4:PORT, got %s\n", argv[i]);
                return arg_result::error;
            }
            have_target = true;
        } else if (a == "--send") {
            c.text = argv[++i];
        } else if (a == "--timeout") {
            const double t = std::atof(argv[++i]);
            if (t <= 0) {
                std::fprintf(stderr, "tcp_client: --timeout: expected seconds > 0, got %s\n", argv[i]);
                return arg_result::error;
            }
            c.timeout = corotcp::duration::micros(static_cast<std::int64_t>(t * 1e6));
        } else if (a == "--linger") {
            c.linger = corotcp::duration::millis(std::atol(argv[++i]));
        } else {
            return arg_result::unknown;
        }
        return arg_result::consumed;
    });
    if (stop) return *stop;
    if (!have_target) {
        std::fprintf(stderr, "tcp_client: --connect HOST:PORT is required (see --help)\n");
        return 2;
    }
    install_signal_handlers();
    loop_type loop;
    auto stack = open_stack("tcp_client", loop, o);
    if (!stack) return 1;
    std::fprintf(stderr, "connecting to %s:%u from %s\n", c.host.to_string().c_str(), c.port, o.ip->to_string().c_str());
    session ss;
    stack->spawn(run(loop, *stack, c, ss));
    if (!run_until(loop, [&] { return ss.done; })) {
        std::fprintf(stderr, "tcp_client: interrupted\n");
        ss.status = 1;
    }
    if (o.verbose) print_link_stats("tcp_client", *stack);
    loop.destroy_spawned();
    ss.conn.reset();
    return ss.status;
}
