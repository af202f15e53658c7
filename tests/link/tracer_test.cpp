// The tracer: one tcpdump-style line per packet, either direction, as a link wrapper.
#include <corotcp/link/memory_pipe.hpp>
#include <corotcp/link/tracer.hpp>
#include <corotcp/wire/print.hpp>

#include "test_packets.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace corotcp;
using namespace corotcp::time_literals;

static_assert(corotcp::link<tracer<memory_pipe_end>>);
static_assert(corotcp::link<tracer<tracer<memory_pipe_end>>>);

namespace {
struct captured {
    std::vector<std::string> lines;
    trace_sink sink() {
        return [this](std::string_view line) { lines.emplace_back(line); };
    }
};
} // namespace

TEST_CASE("The tracer prints a transmitted packet as timestamp, '>' and the tcpdump line") {
    auto [a, b] = make_memory_pipe();
    captured out;
    tracer t(a, {.sink = out.sink()});
    const auto syn = link_test::make_tcp({.seq = 1012495606});
    const std::string expected = wire::format_tcpdump(syn.bytes());

    t.transmit(instant::from_micros(123), packet(syn));
    REQUIRE(out.lines.size() == 1);
    CHECK(out.lines[0] == "0.000123 > " + expected);
    CHECK(out.lines[0].find("IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [S], seq 1012495606") != std::string::npos);

    packet_batch batch;
    CHECK(b.receive(instant::from_micros(123), batch) == 1);
    CHECK(batch[0] == syn);
}

TEST_CASE("The tracer marks received packets with '<' and prints the name label") {
    auto [a, b] = make_memory_pipe();
    captured out;
    tracer t(b, {.name = "server", .sink = out.sink()});
    const auto syn = link_test::make_tcp({});
    a.transmit(instant::from_micros(12'345'678), packet(syn));
    a.transmit(instant::from_micros(12'345'678), packet(syn));

    packet_batch batch;
    CHECK(t.receive(instant::from_micros(12'345'678), batch) == 2);
    REQUIRE(out.lines.size() == 2);
    CHECK(out.lines[0] == "12.345678 server < " + wire::format_tcpdump(syn.bytes()));
    CHECK(out.lines[1] == out.lines[0]);
}

TEST_CASE("The tracer traces only the packets a receive call appended") {
    auto [a, b] = make_memory_pipe();
    captured out;
    tracer t(b, {.sink = out.sink()});
    packet_batch batch;
    batch.push_back(link_test::make_tcp({}));
    a.transmit({}, link_test::make_tcp({.sport = 1}));
    CHECK(t.receive({}, batch) == 1);
    REQUIRE(out.lines.size() == 1);
    CHECK(out.lines[0].find("10.0.0.1.1 >") != std::string::npos);
}

TEST_CASE("A disabled tracer forwards everything and prints nothing") {
    auto [a, b] = make_memory_pipe();
    captured out;
    tracer t(a, {.sink = out.sink(), .enabled = false});
    CHECK_FALSE(t.enabled());
    t.transmit({}, link_test::make_tcp({}));
    b.transmit({}, link_test::make_tcp({}));
    packet_batch batch;
    CHECK(t.receive({}, batch) == 1);
    CHECK(b.receive({}, batch) == 1);
    CHECK(out.lines.empty());

    t.enable();
    t.transmit({}, link_test::make_tcp({}));
    CHECK(out.lines.size() == 1);
}

TEST_CASE("The tracer forwards mtu and poll_at of the link it wraps") {
    auto [a, b] = make_memory_pipe({.mtu = 9000, .a_to_b = {.delay = 3_ms}});
    tracer tb(b, {.sink = [](std::string_view) {}});
    CHECK(tb.mtu() == 9000);
    a.transmit({}, link_test::make_tcp({}));
    CHECK(tb.poll_at() == instant{} + 3_ms);
    CHECK(tb.inner().rx().in_flight() == 1);
}

TEST_CASE("Timestamps print with six decimals, negative ones with a sign") {
    std::string s;
    detail::append_timestamp(s, instant::from_micros(0));
    CHECK(s == "0.000000");
    s.clear();
    detail::append_timestamp(s, instant::from_micros(-1'500'000));
    CHECK(s == "-1.500000");
    s.clear();
    detail::append_timestamp(s, instant::from_micros(3'600'000'000'007));
    CHECK(s == "3600000.000007");
}

TEST_CASE("A tracer shows a whole handshake from both ends") {
    auto [a, b] = make_memory_pipe();
    captured out;
    tracer client(a, {.name = "client", .sink = out.sink()});
    tracer server(b, {.name = "server", .sink = out.sink()});
    const auto segs = link_test::sample_connection();
    packet_batch batch;
    client.transmit({}, packet(segs[0]));
    server.receive({}, batch);
    server.transmit(instant::from_micros(10), packet(segs[1]));
    client.receive(instant::from_micros(10), batch);
    REQUIRE(out.lines.size() == 4);
    CHECK(out.lines[0].starts_with("0.000000 client > IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [S]"));
    CHECK(out.lines[1].starts_with("0.000000 server < IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [S]"));
    CHECK(out.lines[2].starts_with("0.000010 server > IP 10.0.0.2.80 > 10.0.0.1.35646: Flags [S.]"));
    CHECK(out.lines[3].starts_with("0.000010 client < IP 10.0.0.2.80 > 10.0.0.1.35646: Flags [S.]"));
}

TEST_CASE("A tracer can wrap a link it does not own") {
    memory_pipe pipe;
    captured out;
    tracer<memory_pipe_end&> t(pipe.end_a(), {.sink = out.sink()});
    static_assert(corotcp::link<decltype(t)>);
    t.transmit({}, link_test::make_tcp({}));
    CHECK(&t.inner() == &pipe.end_a());
    CHECK(pipe.a_to_b().counters().sent == 1);
    CHECK(out.lines.size() == 1);
}
