// Tests for corotcp/async/timer_wheel.hpp: ordering, cascading and a randomised comparison with a
// reference model (a sorted multimap).
#include "corotcp/async/timer_wheel.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

using corotcp::duration;
using corotcp::instant;
using corotcp::timer_node;
using corotcp::timer_wheel;

namespace {

/// A timer that records its id into a shared log when it fires.
struct recording_timer {
    timer_node node;
    int id = 0;
    std::vector<int>* log = nullptr;

    recording_timer() { node.on_expire = corotcp::waker{&fire, this}; }
    static void fire(void* self) {
        auto* t = static_cast<recording_timer*>(self);
        t->log->push_back(t->id);
    }
};

instant at(std::int64_t us) { return instant::from_micros(us); }

} // namespace

TEST_CASE("the wheel fires timers in deadline order, and equal deadlines in insertion order") {
    timer_wheel wheel;
    std::vector<int> log;
    std::vector<recording_timer> timers(6);
    const std::int64_t deadlines[] = {500, 100, 500, 70000, 100, 500};
    for (int i = 0; i < 6; ++i) {
        timers[i].id = i;
        timers[i].log = &log;
        wheel.insert(timers[i].node, at(deadlines[i]));
    }
    CHECK(wheel.size() == 6);
    CHECK(wheel.advance(at(99)) == 0);
    CHECK(wheel.advance(at(100)) == 2);
    CHECK(log == std::vector<int>{1, 4});
    CHECK(wheel.advance(at(1000000)) == 4);
    CHECK(log == std::vector<int>{1, 4, 0, 2, 5, 3});
    CHECK(wheel.empty());
    CHECK_FALSE(timers[3].node.linked());
}

TEST_CASE("the wheel's next expiry is exact for a lone timer at any distance") {
    for (const std::int64_t distance : {1LL, 63LL, 64LL, 4095LL, 4096LL, 1000000LL, 7200000000LL, 86400000000000LL}) {
        timer_wheel wheel{at(12345)};
        recording_timer t;
        std::vector<int> log;
        t.log = &log;
        wheel.insert(t.node, at(12345 + distance));
        CHECK(wheel.next_expiry() == at(12345 + distance));
        wheel.advance(at(12345 + distance - 1));
        CHECK(log.empty());
        wheel.advance(at(12345 + distance));
        CHECK(log.size() == 1);
    }
}

TEST_CASE("a timer canceled before its deadline never fires, and canceling twice is harmless") {
    timer_wheel wheel;
    std::vector<int> log;
    recording_timer a, b;
    a.log = b.log = &log;
    a.id = 1;
    b.id = 2;
    wheel.insert(a.node, at(1000));
    wheel.insert(b.node, at(1000));
    wheel.erase(a.node);
    wheel.erase(a.node);
    CHECK(wheel.size() == 1);
    wheel.advance(at(5000));
    CHECK(log == std::vector<int>{2});
}

TEST_CASE("a deadline in the past fires at the next advance, and never() is not armed") {
    timer_wheel wheel{at(1000)};
    std::vector<int> log;
    recording_timer past, forever;
    past.log = forever.log = &log;
    past.id = 1;
    forever.id = 2;
    wheel.advance(at(2000));
    wheel.insert(past.node, at(5));
    wheel.insert(forever.node, instant::never());
    CHECK_FALSE(forever.node.linked());
    CHECK(wheel.next_expiry() <= at(2000));
    wheel.advance(at(2000));
    CHECK(log == std::vector<int>{1});
    CHECK(wheel.next_expiry() == instant::never());
}

TEST_CASE("negative instants order correctly in the wheel") {
    timer_wheel wheel{at(-10000)};
    std::vector<int> log;
    recording_timer a, b;
    a.log = b.log = &log;
    a.id = 1;
    b.id = 2;
    wheel.insert(b.node, at(10));
    wheel.insert(a.node, at(-10));
    wheel.advance(at(0));
    CHECK(log == std::vector<int>{1});
    wheel.advance(at(10));
    CHECK(log == std::vector<int>{1, 2});
}

TEST_CASE("a firing timer may cancel another due timer and arm new ones") {
    timer_wheel wheel;
    std::vector<int> log;
    struct canceller {
        timer_node node;
        timer_wheel* wheel;
        recording_timer* victim;
        recording_timer* rearm;
    };
    recording_timer victim, rearm;
    victim.log = rearm.log = &log;
    victim.id = 2;
    rearm.id = 3;
    canceller c{{}, &wheel, &victim, &rearm};
    c.node.on_expire = corotcp::waker{[](void* p) {
                                          auto* self = static_cast<canceller*>(p);
                                          self->wheel->erase(self->victim->node);
                                          self->wheel->insert(self->rearm->node, at(100)); // due now
                                      },
                                      &c};
    wheel.insert(c.node, at(100));
    wheel.insert(victim.node, at(100));
    CHECK(wheel.advance(at(100)) == 1);
    CHECK(log.empty());
    CHECK(wheel.size() == 1);
    CHECK(wheel.advance(at(100)) == 1);
    CHECK(log == std::vector<int>{3});
}

TEST_CASE("the wheel agrees with a sorted reference on random schedules, cancels and advances") {
    // Fixed seeds; bounded work. Deadlines span microseconds to hours so every level cascades.
    for (const std::uint32_t seed : {1U, 2U, 3U, 42U, 2024U}) {
        INFO("seed " << seed);
        std::mt19937_64 rng(seed);
        constexpr int timer_count = 400;
        const std::int64_t start = static_cast<std::int64_t>(rng() % 1000000000);
        timer_wheel wheel{at(start)};
        std::int64_t now = start;

        std::vector<int> fired;
        std::vector<recording_timer> timers(timer_count);
        std::map<std::pair<std::int64_t, std::uint64_t>, int> reference; // (deadline, sequence) -> id
        std::vector<std::pair<std::int64_t, std::uint64_t>> key_of(timer_count);
        std::uint64_t sequence = 0;
        for (int i = 0; i < timer_count; ++i) {
            timers[i].id = i;
            timers[i].log = &fired;
        }

        auto random_span = [&]() -> std::int64_t {
            switch (rng() % 5) {
            case 0: return static_cast<std::int64_t>(rng() % 64);
            case 1: return static_cast<std::int64_t>(rng() % 5000);
            case 2: return static_cast<std::int64_t>(rng() % 300000);
            case 3: return static_cast<std::int64_t>(rng() % 60000000);
            default: return static_cast<std::int64_t>(rng() % 7200000000LL);
            }
        };

        for (int step = 0; step < 6000; ++step) {
            const int id = static_cast<int>(rng() % timer_count);
            const auto action = rng() % 10;
            if (action < 5) { // (re)arm, often on a shared deadline to exercise FIFO ties
                if (timers[id].node.linked()) reference.erase(key_of[id]);
                const std::int64_t deadline = (rng() % 4 == 0) ? (now + 1000) : now + random_span();
                wheel.insert(timers[id].node, at(deadline));
                key_of[id] = {deadline, sequence++};
                reference[key_of[id]] = id;
            } else if (action < 7) {
                if (timers[id].node.linked()) reference.erase(key_of[id]);
                wheel.erase(timers[id].node);
            } else {
                const instant bound = wheel.next_expiry();
                if (!reference.empty()) {
                    REQUIRE(bound <= at(reference.begin()->first.first));
                } else {
                    REQUIRE(bound == instant::never());
                }
                now += (rng() % 3 == 0 && !reference.empty()) ? reference.begin()->first.first - now
                                                               : random_span() / 8;
                fired.clear();
                wheel.advance(at(now));
                std::vector<int> expected;
                while (!reference.empty() && reference.begin()->first.first <= now) {
                    expected.push_back(reference.begin()->second);
                    reference.erase(reference.begin());
                }
                REQUIRE(fired == expected);
            }
            REQUIRE(wheel.size() == reference.size());
        }
        fired.clear();
        wheel.advance(at(now + duration::seconds(3 * 3600).us));
        std::vector<int> expected;
        for (const auto& [key, id] : reference) expected.push_back(id);
        REQUIRE(fired == expected);
        REQUIRE(wheel.empty());
    }
}
