// scenarios: replays the classic TCP scenarios one after another, each on a fresh pair of stacks,
// printing every segment and every state change so a reader can watch them:
//   1 three-way handshake        4 simultaneous close (both through CLOSING)
//   2 four-way close             5 RST: closed port, and abort()
//   3 simultaneous open          6 TIME_WAIT answering a retransmitted FIN (the last ACK is lost)
// Usage: scenarios [N]   (only scenario N)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "corotcp/corotcp.hpp"

namespace {

using pair_type = corotcp::memory_pair<>;
using corotcp::duration;
using corotcp::task;

/// A pipe with 10 ms of delay each way, so that segments can cross (simultaneous open and close).
corotcp::memory_pair_options traced(bool delayed) {
    corotcp::memory_pair_options o;
    o.trace = true;
    if (delayed) {
        o.pipe.a_to_b.delay = duration::millis(10);
        o.pipe.b_to_a.delay = duration::millis(10);
    }
    return o;
}

void watch(pair_type& net, bool* drop_after_time_wait = nullptr) {
    auto printer = [&net, drop_after_time_wait](const char* who) {
        return [&net, who, drop_after_time_wait](const corotcp::iface::four_tuple& t, corotcp::tcp::state from,
                                                 corotcp::tcp::state to, corotcp::tcp::event why) {
            if (drop_after_time_wait != nullptr && std::string_view(who) == "client" &&
                to == corotcp::tcp::state::time_wait && from != to)
                *drop_after_time_wait = true; // the ACK about to leave is the one we lose
            std::printf("%ld.%06ld   %-6s :%-5u %s -> %s  (%s)\n", static_cast<long>(net.now().us / 1000000),
                        static_cast<long>(net.now().us % 1000000), who, t.local_port,
                        std::string(corotcp::tcp::to_string(from)).c_str(),
                        std::string(corotcp::tcp::to_string(to)).c_str(),
                        std::string(corotcp::tcp::to_string(why)).c_str());
        };
    };
    net.client().on_state_change(printer("client"));
    net.server().on_state_change(printer("server"));
}

void title(const char* t) { std::printf("\n=== %s ===\n", t); }

task<void> accept_one(pair_type::listener l, bool close_after) {
    auto c = co_await l.accept();
    if (c && close_after) {
        std::uint8_t b[16];
        (void)co_await c->read(b); // wait for the client's FIN
        co_await c->shutdown();
    }
}

task<void> handshake(pair_type& net) {
    auto c = co_await net.client().connect(net.server_address(), 80);
    std::printf("connect: %s\n", c ? "established" : c.error().message().c_str());
}

task<void> four_way_close(pair_type& net) {
    auto c = co_await net.client().connect(net.server_address(), 80);
    if (!c) co_return;
    co_await c->shutdown(); // FIN_WAIT_1 -> FIN_WAIT_2
    std::uint8_t b[16];
    (void)co_await c->read(b); // the server's FIN: TIME_WAIT
}

task<void> open_from(pair_type::stack_type& s, corotcp::wire::ipv4_address peer, std::uint16_t from,
                     std::uint16_t to, bool close_too) {
    auto c = co_await s.connect(peer, to, {.local_port = from});
    std::printf("%s:%u connect: %s\n", s.address().to_string().c_str(), from,
                c ? "established" : c.error().message().c_str());
    if (c && close_too) {
        co_await c->shutdown();
        std::uint8_t b[16];
        (void)co_await c->read(b);
    }
}

task<void> resets(pair_type& net) {
    auto refused = co_await net.client().connect(net.server_address(), 81);
    std::printf("connect to a closed port: %s\n", refused ? "?" : refused.error().message().c_str());
    auto c = co_await net.client().connect(net.server_address(), 80);
    if (!c) co_return;
    co_await c->write(std::string_view("data that abort() discards"));
    c->abort();
    std::printf("client aborted\n");
}

task<void> lost_last_ack(pair_type& net) {
    auto c = co_await net.client().connect(net.server_address(), 80);
    if (!c) co_return;
    co_await c->shutdown();
    std::uint8_t b[16];
    (void)co_await c->read(b);
    co_await net.loop().sleep_for(duration::seconds(5));
}

void run(int n) {
    switch (n) {
    case 1: {
        title("1. three-way handshake: SYN, SYN-ACK, ACK");
        pair_type net(traced(false));
        watch(net);
        net.spawn(accept_one(std::move(*net.server().listen(80)), false));
        net.run(handshake(net));
        break;
    }
    case 2: {
        title("2. four-way close: FIN, ACK, FIN, ACK; TIME_WAIT for 2MSL");
        pair_type net(traced(false));
        watch(net);
        net.spawn(accept_one(std::move(*net.server().listen(80)), true));
        net.run(four_way_close(net));
        net.run_for(duration::seconds(61));
        break;
    }
    case 3: {
        title("3. simultaneous open: both SYN_SENT -> SYN_RCVD -> ESTABLISHED, four segments");
        pair_type net(traced(true));
        watch(net);
        net.spawn(open_from(net.server(), net.client_address(), 5000, 4000, false));
        net.run(open_from(net.client(), net.server_address(), 4000, 5000, false));
        net.run_for(duration::millis(100));
        break;
    }
    case 4: {
        title("4. simultaneous close: both FIN_WAIT_1 -> CLOSING -> TIME_WAIT");
        pair_type net(traced(true));
        watch(net);
        net.spawn(open_from(net.server(), net.client_address(), 5000, 4000, true));
        net.run(open_from(net.client(), net.server_address(), 4000, 5000, true));
        net.run_for(duration::seconds(61));
        break;
    }
    case 5: {
        title("5. RST: a closed port refuses; abort() resets");
        pair_type net(traced(false));
        watch(net);
        net.spawn(accept_one(std::move(*net.server().listen(80)), true));
        net.run(resets(net));
        net.run_for(duration::seconds(1));
        break;
    }
    case 6: {
        title("6. TIME_WAIT: the last ACK is lost, the FIN comes again, TIME_WAIT ACKs it and restarts 2MSL");
        pair_type net(traced(false));
        bool drop_next = false;
        watch(net, &drop_next);
        net.pipe().a_to_b().set_filter([&](std::span<const std::uint8_t>) {
            if (!drop_next) return false;
            drop_next = false;
            std::printf("(the pipe loses the next client segment)\n");
            return true;
        });
        net.spawn(accept_one(std::move(*net.server().listen(80)), true));
        net.run(lost_last_ack(net));
        net.run_for(duration::seconds(61));
        break;
    }
    default: break;
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 1) {
        const int n = std::atoi(argv[1]);
        if (n < 1 || n > 6) {
            std::fprintf(stderr, "usage: %s [1-6]\n", argv[0]);
            return 2;
        }
        run(n);
        return 0;
    }
    for (int i = 1; i <= 6; ++i) run(i);
    return 0;
}
