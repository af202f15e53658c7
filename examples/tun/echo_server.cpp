// echo_server: a TCP echo server on corotcp, reached by the kernel through a TUN device.
//
//   echo_server --tun tun0 --ip 10.0.0.2 --port 7 --kernel-ip 10.0.0.1/24
//   socat - TCP:10.0.0.2:7
//
// Echoes every byte of every connection; when a client half-closes, finishes echoing and closes.
// Runs until SIGINT/SIGTERM (or --max-connections N served), then exits 0.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "common.hpp"

namespace {

using namespace tun_example;

int active = 0;
unsigned long served = 0;

corotcp::task<void> echo(connection conn) {
    ++active;
    std::uint8_t buf[16384];
    for (;;) {
        auto n = co_await conn.read(buf);
        if (!n || *n == 0) break; // error or the client's FIN
        if (co_await conn.write(std::span<const std::uint8_t>(buf, *n))) break;
    }
    co_await conn.shutdown();
    --active;
    ++served;
}

corotcp::task<void> serve(stack_type& s, stack_type::listener l) {
    for (;;) {
        auto conn = co_await l.accept();
        if (!conn) {
            std::fprintf(stderr, "echo_server: accept: %s\n", conn.error().message().c_str());
            break;
        }
        s.spawn(echo(std::move(*conn)));
    }
}

void usage(FILE* f) {
    std::fprintf(f,
                 "usage: echo_server --tun NAME --ip ADDR --port PORT [options]\n"
                 "A TCP echo server on the corotcp stack, attached to a TUN device.\n\n"
                 "  --port PORT        port to listen on (required)\n"
                 "  --max-connections N  exit 0 after N connections were served\n%s",
                 common_usage);
}

} // namespace

int main(int argc, char** argv) {
    common_options o;
    std::uint16_t port = 0;
    unsigned long max_connections = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return 0;
        }
        if (a == "--port" && i + 1 < argc) {
            if (!parse_port(argv[++i], port)) {
                std::fprintf(stderr, "echo_server: --port: expected 1..65535, got %s\n", argv[i]);
                return 2;
            }
            continue;
        }
        if (a == "--max-connections" && i + 1 < argc) {
            max_connections = std::strtoul(argv[++i], nullptr, 10);
            continue;
        }
        const auto r = parse_common("echo_server", argc, argv, i, o);
        if (r == arg_result::error) return 2;
        if (r == arg_result::unknown) {
            std::fprintf(stderr, "echo_server: unknown option %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (port == 0) {
        std::fprintf(stderr, "echo_server: --port PORT is required (see --help)\n");
        return 2;
    }
    install_signal_handlers();
    loop_type loop;
    auto stack = open_stack("echo_server", loop, o);
    if (!stack) return 1;
    auto listener = stack->listen(port);
    if (!listener) {
        std::fprintf(stderr, "echo_server: listen on port %u: %s\n", port, listener.error().message().c_str());
        return 1;
    }
    stack->spawn(serve(*stack, std::move(*listener)));
    std::printf("listening on %s:%u\n", o.ip->to_string().c_str(), port);
    std::fflush(stdout);
    run_until(loop, [&] { return max_connections != 0 && served >= max_connections && active == 0; });
    if (o.verbose) print_link_stats("echo_server", *stack);
    loop.destroy_spawned();
    return 0;
}
