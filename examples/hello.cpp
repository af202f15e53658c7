// hello: the README's example, compiled so that it cannot rot.
#include <corotcp/corotcp.hpp>
#include <cstdio>
using namespace corotcp;
using net_t = memory_pair<>; // two stacks, one in-memory pipe, a virtual clock

task<void> echo(net_t::listener l) {
    auto conn = co_await l.accept();             // expected<connection>
    std::uint8_t buf[1024];
    for (auto n = co_await conn->read(buf); n && *n > 0; n = co_await conn->read(buf))
        co_await conn->write(std::span(buf, *n)); // *n == 0: the peer's FIN
}

task<void> hello(net_t& net) {
    auto conn = co_await net.client().connect(net.server_address(), 7);
    co_await conn->write("hello, TCP");
    std::uint8_t buf[10];
    if (auto n = co_await conn->read_exactly(buf); n && *n == sizeof buf)
        std::printf("%.10s\n", reinterpret_cast<const char*>(buf));
}

int main() {
    net_t net;
    net.spawn(echo(std::move(*net.server().listen(7))));
    net.run(hello(net));
}
