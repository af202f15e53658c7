// Seeded fault injection in the memory pipe: exact outcomes where the model allows them
// (probabilities of 0 or 1, hand-driven reordering, bandwidth arithmetic), statistical bounds
// elsewhere, and bit-for-bit reproducibility from a seed.
#include <corotcp/link/memory_pipe.hpp>
#include <corotcp/link/prng.hpp>

#include "test_packets.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <set>
#include <vector>

using namespace corotcp;
using namespace corotcp::time_literals;
using link_test::delivery;
using link_test::drain;
using link_test::numbered;
using link_test::number_of;

namespace {

/// Sends `n` numbered packets a->b, one every `gap`, receiving as it goes; returns every delivery.
std::vector<delivery> run(memory_pipe_end& a, memory_pipe_end& b, std::uint32_t n, duration gap = 10_us,
                          std::size_t size = 100) {
    std::vector<delivery> got;
    packet_batch out;
    instant now{};
    for (std::uint32_t i = 0; i < n; ++i) {
        now = instant::from_micros(i * gap.us);
        a.transmit(now, numbered(i, size));
        out.clear();
        b.receive(now, out);
        for (const auto& p : out) got.push_back({number_of(p), now.us});
    }
    const auto rest = drain(b, now);
    got.insert(got.end(), rest.begin(), rest.end());
    return got;
}

std::vector<delivery> run_with(const fault_config& f, std::uint64_t seed, std::uint32_t n) {
    auto [a, b] = make_memory_pipe({.seed = seed, .a_to_b = f});
    return run(a, b, n);
}

bool in_order(const std::vector<delivery>& v) {
    return std::is_sorted(v.begin(), v.end(), [](const delivery& x, const delivery& y) { return x.number < y.number; });
}

} // namespace

// --- the generators -----------------------------------------------------------------------------

TEST_CASE("splitmix64 reproduces the reference outputs for seed 0") {
    detail::splitmix64 sm(0);
    CHECK(sm.next() == 0xe220a8397b1dcdafULL);
    CHECK(sm.next() == 0x6e789e6aa1b965f4ULL);
    CHECK(sm.next() == 0x06c45d188009454fULL);
}

TEST_CASE("xoshiro256** reproduces the reference outputs from state {1, 2, 3, 4}") {
    detail::xoshiro256ss x(std::array<std::uint64_t, 4>{1, 2, 3, 4});
    CHECK(x.next() == 11520ULL);
    CHECK(x.next() == 0ULL);
    CHECK(x.next() == 1509978240ULL);
    CHECK(x.next() == 1215971899390074240ULL);
}

TEST_CASE("xoshiro256** seeded from a number takes its state from splitmix64") {
    detail::splitmix64 sm(1);
    const std::array<std::uint64_t, 4> state{sm.next(), sm.next(), sm.next(), sm.next()};
    detail::xoshiro256ss x(1), y(state);
    for (int i = 0; i < 100; ++i) REQUIRE(x.next() == y.next());
}

TEST_CASE("chance() draws nothing for probabilities of 0 and 1") {
    detail::xoshiro256ss x(5), y(5);
    CHECK_FALSE(x.chance(0.0));
    CHECK(x.chance(1.0));
    CHECK_FALSE(x.chance(-1.0));
    CHECK(x.next() == y.next());
}

TEST_CASE("below(n) stays below n and hits every value") {
    detail::xoshiro256ss x(3);
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 1000; ++i) {
        const auto v = x.below(7);
        REQUIRE(v < 7);
        seen.insert(v);
    }
    CHECK(seen.size() == 7);
}

// --- reproducibility ----------------------------------------------------------------------------

namespace {
fault_config everything() {
    fault_config f{.loss = 0.05, .bandwidth_bps = 50'000'000, .queue_bytes = 10'000, .corrupt = 0.05,
                   .duplicate = 0.05, .delay = 1_ms, .jitter = 300_us, .reorder = 0.05};
    f.burst = {.p_good_to_bad = 0.02, .p_bad_to_good = 0.3};
    return f;
}
} // namespace

TEST_CASE("The same seed gives an identical delivery trace") {
    const auto first = run_with(everything(), 1234, 5000);
    const auto second = run_with(everything(), 1234, 5000);
    CHECK(first.size() > 3000);
    CHECK(first == second);
}

TEST_CASE("A different seed gives a different delivery trace") {
    CHECK(run_with(everything(), 1234, 5000) != run_with(everything(), 1235, 5000));
}

TEST_CASE("Faults in one direction do not change what happens in the other") {
    auto trace_a_to_b = [](fault_config back) {
        auto [a, b] = make_memory_pipe({.seed = 77, .a_to_b = everything(), .b_to_a = back});
        for (std::uint32_t i = 0; i < 500; ++i) b.transmit(instant::from_micros(i), numbered(i));
        return run(a, b, 2000);
    };
    CHECK(trace_a_to_b({}) == trace_a_to_b(everything()));
}

// --- loss ---------------------------------------------------------------------------------------

TEST_CASE("Uniform loss of 10% over 100k packets loses between 9% and 11%") {
    auto [a, b] = make_memory_pipe({.seed = 42, .a_to_b = {.loss = 0.10}});
    const auto got = run(a, b, 100'000, 1_us, 20);
    const auto lost = a.tx().counters().dropped.loss;
    CHECK(lost + got.size() == 100'000);
    CHECK(lost > 9'000);
    CHECK(lost < 11'000);
    CHECK(in_order(got));
}

TEST_CASE("Loss probability 1 drops every packet") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.loss = 1.0}});
    CHECK(run(a, b, 100).empty());
    CHECK(a.tx().counters().dropped.loss == 100);
}

TEST_CASE("Burst loss with certain state changes drops every other packet") {
    // good -> bad before packet 0 (lost), bad -> good before packet 1 (delivered), and so on.
    gilbert_elliott g{.p_good_to_bad = 1.0, .p_bad_to_good = 1.0, .loss_in_bad = 1.0};
    auto [a, b] = make_memory_pipe({.a_to_b = {.burst = g}});
    const auto got = run(a, b, 10);
    REQUIRE(got.size() == 5);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i].number == 2 * i + 1);
    CHECK(a.tx().counters().dropped.burst_loss == 5);
}

TEST_CASE("Burst loss matches the Gilbert-Elliott loss rate and mean burst length") {
    // Stationary share of the bad state: 0.01 / (0.01 + 0.25) = 3.85%; mean burst length 1/0.25 = 4.
    gilbert_elliott g{.p_good_to_bad = 0.01, .p_bad_to_good = 0.25, .loss_in_bad = 1.0};
    auto [a, b] = make_memory_pipe({.seed = 7, .a_to_b = {.burst = g}});
    const auto got = run(a, b, 200'000, 1_us, 20);
    const double lost = static_cast<double>(a.tx().counters().dropped.burst_loss);
    CHECK(lost / 200'000 > 0.034);
    CHECK(lost / 200'000 < 0.043);

    std::uint64_t bursts = 0;
    std::uint32_t expected = 0;
    for (const auto& d : got) {
        if (d.number != expected) ++bursts;
        expected = d.number + 1;
    }
    if (expected != 200'000) ++bursts;
    const double mean_burst = lost / static_cast<double>(bursts);
    CHECK(mean_burst > 3.6);
    CHECK(mean_burst < 4.4);
}

// --- duplication and corruption -------------------------------------------------------------------

TEST_CASE("Duplication probability 1 delivers every packet twice, the copy right after the original") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.duplicate = 1.0}});
    const auto got = run(a, b, 50);
    REQUIRE(got.size() == 100);
    for (std::uint32_t i = 0; i < 50; ++i) {
        CHECK(got[2 * i].number == i);
        CHECK(got[2 * i + 1].number == i);
    }
    CHECK(a.tx().counters().duplicated == 50);
    CHECK(a.tx().counters().delivered == 100);
}

TEST_CASE("Duplication of 5% over 100k packets duplicates between 4.5% and 5.5%") {
    auto [a, b] = make_memory_pipe({.seed = 9, .a_to_b = {.duplicate = 0.05}});
    const auto got = run(a, b, 100'000, 1_us, 20);
    const auto dups = a.tx().counters().duplicated;
    CHECK(got.size() == 100'000 + dups);
    CHECK(dups > 4'500);
    CHECK(dups < 5'500);
}

TEST_CASE("Corruption flips exactly one bit of the packet") {
    auto [a, b] = make_memory_pipe({.seed = 11, .a_to_b = {.corrupt = 1.0}});
    for (int round = 0; round < 200; ++round) {
        packet p(60);
        for (std::size_t i = 0; i < p.size(); ++i) p.data()[i] = static_cast<std::uint8_t>(i * 7);
        const packet original = p;
        a.transmit({}, std::move(p));
        packet_batch out;
        REQUIRE(b.receive({}, out) == 1);
        int flipped = 0;
        for (std::size_t i = 0; i < 60; ++i) flipped += std::popcount(static_cast<unsigned>(out[0].data()[i] ^ original.data()[i]));
        REQUIRE(flipped == 1);
    }
    CHECK(a.tx().counters().corrupted == 200);
}

TEST_CASE("Corruption hits every byte position of the packet sooner or later") {
    auto [a, b] = make_memory_pipe({.seed = 12, .a_to_b = {.corrupt = 1.0}});
    std::set<std::size_t> positions;
    for (int round = 0; round < 2000; ++round) {
        a.transmit({}, packet(40));
        packet_batch out;
        b.receive({}, out);
        for (std::size_t i = 0; i < 40; ++i)
            if (out[0].data()[i] != 0) positions.insert(i);
    }
    CHECK(positions.size() == 40);
}

TEST_CASE("Corruption of 1% over 100k packets corrupts between 0.8% and 1.2%") {
    auto [a, b] = make_memory_pipe({.seed = 13, .a_to_b = {.corrupt = 0.01}});
    run(a, b, 100'000, 1_us, 20);
    const auto corrupted = a.tx().counters().corrupted;
    CHECK(corrupted > 800);
    CHECK(corrupted < 1'200);
}

// --- delay, jitter, reordering ------------------------------------------------------------------

TEST_CASE("Jitter delays each packet by up to its bound and keeps FIFO order by default") {
    auto [a, b] = make_memory_pipe({.seed = 5, .a_to_b = {.delay = 2_ms, .jitter = 500_us}});
    std::vector<delivery> got;
    for (std::uint32_t i = 0; i < 2000; ++i) a.transmit(instant::from_micros(i * 100), numbered(i));
    got = drain(b, {});
    REQUIRE(got.size() == 2000);
    CHECK(in_order(got));
    std::int64_t max_extra = 0;
    for (const auto& d : got) {
        const std::int64_t extra = d.at_us - static_cast<std::int64_t>(d.number) * 100 - 2000;
        REQUIRE(extra >= 0);
        max_extra = std::max(max_extra, extra);
    }
    CHECK(max_extra <= 500);
    CHECK(max_extra > 400);
}

TEST_CASE("Jitter reorders packets when jitter_may_reorder is set, and only then") {
    fault_config f{.jitter = 1_ms, .jitter_may_reorder = true};
    auto [a, b] = make_memory_pipe({.seed = 5, .a_to_b = f});
    for (std::uint32_t i = 0; i < 2000; ++i) a.transmit(instant::from_micros(i * 100), numbered(i));
    const auto got = drain(b, {});
    REQUIRE(got.size() == 2000);
    CHECK_FALSE(in_order(got));
    for (const auto& d : got) {
        const std::int64_t extra = d.at_us - static_cast<std::int64_t>(d.number) * 100;
        REQUIRE(extra >= 0);
        REQUIRE(extra <= 1000);
    }
    CHECK(a.tx().counters().reordered == 0); // reordered counts held-back packets only
}

TEST_CASE("Packets scheduled earlier than those already queued are delivered first, in time order") {
    // In-order packets take the pipe's FIFO, earlier ones its heap: delivery merges the two by time.
    auto [a, b] = make_memory_pipe({.a_to_b = {.delay = 1_ms, .jitter_may_reorder = true}});
    a.transmit({}, numbered(0));                        // due at 1000 us
    a.tx().faults().delay = duration::micros(0);
    a.transmit(instant::from_micros(100), numbered(1)); // due at 100 us: before packet 0
    a.transmit(instant::from_micros(200), numbered(2)); // due at 200 us
    a.tx().faults().delay = 1_ms;
    a.transmit(instant::from_micros(300), numbered(3)); // due at 1300 us
    packet_batch first;
    REQUIRE(b.receive(instant::from_micros(150), first) == 1);
    CHECK(number_of(first[0]) == 1);
    CHECK(b.poll_at() == instant::from_micros(200));
    packet_batch rest;
    REQUIRE(b.receive(instant::from_micros(2000), rest) == 3);
    CHECK(number_of(rest[0]) == 2);
    CHECK(number_of(rest[1]) == 0);
    CHECK(number_of(rest[2]) == 3);
}

TEST_CASE("A reordered packet is delivered right after the next one") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.reorder = 1.0}});
    a.transmit({}, numbered(0)); // held back
    a.tx().faults().reorder = 0.0;
    CHECK(b.poll_at() == instant{} + 1_ms); // the hold limit, if nothing overtakes it
    a.transmit(instant::from_micros(5), numbered(1));
    a.transmit(instant::from_micros(6), numbered(2));
    const auto got = drain(b, instant::from_micros(6));
    REQUIRE(got.size() == 3);
    CHECK(got[0].number == 1);
    CHECK(got[1].number == 0);
    CHECK(got[2].number == 2);
    CHECK(a.tx().counters().reordered == 1);
}

TEST_CASE("reorder_gap sets how many later packets overtake a held one") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.reorder = 1.0, .reorder_gap = 3}});
    a.transmit({}, numbered(0));
    a.tx().faults().reorder = 0.0;
    for (std::uint32_t i = 1; i < 6; ++i) a.transmit({}, numbered(i));
    std::vector<std::uint32_t> order;
    for (const auto& d : drain(b, {})) order.push_back(d.number);
    CHECK(order == std::vector<std::uint32_t>{1, 2, 3, 0, 4, 5});
}

TEST_CASE("A held packet nothing overtakes is released after reorder_hold") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.delay = 1_ms, .reorder = 1.0, .reorder_hold = 3_ms}});
    a.transmit(instant::from_micros(100), numbered(0));
    CHECK(b.poll_at() == instant::from_micros(4100));
    packet_batch out;
    CHECK(b.receive(instant::from_micros(4099), out) == 0);
    CHECK(b.receive(instant::from_micros(4100), out) == 1);
}

TEST_CASE("A packet sent after a hold expired does not pull the held packet later") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.reorder = 1.0, .reorder_hold = 1_ms}});
    a.transmit({}, numbered(0));
    a.tx().faults().reorder = 0.0;
    a.transmit(instant::from_micros(5000), numbered(1));
    const auto got = drain(b, instant::from_micros(5000));
    REQUIRE(got.size() == 2);
    CHECK(got[0] == delivery{0, 5000}); // deliverable since 1000, received at the first receive
    CHECK(got[1] == delivery{1, 5000});
}

TEST_CASE("reorder_gap 0 turns reordering into a pure extra delay") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.reorder = 1.0, .reorder_gap = 0, .reorder_hold = 2_ms}});
    a.transmit({}, numbered(0));
    a.tx().faults().reorder = 0.0;
    a.transmit(instant::from_micros(10), numbered(1));
    const auto got = drain(b, instant::from_micros(10));
    REQUIRE(got.size() == 2);
    CHECK(got[0] == delivery{1, 10});
    CHECK(got[1] == delivery{0, 2000});
}

TEST_CASE("Reordering of 10% holds back about 10% of packets and loses none") {
    auto [a, b] = make_memory_pipe({.seed = 21, .a_to_b = {.reorder = 0.10}});
    const auto got = run(a, b, 100'000, 1_us, 20);
    CHECK(got.size() == 100'000);
    const auto held = a.tx().counters().reordered;
    CHECK(held > 9'000);
    CHECK(held < 11'000);
    std::uint64_t out_of_order = 0;
    for (std::size_t i = 1; i < got.size(); ++i) out_of_order += got[i].number < got[i - 1].number;
    CHECK(out_of_order > 8'000);
}

// --- bandwidth ----------------------------------------------------------------------------------

TEST_CASE("1500-byte packets at 12 Mbit/s are deliverable 1 ms apart") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.bandwidth_bps = 12'000'000}});
    for (std::uint32_t i = 0; i < 10; ++i) a.transmit({}, numbered(i, 1500));
    const auto got = drain(b, {});
    REQUIRE(got.size() == 10);
    for (std::uint32_t i = 0; i < 10; ++i) CHECK(got[i] == delivery{i, (i + 1) * 1000});
}

TEST_CASE("Serialization and propagation delay add up") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.bandwidth_bps = 12'000'000, .delay = 5_ms}});
    a.transmit(instant::from_micros(0), numbered(0, 1500));
    a.transmit(instant::from_micros(3000), numbered(1, 750)); // the link is idle again by then
    const auto got = drain(b, {});
    REQUIRE(got.size() == 2);
    CHECK(got[0] == delivery{0, 6000});
    CHECK(got[1] == delivery{1, 3000 + 500 + 5000});
}

TEST_CASE("Serialization time never drifts from rounding") {
    // 100 bytes at 3 Mbit/s take 266.67 µs each; 300 of them exactly 80 ms.
    auto [a, b] = make_memory_pipe({.a_to_b = {.bandwidth_bps = 3'000'000, .queue_bytes = 1'000'000}});
    for (std::uint32_t i = 0; i < 300; ++i) a.transmit({}, numbered(i, 100));
    const auto got = drain(b, {});
    REQUIRE(got.size() == 300);
    CHECK(got.back().at_us == 80'000);
    CHECK(got[0].at_us == 266);
    CHECK(got[2].at_us == 800);
}

TEST_CASE("A full bottleneck queue tail-drops and accepts again as it drains") {
    auto [a, b] = make_memory_pipe({.a_to_b = {.bandwidth_bps = 12'000'000, .queue_bytes = 4500}});
    for (std::uint32_t i = 0; i < 5; ++i) a.transmit({}, numbered(i, 1500));
    CHECK(a.tx().counters().dropped.queue_full == 2);
    // At 1 ms the first packet has left: room for exactly one more.
    a.transmit(instant::from_micros(1000), numbered(5, 1500));
    a.transmit(instant::from_micros(1000), numbered(6, 1500));
    CHECK(a.tx().counters().dropped.queue_full == 3);
    const auto got = drain(b, {});
    REQUIRE(got.size() == 4);
    CHECK(got[0] == delivery{0, 1000});
    CHECK(got[1] == delivery{1, 2000});
    CHECK(got[2] == delivery{2, 3000});
    CHECK(got[3] == delivery{5, 4000});
}

TEST_CASE("A bandwidth limit caps throughput at its rate") {
    // 10 Mbit/s offered 20 Mbit/s for one second: about half gets through.
    auto [a, b] = make_memory_pipe({.a_to_b = {.bandwidth_bps = 10'000'000, .queue_bytes = 15'000}});
    const auto got = run(a, b, 2000, 500_us, 1250);
    const auto last = got.back().at_us;
    CHECK(got.size() > 990);
    CHECK(got.size() < 1015);
    CHECK(last <= 1'000'000 + 15'000 * 8 / 10);
}
