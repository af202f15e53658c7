// Tests for corotcp/async/notifier.hpp: notification, deadlines, cancellation, lifetimes.
#include "corotcp/async/notifier.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <stop_token>
#include <vector>

#include "corotcp/async/real_clock.hpp"
#include "corotcp/async/run_loop.hpp"
#include "corotcp/async/task.hpp"

using corotcp::instant;
using corotcp::notifier;
using corotcp::run_loop;
using corotcp::task;
using corotcp::wait_result;
using namespace corotcp::time_literals;

namespace {

task<void> wait_and_record(notifier& n, instant deadline, std::stop_token stop, std::vector<wait_result>& out) {
    out.push_back(co_await n.wait(deadline, std::move(stop)));
}

task<void> wait_forever_and_record(notifier& n, std::vector<wait_result>& out) {
    out.push_back(co_await n.wait());
}

} // namespace

TEST_CASE("notify_all resumes every current waiter with notified, from the loop and not inline") {
    run_loop<> loop;
    notifier n{loop};
    std::vector<wait_result> results;
    for (int i = 0; i < 3; ++i) loop.spawn(wait_forever_and_record(n, results));
    loop.run_until([&] { return n.has_waiters(); }, 1_s);
    n.notify_all();
    CHECK(results.empty()); // posted, not resumed inside notify_all
    CHECK_FALSE(n.has_waiters());
    loop.run_until([&] { return results.size() == 3; }, 1_s);
    CHECK(results == std::vector<wait_result>(3, wait_result::notified));
}

TEST_CASE("a notification is not remembered: only coroutines already waiting see it") {
    run_loop<> loop;
    notifier n{loop};
    n.notify_all();
    std::vector<wait_result> results;
    loop.spawn(wait_and_record(n, instant{} + 1_s, {}, results));
    loop.run_until([&] { return !results.empty(); }, 5_s);
    CHECK(results == std::vector<wait_result>{wait_result::timed_out});
}

TEST_CASE("notify_one resumes the longest-waiting coroutine first") {
    run_loop<> loop;
    notifier n{loop};
    std::vector<int> order;
    auto waiter = [](notifier& n, int id, std::vector<int>& order) -> task<void> {
        if (co_await n.wait() == wait_result::notified) order.push_back(id);
    };
    for (int i = 0; i < 3; ++i) loop.spawn(waiter(n, i, order));
    loop.run_until([&] { return n.has_waiters(); }, 1_s);
    CHECK(n.notify_one());
    CHECK(n.notify_one());
    loop.run_until([&] { return order.size() == 2; }, 1_s);
    CHECK(order == std::vector<int>{0, 1});
    CHECK(n.notify_one());
    CHECK_FALSE(n.notify_one());
    loop.run_until([&] { return order.size() == 3; }, 1_s);
}

TEST_CASE("a wait with a deadline times out exactly at the deadline on the virtual clock") {
    run_loop<> loop;
    notifier n{loop};
    const auto r = loop.run([](run_loop<>& l, notifier& n) -> task<wait_result> {
        co_return co_await n.wait(l.now() + 1500_ms);
    }(loop, n));
    CHECK(r == wait_result::timed_out);
    CHECK(loop.now() == instant{} + 1500_ms);
    CHECK(loop.timer().pending() == 0);
}

TEST_CASE("a notification before the deadline wins and disarms the timer") {
    run_loop<> loop;
    notifier n{loop};
    std::vector<wait_result> results;
    loop.spawn(wait_and_record(n, instant{} + 10_s, {}, results));
    loop.spawn([](run_loop<>& l, notifier& n) -> task<void> {
        co_await l.sleep_for(2_s);
        n.as_waker().wake();
    }(loop, n));
    loop.run_until([&] { return !results.empty(); }, 20_s);
    CHECK(results == std::vector<wait_result>{wait_result::notified});
    CHECK(loop.now() == instant{} + 2_s);
    CHECK(loop.timer().pending() == 0);
}

TEST_CASE("a deadline already passed or a stop already requested completes the wait without suspending") {
    run_loop<> loop;
    notifier n{loop};
    std::stop_source stopped;
    stopped.request_stop();
    loop.run([](run_loop<>& l, notifier& n, std::stop_token stop) -> task<void> {
        CHECK(co_await n.wait(instant::never(), stop) == wait_result::canceled);
        CHECK(co_await n.wait(l.now(), {}) == wait_result::timed_out);
        CHECK(co_await n.wait(l.now() + 1_s, stop) == wait_result::canceled); // stop beats the deadline
        CHECK_FALSE(n.has_waiters());
    }(loop, n, stopped.get_token()));
    CHECK(loop.now() == instant{});
}

TEST_CASE("a stop requested by another coroutine cancels a wait") {
    run_loop<> loop;
    notifier n{loop};
    std::stop_source stop;
    std::vector<wait_result> results;
    loop.spawn(wait_and_record(n, instant::never(), stop.get_token(), results));
    loop.spawn([](run_loop<>& l, std::stop_source& s) -> task<void> {
        co_await l.sleep_for(3_s);
        s.request_stop(); // the callback runs right here, inside the loop: it must only post
    }(loop, stop));
    loop.run_until([&] { return !results.empty(); }, 10_s);
    CHECK(results == std::vector<wait_result>{wait_result::canceled});
    CHECK(loop.now() == instant{} + 3_s);
    CHECK_FALSE(n.has_waiters());
}

TEST_CASE("a stop requested outside any coroutine during a wait cancels it when the loop runs") {
    run_loop<> loop;
    notifier n{loop};
    std::stop_source stop;
    std::vector<wait_result> results;
    loop.spawn(wait_and_record(n, instant{} + 5_s, stop.get_token(), results));
    loop.run_for(1_s);
    REQUIRE(n.has_waiters());
    stop.request_stop();
    CHECK(results.empty());
    loop.run_until([&] { return !results.empty(); }, 1_s);
    CHECK(results == std::vector<wait_result>{wait_result::canceled});
    CHECK(loop.timer().pending() == 0);
}

TEST_CASE("the first completion wins when a notify and a stop arrive in the same turn") {
    run_loop<> loop;
    notifier n{loop};
    std::stop_source stop;
    std::vector<wait_result> results;
    loop.spawn(wait_and_record(n, instant{} + 5_s, stop.get_token(), results));
    loop.run_for(1_ms);
    n.notify_all();
    stop.request_stop();
    loop.run_until([&] { return !results.empty(); }, 1_s);
    CHECK(results == std::vector<wait_result>{wait_result::notified});
}

TEST_CASE("destroying a notifier cancels its waiters") {
    run_loop<> loop;
    auto n = std::make_unique<notifier>(loop);
    std::vector<wait_result> results;
    loop.spawn(wait_and_record(*n, instant{} + 5_s, {}, results));
    loop.spawn(wait_forever_and_record(*n, results));
    loop.run_for(1_ms);
    n.reset();
    loop.run_until([&] { return results.size() == 2; }, 1_s);
    CHECK(results == std::vector<wait_result>(2, wait_result::canceled));
    CHECK(loop.timer().pending() == 0);
}

TEST_CASE("destroying a task suspended in a wait unregisters it everywhere") {
    run_loop<> loop;
    notifier n{loop};
    std::stop_source stop;
    std::vector<wait_result> results;
    // The parent owns the waiting child; destroying the parent destroys both suspended frames.
    auto parent = [](task<void> child) -> task<void> { co_await std::move(child); };
    auto p = std::make_unique<task<void>>(parent(wait_and_record(n, instant{} + 5_s, stop.get_token(), results)));
    loop.post(corotcp::detail::task_access::handle(*p)); // start it by hand, owned by this test
    loop.run_for(1_ms);
    REQUIRE(n.has_waiters());
    REQUIRE(loop.timer().pending() == 1);
    p.reset();
    CHECK_FALSE(n.has_waiters());
    CHECK(loop.timer().pending() == 0);
    stop.request_stop(); // the stop_callback was deregistered: nothing is posted
    n.notify_all();
    loop.run_for(10_s);
    CHECK(results.empty());
}

TEST_CASE("destroying a task after it was notified but before it resumed never resumes it") {
    run_loop<> loop;
    notifier n{loop};
    std::vector<wait_result> results;
    auto t = std::make_unique<task<void>>(wait_forever_and_record(n, results));
    auto parent = [](task<void>& child) -> task<void> { co_await child; };
    auto p = std::make_unique<task<void>>(parent(*t));
    loop.post(corotcp::detail::task_access::handle(*p));
    loop.run_for(1_ms);
    REQUIRE(n.has_waiters());
    n.notify_all(); // the waiter is now in the ready queue
    p.reset();
    t.reset(); // destroys the frame that was queued; the awaiter takes it out of the queue
    loop.run_for(1_ms);
    CHECK(results.empty());
}

TEST_CASE("a notifier works on the real clock too") {
    run_loop<corotcp::real_clock> loop;
    notifier n{loop};
    const instant start = loop.now();
    const auto r = loop.run([](notifier& n) -> task<wait_result> { co_return co_await n.wait_for(20_ms); }(n));
    CHECK(r == wait_result::timed_out);
    CHECK(loop.now() - start >= 20_ms);

    std::vector<wait_result> results;
    loop.spawn(wait_forever_and_record(n, results));
    loop.spawn([](run_loop<corotcp::real_clock>& l, notifier& n) -> task<void> {
        co_await l.sleep_for(5_ms);
        n.notify_all();
    }(loop, n));
    loop.run_until([&] { return !results.empty(); }, 5_s);
    CHECK(results == std::vector<wait_result>{wait_result::notified});
}
