// The memory pipe without faults: a lossless, zero-copy, FIFO wire between two ends.
#include <corotcp/link/concept.hpp>
#include <corotcp/link/memory_pipe.hpp>
#include <corotcp/link/packet.hpp>

#include "test_packets.hpp"

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

using namespace corotcp;
using namespace corotcp::time_literals;
using link_test::delivery;
using link_test::numbered;
using link_test::number_of;

static_assert(corotcp::link<memory_pipe_end>);
static_assert(!std::is_copy_constructible_v<pipe_channel>);

TEST_CASE("A packet moves without copying its bytes and keeps its capacity when cleared") {
    packet p(1500);
    const auto* bytes = p.data();
    packet q = std::move(p);
    CHECK(q.data() == bytes);
    CHECK(q.size() == 1500);
    q.clear();
    CHECK(q.empty());
    CHECK(q.capacity() >= 1500);
    q.resize(40);
    CHECK(q.data() == bytes);
    CHECK(q.bytes().size() == 40);
}

TEST_CASE("packet::copy_of copies the bytes it is given") {
    const std::uint8_t raw[] = {1, 2, 3};
    auto p = packet::copy_of(raw);
    REQUIRE(p.size() == 3);
    CHECK(p.data() != raw);
    CHECK(p.bytes()[2] == 3);
    CHECK(p == packet::copy_of(raw));
}

TEST_CASE("A packet transmitted on one end is received on the other at the same instant, not copied") {
    auto [a, b] = make_memory_pipe();
    auto p = numbered(7, 100);
    const auto* bytes = p.data();
    const instant now = instant::from_micros(42);

    a.transmit(now, std::move(p));
    CHECK(b.poll_at() == now);

    packet_batch out;
    REQUIRE(b.receive(now, out) == 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].data() == bytes);
    CHECK(number_of(out[0]) == 7);
    CHECK(b.poll_at() == instant::never());
}

TEST_CASE("What one end transmits only the other end receives, in both directions") {
    memory_pipe pipe;
    auto& a = pipe.end_a();
    auto& b = pipe.end_b();
    a.transmit({}, numbered(1));
    b.transmit({}, numbered(2));

    packet_batch out;
    REQUIRE(a.receive({}, out) == 1);
    CHECK(number_of(out[0]) == 2);
    out.clear();
    REQUIRE(b.receive({}, out) == 1);
    CHECK(number_of(out[0]) == 1);
    CHECK(pipe.a_to_b().counters().delivered == 1);
    CHECK(pipe.b_to_a().counters().delivered == 1);
    CHECK(&a.tx() == &pipe.a_to_b());
    CHECK(&b.rx() == &pipe.a_to_b());
}

TEST_CASE("Without faults packets arrive in the order they were sent") {
    auto [a, b] = make_memory_pipe();
    for (std::uint32_t i = 0; i < 1000; ++i) a.transmit(instant::from_micros(i / 10), numbered(i));
    const auto got = link_test::drain(b, instant::from_micros(100));
    REQUIRE(got.size() == 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) CHECK(got[i].number == i);
}

TEST_CASE("receive appends to the batch and leaves what it already holds in place") {
    auto [a, b] = make_memory_pipe();
    packet_batch out;
    out.push_back(numbered(99));
    a.transmit({}, numbered(1));
    a.transmit({}, numbered(2));
    CHECK(b.receive({}, out) == 2);
    REQUIRE(out.size() == 3);
    CHECK(number_of(out[0]) == 99);
    CHECK(number_of(out[1]) == 1);
    CHECK(number_of(out[2]) == 2);
    CHECK(b.receive({}, out) == 0);
}

TEST_CASE("A packet larger than the MTU is dropped and counted, one of exactly the MTU passes") {
    auto [a, b] = make_memory_pipe({.mtu = 576});
    CHECK(a.mtu() == 576);
    a.transmit({}, numbered(1, 577));
    a.transmit({}, numbered(2, 576));
    packet_batch out;
    REQUIRE(b.receive({}, out) == 1);
    CHECK(number_of(out[0]) == 2);
    const auto& c = a.tx().counters();
    CHECK(c.sent == 2);
    CHECK(c.delivered == 1);
    CHECK(c.dropped.mtu == 1);
    CHECK(c.dropped.total() == 1);
}

TEST_CASE("A fixed delay makes a packet deliverable exactly that long after it was sent") {
    auto cfg = memory_pipe_config::symmetric({.delay = 10_ms});
    auto [a, b] = make_memory_pipe(cfg);
    const instant t0 = instant::from_micros(1000);
    a.transmit(t0, numbered(1));
    CHECK(b.poll_at() == t0 + 10_ms);
    CHECK(a.tx().in_flight() == 1);

    packet_batch out;
    CHECK(b.receive(t0 + 10_ms - 1_us, out) == 0);
    CHECK(b.receive(t0 + 10_ms, out) == 1);
    CHECK(a.tx().in_flight() == 0);
    CHECK(b.poll_at() == instant::never());
}

TEST_CASE("poll_at reports the earliest of several delayed packets") {
    memory_pipe pipe(memory_pipe_config::symmetric({.delay = 5_ms}));
    pipe.end_a().transmit(instant::from_micros(0), numbered(1));
    pipe.end_a().transmit(instant::from_micros(300), numbered(2));
    pipe.end_b().transmit(instant::from_micros(100), numbered(3));
    CHECK(pipe.end_b().poll_at() == instant::from_micros(5000));
    CHECK(pipe.end_a().poll_at() == instant::from_micros(5100));
    CHECK(pipe.poll_at() == instant::from_micros(5000));
}

TEST_CASE("The drop_next budget drops exactly the next n packets") {
    auto [a, b] = make_memory_pipe();
    a.tx().drop_next(2);
    CHECK(a.tx().drops_pending() == 2);
    for (std::uint32_t i = 0; i < 5; ++i) a.transmit({}, numbered(i));
    const auto got = link_test::drain(b, {});
    REQUIRE(got.size() == 3);
    CHECK(got[0].number == 2);
    CHECK(got[2].number == 4);
    CHECK(a.tx().counters().dropped.filter == 2);
    CHECK(a.tx().drops_pending() == 0);
}

TEST_CASE("A filter hook can drop exactly the third packet and sees its bytes") {
    auto [a, b] = make_memory_pipe();
    int seen = 0;
    std::vector<std::uint32_t> numbers_seen;
    a.tx().set_filter([&](std::span<const std::uint8_t> bytes) {
        numbers_seen.push_back(number_of(bytes));
        return ++seen == 3;
    });
    for (std::uint32_t i = 10; i < 15; ++i) a.transmit({}, numbered(i));
    const auto got = link_test::drain(b, {});
    REQUIRE(got.size() == 4);
    CHECK(got[1].number == 11);
    CHECK(got[2].number == 13);
    CHECK(numbers_seen == std::vector<std::uint32_t>{10, 11, 12, 13, 14});
    CHECK(a.tx().counters().dropped.filter == 1);

    a.tx().set_filter({});
    a.transmit({}, numbered(20));
    CHECK(link_test::drain(b, {}).size() == 1);
}

TEST_CASE("A partition drops what is in flight and what is sent until it heals") {
    memory_pipe pipe(memory_pipe_config::symmetric({.delay = 1_ms}));
    auto& a = pipe.end_a();
    auto& b = pipe.end_b();
    a.transmit(instant::from_micros(0), numbered(1));
    b.transmit(instant::from_micros(0), numbered(2));

    pipe.partition();
    CHECK(pipe.partitioned());
    CHECK(b.poll_at() == instant::never());
    a.transmit(instant::from_micros(10), numbered(3));
    b.transmit(instant::from_micros(10), numbered(4));
    CHECK(link_test::drain(b, instant::from_micros(10)).empty());
    CHECK(link_test::drain(a, instant::from_micros(10)).empty());
    CHECK(pipe.a_to_b().counters().dropped.partition == 2);
    CHECK(pipe.b_to_a().counters().dropped.partition == 2);

    pipe.heal();
    CHECK_FALSE(pipe.partitioned());
    a.transmit(instant::from_micros(20), numbered(5));
    const auto got = link_test::drain(b, instant::from_micros(20));
    REQUIRE(got.size() == 1);
    CHECK(got[0] == delivery{5, 1020});
}

TEST_CASE("A partition can cut one direction only") {
    auto [a, b] = make_memory_pipe();
    a.tx().partition();
    a.transmit({}, numbered(1));
    b.transmit({}, numbered(2));
    CHECK(link_test::drain(b, {}).empty());
    CHECK(link_test::drain(a, {}).size() == 1);
}

TEST_CASE("Counters balance: sent plus duplicates equals delivered plus dropped plus in flight") {
    fault_config f{.loss = 0.1, .bandwidth_bps = 10'000'000, .queue_bytes = 20'000, .corrupt = 0.1,
                   .duplicate = 0.1, .delay = 2_ms, .jitter = 1_ms, .reorder = 0.1};
    f.burst = {.p_good_to_bad = 0.01, .p_bad_to_good = 0.3};
    auto [a, b] = make_memory_pipe({.seed = 99, .a_to_b = f});
    a.tx().drop_next(3);
    packet_batch out;
    for (std::uint32_t i = 0; i < 5000; ++i) {
        const auto now = instant::from_micros(i * 300);
        a.transmit(now, numbered(i, 200 + (i * 37) % 1300));
        out.clear();
        b.receive(now, out);
        const auto& c = a.tx().counters();
        REQUIRE(c.sent + c.duplicated == c.delivered + c.dropped.total() + a.tx().in_flight());
    }
    link_test::drain(b, instant::from_micros(5000 * 300));
    const auto& c = a.tx().counters();
    CHECK(c.sent + c.duplicated == c.delivered + c.dropped.total());
    CHECK(c.dropped.filter == 3);
    CHECK(c.dropped.loss > 0);
    CHECK(c.dropped.burst_loss > 0);
    CHECK(c.dropped.queue_full > 0);
    CHECK(c.duplicated > 0);
    CHECK(c.corrupted > 0);
    CHECK(c.reordered > 0);
}
