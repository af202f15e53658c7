// Tests for corotcp/async/run_loop.hpp: clocks, sleeping, spawning, poll sources, idle detection.
#include "corotcp/async/run_loop.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "corotcp/async/real_clock.hpp"
#include "corotcp/async/task.hpp"
#include "corotcp/async/virtual_clock.hpp"

using corotcp::duration;
using corotcp::instant;
using corotcp::run_loop;
using corotcp::task;
using namespace corotcp::time_literals;

namespace {

double wall_seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

task<void> sleep_then_log(corotcp::scheduler& loop, duration d, int id, std::vector<int>& log) {
    co_await loop.sleep_for(d);
    log.push_back(id);
}

/// A source that wants to be polled at a list of instants and records when it was polled.
struct scripted_source final : corotcp::poll_source {
    std::vector<instant> wants;       // successive deadlines to return
    std::vector<instant> polled_at;
    std::size_t next = 0;
    corotcp::waker on_deadline;      // woken when a wanted deadline is reached

    instant poll(instant now) override {
        polled_at.push_back(now);
        while (next < wants.size() && wants[next] <= now) {
            ++next;
            on_deadline.wake();
        }
        return next < wants.size() ? wants[next] : instant::never();
    }
};

} // namespace

TEST_CASE("a 60 s sleep on the virtual clock completes in under a second of wall time") {
    run_loop<> loop;
    const instant start = loop.now();
    const auto wall = std::chrono::steady_clock::now();
    loop.run([](run_loop<>& l) -> task<void> { co_await l.sleep_for(60_s); }(loop));
    CHECK(loop.now() == start + 60_s); // exactly: the clock jumps to the deadline
    CHECK(wall_seconds_since(wall) < 5.0);
}

TEST_CASE("the virtual clock can start at a chosen instant") {
    run_loop<corotcp::virtual_clock> loop{std::in_place, instant::from_micros(1000000)};
    CHECK(loop.now() == instant::from_micros(1000000));
    loop.run_for(250_ms);
    CHECK(loop.now() == instant::from_micros(1250000));
}

TEST_CASE("sleeps with equal deadlines resume in the order they started") {
    run_loop<> loop;
    std::vector<int> log;
    for (int i = 0; i < 5; ++i) loop.spawn(sleep_then_log(loop, 10_ms, i, log));
    loop.spawn(sleep_then_log(loop, 5_ms, 99, log));
    loop.run_until([&] { return log.size() == 6; }, 1_s);
    CHECK(log == std::vector<int>{99, 0, 1, 2, 3, 4});
    CHECK(loop.now() == instant{} + 10_ms);
}

TEST_CASE("a zero or negative sleep completes without suspending") {
    run_loop<> loop;
    int resumed = 0;
    loop.run([&]() -> task<void> {
        co_await loop.sleep_for(0_ms);
        ++resumed;
        co_await loop.sleep_until(loop.now() - 5_s);
        ++resumed;
    }());
    CHECK(resumed == 2);
    CHECK(loop.now() == instant{});
}

TEST_CASE("spawned tasks run detached and are destroyed when they finish") {
    run_loop<> loop;
    std::vector<int> log;
    loop.spawn(sleep_then_log(loop, 3_s, 1, log));
    loop.spawn(sleep_then_log(loop, 1_s, 2, log));
    CHECK(loop.spawned_count() == 2);
    CHECK(loop.run_until([&] { return log.size() == 2; }, 10_s));
    CHECK(log == std::vector<int>{2, 1});
    CHECK(loop.spawned_count() == 0);
    CHECK(loop.now() == instant{} + 3_s);
}

TEST_CASE("run_until returns false when the limit passes first, with the clock at the limit") {
    run_loop<> loop;
    std::vector<int> log;
    loop.spawn(sleep_then_log(loop, 10_s, 1, log));
    CHECK_FALSE(loop.run_until([&] { return !log.empty(); }, 2_s));
    CHECK(loop.now() == instant{} + 2_s);
    CHECK(loop.run_until([&] { return !log.empty(); }, 20_s));
    CHECK(loop.now() == instant{} + 10_s);
}

TEST_CASE("run_until returns at once when the predicate already holds") {
    run_loop<> loop;
    CHECK(loop.run_until([] { return true; }, 1_s));
    CHECK(loop.now() == instant{});
}

TEST_CASE("an exception escaping a spawned task is rethrown by the running loop") {
    run_loop<> loop;
    loop.spawn([](run_loop<>& l) -> task<void> {
        co_await l.sleep_for(1_s);
        throw std::runtime_error("spawned failure");
    }(loop));
    loop.spawn([](run_loop<>& l) -> task<void> {
        co_await l.sleep_for(2_s);
        throw std::runtime_error("second failure");
    }(loop));
    CHECK_THROWS_WITH(loop.run_for(10_s), "spawned failure");
    CHECK(loop.spawned_count() == 1);
    CHECK_THROWS_WITH(loop.run_until([] { return false; }, 10_s), "second failure");
    CHECK(loop.spawned_count() == 0);
}

TEST_CASE("run() returns the task's value and rethrows its exception") {
    run_loop<> loop;
    CHECK(loop.run([](run_loop<>& l) -> task<std::string> {
              co_await l.sleep_for(5_ms);
              co_return "done";
          }(loop)) == "done");
    CHECK_THROWS_AS(loop.run([]() -> task<int> {
                        throw std::out_of_range("x");
                        co_return 1;
                    }()),
                    std::out_of_range);
}

TEST_CASE("a loop with nothing to do and nothing to wait for reports a deadlock instead of hanging") {
    run_loop<> loop;
    struct never_completes {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const noexcept {}
    };
    CHECK_THROWS_AS(loop.run([]() -> task<void> { co_await never_completes{}; }()), corotcp::deadlock_error);
    CHECK_THROWS_WITH(loop.run_until([] { return false; }, 1_s), Catch::Contains("deadlock"));
    // run_for lets idle time pass on purpose.
    loop.run_for(30_s);
    CHECK(loop.now() == instant{} + 30_s);
}

TEST_CASE("poll_source deadlines drive the virtual clock") {
    run_loop<> loop;
    scripted_source source;
    source.wants = {instant{} + 200_ms, instant{} + 600_ms, instant{} + 60_s};
    int woken = 0;
    source.on_deadline = corotcp::waker{[](void* p) { ++*static_cast<int*>(p); }, &woken};
    loop.add_source(source);
    CHECK(loop.run_until([&] { return woken == 3; }, 120_s));
    CHECK(loop.now() == instant{} + 60_s);
    // Polled once at the start, then exactly at each deadline: the clock jumps straight there.
    CHECK(source.polled_at == std::vector<instant>{instant{}, instant{} + 200_ms, instant{} + 600_ms, instant{} + 60_s});
    // With no deadline left the loop is idle: that is a deadlock, not a hang.
    CHECK_THROWS_AS(loop.run_until([] { return false; }, 1_s), corotcp::deadlock_error);
    loop.remove_source(source);
}

TEST_CASE("a poll_source wakes a coroutine through a waker, which runs in the same loop turn") {
    run_loop<> loop;
    struct wake_once final : corotcp::poll_source {
        std::coroutine_handle<> waiting;
        corotcp::scheduler* loop = nullptr;
        instant poll(instant now) override {
            if (now >= instant{} + 1_s && waiting) loop->post(std::exchange(waiting, {}));
            return waiting ? instant{} + 1_s : instant::never();
        }
    } source;
    source.loop = &loop;
    loop.add_source(source);
    struct park {
        wake_once& s;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) const noexcept { s.waiting = h; }
        void await_resume() const noexcept {}
    };
    loop.run([](wake_once& s) -> task<void> { co_await park{s}; }(source));
    CHECK(loop.now() == instant{} + 1_s);
    loop.remove_source(source);
}

TEST_CASE("a poll_source may remove itself while it is being polled") {
    run_loop<> loop;
    struct self_removing final : corotcp::poll_source {
        corotcp::scheduler* loop = nullptr;
        int polls = 0;
        instant poll(instant now) override {
            if (++polls == 2) loop->remove_source(*this);
            return now + 1_ms;
        }
    } a, b;
    a.loop = b.loop = &loop;
    loop.add_source(a);
    loop.add_source(b);
    loop.run_for(10_ms);
    CHECK(a.polls == 2);
    CHECK(b.polls == 2);
}

TEST_CASE("a single blocking source waits in place of the timer policy") {
    run_loop<> loop;
    struct blocking final : corotcp::poll_source {
        run_loop<>* loop = nullptr;
        std::vector<instant> waits;
        instant poll(instant) override { return instant::never(); }
        bool can_block() const noexcept override { return true; }
        bool wait(instant deadline) override {
            waits.push_back(deadline);
            loop->timer().wait_until(deadline); // pretend to block until the deadline
            return true;
        }
    } source;
    source.loop = &loop;
    loop.add_source(source);
    std::vector<int> log;
    loop.spawn(sleep_then_log(loop, 3_s, 1, log));
    CHECK(loop.run_until([&] { return !log.empty(); }, 10_s));
    CHECK(source.waits == std::vector<instant>{instant{} + 3_s});
    loop.remove_source(source);
}

TEST_CASE("run_once steps the loop by hand and reports the next deadline without waiting") {
    run_loop<> loop;
    std::vector<int> log;
    loop.spawn(sleep_then_log(loop, 7_ms, 1, log));
    CHECK(loop.run_once() == instant{} + 7_ms); // started the task, which armed its timer
    CHECK(loop.now() == instant{});
    loop.timer().advance(7_ms);
    CHECK(loop.run_once() == instant::never()); // the timer fired and the task finished
    CHECK(log == std::vector<int>{1});
}

TEST_CASE("calling run from inside the loop is refused") {
    run_loop<> loop;
    CHECK_THROWS_AS(loop.run([](run_loop<>& l) -> task<void> { l.run_for(1_s); co_return; }(loop)), std::logic_error);
}

TEST_CASE("destroying a loop destroys the spawned tasks that are still suspended") {
    auto alive = std::make_shared<int>(0);
    {
        run_loop<> loop;
        loop.spawn([](run_loop<>& l, std::shared_ptr<int> keep) -> task<void> {
            co_await l.sleep_for(1000_s);
            ++*keep;
        }(loop, alive));
        loop.run_for(1_s);
        loop.spawn([](std::shared_ptr<int> keep) -> task<void> { // queued, never started
            ++*keep;
            co_return;
        }(alive));
        CHECK(alive.use_count() == 3);
    }
    CHECK(alive.use_count() == 1);
    CHECK(*alive == 0);
}

TEST_CASE("a real-clock sleep lasts roughly as long as asked") {
    run_loop<corotcp::real_clock> loop;
    const instant start = loop.now();
    const auto wall = std::chrono::steady_clock::now();
    loop.run([](run_loop<corotcp::real_clock>& l) -> task<void> { co_await l.sleep_for(30_ms); }(loop));
    const duration elapsed = loop.now() - start;
    CHECK(elapsed >= 30_ms);
    CHECK(elapsed < 3_s); // loose: shared machines stall
    CHECK(wall_seconds_since(wall) >= 0.030);
}

TEST_CASE("real-clock sleeps finish in deadline order and run_for covers its whole span") {
    run_loop<corotcp::real_clock> loop;
    std::vector<int> log;
    loop.spawn(sleep_then_log(loop, 20_ms, 2, log));
    loop.spawn(sleep_then_log(loop, 5_ms, 1, log));
    loop.spawn(sleep_then_log(loop, 20_ms, 3, log));
    const instant start = loop.now();
    loop.run_for(40_ms);
    CHECK(loop.now() - start >= 40_ms);
    CHECK(log == std::vector<int>{1, 2, 3});
}

TEST_CASE("a posted callback runs from the loop, in one FIFO with posted coroutines, and unpost takes it out") {
    run_loop<> loop;
    std::vector<int> log;
    struct entry {
        std::vector<int>* log;
        int id;
        static void run(void* self) {
            auto* e = static_cast<entry*>(self);
            e->log->push_back(e->id);
        }
        [[nodiscard]] corotcp::waker as_waker() { return {&entry::run, this}; }
    };
    entry first{&log, 1}, dropped{&log, 2}, last{&log, 4};
    loop.post(first.as_waker());
    loop.post(dropped.as_waker());
    auto coro = [](std::vector<int>& l) -> task<void> {
        l.push_back(3);
        co_return;
    }(log);
    loop.post(corotcp::detail::task_access::handle(coro)); // a coroutine between the callbacks
    loop.post(last.as_waker());
    loop.post(corotcp::waker{}); // an empty callback is not queued
    CHECK(log.empty()); // nothing runs inline
    loop.unpost(dropped.as_waker());
    CHECK(loop.has_ready());
    loop.run_for(1_ms);
    CHECK(log == std::vector<int>{1, 3, 4});
    CHECK(coro.done());
    CHECK_FALSE(loop.has_ready());
}
