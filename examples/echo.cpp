// echo: a coroutine echo server and a few clients, each on its own corotcp stack, over the
// in-memory pipe. Every client sends lines, reads each echo back, checks it, and closes; the
// server echoes until it reads EOF, then closes its side.
//
// Usage: echo [--clients N] [--lines N] [--trace]
#include <cstdio>
#include <cstring>
#include <string>

#include "corotcp/corotcp.hpp"

namespace {

using pair_type = corotcp::memory_pair<>;

corotcp::task<void> echo_session(pair_type::connection conn) {
    std::uint8_t buf[4096];
    for (;;) {
        auto n = co_await conn.read(buf);
        if (!n || *n == 0) break; // error or the client's FIN
        if (co_await conn.write(std::span<const std::uint8_t>(buf, *n))) break;
    }
    co_await conn.shutdown();
}

corotcp::task<void> echo_server(pair_type& net, pair_type::listener l, int sessions) {
    for (int i = 0; i < sessions; ++i) {
        auto conn = co_await l.accept();
        if (!conn) break;
        net.spawn(echo_session(std::move(*conn)));
    }
}

corotcp::task<int> echo_client(pair_type& net, int id, int lines) {
    auto conn = co_await net.client().connect(net.server_address(), 7);
    if (!conn) {
        std::printf("client %d: connect: %s\n", id, conn.error().message().c_str());
        co_return 1;
    }
    for (int i = 0; i < lines; ++i) {
        const std::string line = "client " + std::to_string(id) + " line " + std::to_string(i) + "\n";
        if (auto ec = co_await conn->write(line)) co_return 1;
        std::string echoed(line.size(), '\0');
        auto n = co_await conn->read_exactly({reinterpret_cast<std::uint8_t*>(echoed.data()), echoed.size()});
        if (!n || echoed != line) {
            std::printf("client %d: bad echo\n", id);
            co_return 1;
        }
    }
    co_await conn->shutdown();
    std::uint8_t rest[16];
    auto eof = co_await conn->read(rest); // the server's FIN
    std::printf("client %d: %d lines echoed, end of stream %s, state %s\n", id, lines,
                eof && *eof == 0 ? "seen" : "missing", std::string(corotcp::tcp::to_string(conn->state())).c_str());
    co_return eof && *eof == 0 ? 0 : 1;
}

corotcp::task<int> all_clients(pair_type& net, int clients, int lines) {
    int failures = 0;
    for (int i = 0; i < clients; ++i) failures += co_await echo_client(net, i, lines);
    co_return failures;
}

} // namespace

int main(int argc, char** argv) {
    int clients = 3;
    int lines = 5;
    bool trace = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--clients") == 0 && i + 1 < argc) clients = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--lines") == 0 && i + 1 < argc) lines = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--trace") == 0) trace = true;
        else {
            std::fprintf(stderr, "usage: %s [--clients N] [--lines N] [--trace]\n", argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    pair_type net({.trace = trace});
    auto listener = net.server().listen(7);
    if (!listener) return 1;
    net.spawn(echo_server(net, std::move(*listener), clients));
    const int failures = net.run(all_clients(net, clients, lines));
    net.run_for(corotcp::duration::seconds(61)); // let every TIME_WAIT expire
    std::printf("%d client(s), %d failure(s); connections left: client %zu, server %zu\n", clients, failures,
                net.client().iface().connection_count() + net.client().iface().time_wait_count(),
                net.server().iface().connection_count());
    return failures == 0 ? 0 : 1;
}
