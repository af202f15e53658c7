// memory_bench: what connections cost. Opens N idle established connections between two stacks
// over the in-memory pipe and measures the heap (glibc mallinfo2) before and after; then closes
// them so the client side holds N TIME_WAIT records, and measures again.
//   idle_connection       bytes of heap per established connection end, with no data buffered
//   idle_connection_min   the same with minimal (4 KiB) buffer settings
//   time_wait_entry       bytes per compact TIME_WAIT record
//   100k_idle             heap to hold 100,000 idle connections in one stack (extrapolated per end)
// Usage: memory_bench [--connections N]
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "corotcp/corotcp.hpp"

namespace {

using pair_type = corotcp::memory_pair<>;

// Heap held by live objects: glibc's count less the blocks corotcp's per-thread free lists keep for
// reuse (coroutine frames, buffers, sockets, ...: bounded caches, not part of any connection).
std::size_t heap_in_use() { return mallinfo2().uordblks - corotcp::detail::recycled_bytes(); }

corotcp::task<void> accept_all(pair_type::listener& l, std::vector<pair_type::connection>& keep, std::size_t n) {
    while (keep.size() < n) {
        auto c = co_await l.accept();
        if (!c) co_return;
        keep.push_back(std::move(*c));
    }
}

corotcp::task<void> connect_all(pair_type& net, std::vector<pair_type::connection>& keep, std::size_t n,
                                std::uint16_t port) {
    while (keep.size() < n) {
        auto c = co_await net.client().connect(net.server_address(), port);
        if (!c) {
            std::fprintf(stderr, "connect failed: %s\n", c.error().message().c_str());
            co_return;
        }
        keep.push_back(std::move(*c));
    }
}

struct result {
    double per_end = 0;
    double per_time_wait = 0;
};

result measure(std::size_t n, std::size_t buffer) {
    corotcp::memory_pair_options o;
    for (auto* s : {&o.client, &o.server}) {
        s->tcp.send_buffer = buffer;
        s->tcp.recv_buffer = buffer;
        s->local_port_low = 1024;
        s->local_port_high = 65535;
    }
    pair_type net(o);
    auto l = net.server().listen(80, {.backlog = n + 16});
    std::vector<pair_type::connection> clients;
    std::vector<pair_type::connection> servers;
    clients.reserve(n);
    servers.reserve(n);
    const std::size_t before = heap_in_use();
    net.spawn(accept_all(*l, servers, n));
    net.run(connect_all(net, clients, n, 80));
    net.run_until([&] { return servers.size() == n; }, corotcp::duration::seconds(10));
    const std::size_t open = heap_in_use();
    result r;
    r.per_end = static_cast<double>(open - before) / static_cast<double>(2 * n);
    // Active close from the client side: the client keeps N TIME_WAIT records, the server frees all.
    for (auto& c : clients) c.close();
    net.run_for(corotcp::duration::millis(10));
    servers.clear();
    net.run_for(corotcp::duration::seconds(1));
    clients.clear();
    clients.shrink_to_fit();
    servers.shrink_to_fit();
    const std::size_t tw = heap_in_use();
    const std::size_t records = net.client().iface().time_wait_count();
    // What remains beyond `before` is the TIME_WAIT table (plus hash buckets the tables kept).
    r.per_time_wait = records == 0 ? 0 : static_cast<double>(tw > before ? tw - before : 0) / static_cast<double>(records);
    return r;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t n = 20000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--connections") == 0 && i + 1 < argc) n = static_cast<std::size_t>(std::atol(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--connections N]\n", argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    const result def = measure(n, 128 * 1024);
    const result min = measure(n, 4096);
    std::printf("idle_connection %.0f bytes  # per established end, default 128 KiB buffers (allocated lazily), "
                "%zu connections\n", def.per_end, n);
    std::printf("idle_connection_min %.0f bytes  # per established end, 4 KiB buffers\n", min.per_end);
    std::printf("time_wait_entry %.0f bytes  # per compact TIME_WAIT record, incl. table overhead\n", def.per_time_wait);
    std::printf("100k_idle %.1f MiB  # one stack holding 100,000 idle connections (default buffers)\n",
                def.per_end * 100000 / 1048576.0);
    return 0;
}
