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

const program this_program{
    "echo_server",
    "usage: echo_server --tun NAME --ip ADDR --port PORT [options]\n"
    "A TCP echo server on the corotcp stack, attached to a TUN device.\n\n"
    "  --port PORT        port to listen on (required)\n"
    "  --max-connections N  exit 0 after N connections were served\n",
};

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

} // namespace

int main(int argc, char** argv) {
    common_options o;
    std::uint16_t port = 0;
    unsigned long max_connections = 0;
    const auto stop = parse_server_args(this_program, argc, argv, o, port, [&](std::string_view a, int& i) {
        if (a != "--max-connections" || i + 1 >= argc) return arg_result::unknown;
        max_connections = std::strtoul(argv[++i], nullptr, 10);
        return arg_result::consumed;
    });
    if (stop) return *stop;
    const auto all_served = [&] { return max_connections != 0 && served >= max_connections && active == 0; };
    return run_server(this_program.name, o, port, {}, echo, all_served, [] {});
}
