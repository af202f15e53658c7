// http_demo: an HTTP/1.1 server and client, each on its own corotcp stack, joined by the in-memory
// pipe, on the virtual clock. Prints every segment tcpdump-style, interleaved with both ends'
// state changes, from the client's SYN to the client's TIME_WAIT ending 2MSL (60 s of virtual
// time) later in CLOSED. Run: bash scripts/demo.sh   (or build/<preset>/examples/http_demo)
//
// Options: --pcap FILE   also write the exchange as a pcap file (open it with tshark/Wireshark)
//          --quiet       no segment trace, only state changes and the response
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "corotcp/corotcp.hpp"
#include "http.hpp"

namespace {

using pair_type = corotcp::memory_pair<>;

const char* page = "<!doctype html><title>corotcp</title><h1>Hello from corotcp</h1>\n";

corotcp::task<void> server(pair_type::listener l) {
    auto conn = co_await l.accept();
    if (!conn) {
        std::printf("server: accept failed: %s\n", conn.error().message().c_str());
        co_return;
    }
    co_await http_example::serve(std::move(*conn), page);
}

corotcp::task<int> client(pair_type& net) {
    auto conn = co_await net.client().connect(net.server_address(), 80);
    if (!conn) {
        std::printf("client: connect failed: %s\n", conn.error().message().c_str());
        co_return 1;
    }
    auto r = co_await http_example::get(*conn, "10.0.0.2", "/");
    if (!r) {
        std::printf("client: GET failed: %s\n", r.error().message().c_str());
        co_return 1;
    }
    std::printf("\n--- client received HTTP %u, %zu bytes of body:\n%s---\n\n", r->status, r->body.size(),
                r->body.c_str());
    conn->close(); // active close: this end will hold TIME_WAIT
    co_return r->status == 200 ? 0 : 1;
}

void print_state(const char* who, const corotcp::iface::four_tuple& t, corotcp::tcp::state from,
                 corotcp::tcp::state to, corotcp::tcp::event why, corotcp::instant now) {
    std::printf("%ld.%06ld   %-6s %s:%u  %s -> %s  (%s)\n", static_cast<long>(now.us / 1000000),
                static_cast<long>(now.us % 1000000), who, t.local.to_string().c_str(), t.local_port,
                std::string(corotcp::tcp::to_string(from)).c_str(), std::string(corotcp::tcp::to_string(to)).c_str(),
                std::string(corotcp::tcp::to_string(why)).c_str());
}

} // namespace

int main(int argc, char** argv) {
    bool quiet = false;
    std::optional<std::string> pcap_path;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (std::strcmp(argv[i], "--pcap") == 0 && i + 1 < argc) {
            pcap_path = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--quiet] [--pcap FILE]\n", argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    std::optional<corotcp::pcap_writer> pcap;
    if (pcap_path) pcap.emplace(std::filesystem::path(*pcap_path));

    pair_type* netp = nullptr;
    pair_type net({.trace = !quiet, .sink = [&](std::string_view line) {
                       std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
                   }});
    netp = &net;
    if (pcap) {
        net.pipe().a_to_b().set_filter([&](std::span<const std::uint8_t> p) {
            pcap->write(netp->now(), p);
            return false;
        });
        net.pipe().b_to_a().set_filter([&](std::span<const std::uint8_t> p) {
            pcap->write(netp->now(), p);
            return false;
        });
    }
    net.client().on_state_change([&](const auto& t, auto from, auto to, auto why) {
        print_state("client", t, from, to, why, net.now());
    });
    net.server().on_state_change([&](const auto& t, auto from, auto to, auto why) {
        print_state("server", t, from, to, why, net.now());
    });

    std::printf("corotcp http_demo: client 10.0.0.1 -> server 10.0.0.2:80 over the in-memory pipe\n\n");
    auto listener = net.server().listen(80);
    if (!listener) {
        std::fprintf(stderr, "listen failed: %s\n", listener.error().message().c_str());
        return 1;
    }
    net.spawn(server(std::move(*listener)));
    const int rc = net.run(client(net));
    // Let TIME_WAIT run its 2MSL course (virtual time: instant in wall time).
    net.run_for(corotcp::duration::seconds(61));
    std::printf("\nnetstat (client) after 61 s:\n%s", net.client().netstat().c_str());
    if (pcap_path) std::printf("pcap written to %s (%llu packets)\n", pcap_path->c_str(),
                               static_cast<unsigned long long>(pcap->records()));
    return rc;
}
