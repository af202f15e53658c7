// corotcp/async/run_loop.hpp: the single-threaded event loop.
//
// One iteration:
//
//     expire due timers ──> resume the coroutines that are ready ──> poll every poll_source(now)
//            ^                                                                   │
//            └── wait until min(next timer, every source's deadline) <── nothing ready?
//                (virtual_clock: jump; real_clock: sleep; a blocking source: block in it)
//
// A stack's poll resumes the coroutines its packets woke before it transmits (between its receive
// and transmit halves), so a request and its answer take one iteration, not two.
//
// If nothing is ready and there is nothing to wait for, nothing can ever happen again: run() and
// run_until() throw deadlock_error instead of spinning or sleeping forever. run_for() just lets the
// time pass. The first exception that escaped a spawned task is rethrown by whichever run*() is
// active when it is reported.
//
// The loop is not movable (timers and sources point at it) and not reentrant: do not call run*()
// from a coroutine it is running.
#pragma once

#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "corotcp/async/inline_op.hpp"
#include "corotcp/async/scheduler.hpp"
#include "corotcp/async/task.hpp"
#include "corotcp/async/timer_policy.hpp"
#include "corotcp/async/virtual_clock.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {

template <timer_policy Timer = virtual_clock>
class run_loop final : public scheduler {
public:
    using timer_type = Timer;

    run_loop() = default;
    /// Constructs the timer policy from `args` (e.g. a start instant for virtual_clock).
    template <class... Args>
    explicit run_loop(std::in_place_t /*tag*/, Args&&... args) : timer_(std::forward<Args>(args)...) {}

    run_loop(const run_loop&) = delete;
    run_loop& operator=(const run_loop&) = delete;
    ~run_loop() { shutdown(); }

    [[nodiscard]] instant now() const noexcept override { return timer_.now(); }
    void schedule_timer(timer_node& node, instant deadline) noexcept override { timer_.schedule(node, deadline); }
    void cancel_timer(timer_node& node) noexcept override { timer_.cancel(node); }

    [[nodiscard]] Timer& timer() noexcept { return timer_; }
    [[nodiscard]] const Timer& timer() const noexcept { return timer_; }

    /// Starts `t` and runs the loop until it finishes; returns its result or rethrows its exception.
    /// Throws deadlock_error if `t` can never finish.
    template <class T>
    T run(task<T> t) {
        const auto h = detail::task_access::handle(t);
        if (!h) throw std::invalid_argument("corotcp::run_loop::run: empty task");
        post(h);
        try {
            drive([&] { return h.done(); }, instant::never(), idle::is_deadlock);
        } catch (...) {
            unpost(h); // t (and its frame) is destroyed on the way out; never resume it
            throw;
        }
        if constexpr (std::is_void_v<T>) {
            h.promise().result();
        } else {
            return static_cast<T>(std::move(h.promise()).result());
        }
    }

    /// The same for a connection's read, read_exactly or write (`loop.run(c.write(data))`).
    template <detail::inline_operation Op>
    typename Op::result_type run(Op op) {
        return run(detail::as_task(std::move(op)));
    }

    /// Runs until `pred()` is true (checked before starting and after every step) or until `limit` of
    /// loop time has passed. Returns pred's final verdict. Throws deadlock_error if the loop goes idle
    /// with pred still false (use run_for() to let idle time pass on purpose).
    template <std::predicate Pred>
    bool run_until(Pred&& pred, duration limit) {
        return drive(pred, now() + limit, idle::is_deadlock);
    }

    /// Runs for `d` of loop time (virtual_clock: jumps over idle stretches), firing everything due
    /// within it, including what is due exactly at the end.
    void run_for(duration d) {
        drive([] { return false; }, now() + d, idle::lets_time_pass);
    }

    /// One iteration without the wait: fire due timers, resume the ready batch, poll every source.
    /// Returns the earliest deadline the loop would wait for. For tests that step by hand.
    instant run_once() {
        const running_guard guard{*this, "run_once"};
        timer_.expire();
        run_ready_batch();
        rethrow_reported();
        const instant source_deadline = poll_sources(now());
        rethrow_reported();
        return has_ready() ? now() : earliest(source_deadline, timer_.next_deadline());
    }

private:
    enum class idle { is_deadlock, lets_time_pass };

    struct running_guard {
        run_loop& loop;
        running_guard(run_loop& l, const char* what) : loop(l) {
            if (loop.running_) throw std::logic_error(std::string("corotcp::run_loop: ") + what + "() called from inside the loop");
            loop.running_ = true;
        }
        running_guard(const running_guard&) = delete;
        running_guard& operator=(const running_guard&) = delete;
        ~running_guard() { loop.running_ = false; }
    };

    // The loop behind run(), run_until() and run_for(). Returns done()'s verdict, or false once the
    // limit is reached (checked before ready work: on the real clock a busy loop still stops there;
    // on the virtual clock time only moves while nothing is ready).
    template <class Done>
    bool drive(Done&& done, instant limit, idle on_idle) {
        const running_guard guard{*this, "run"};
        if (done()) return true;
        for (;;) {
            timer_.expire();
            run_ready_batch();
            rethrow_reported();
            if (done()) return true;
            const instant source_deadline = poll_sources(now());
            rethrow_reported();
            if (done()) return true;

            const instant current = now();
            if (current >= limit) return false;
            if (has_ready()) continue;
            const instant next = earliest(source_deadline, timer_.next_deadline());
            if (next <= current) continue;
            const instant until = earliest(next, limit);
            if (poll_source* blocking = blocking_source(); blocking != nullptr && blocking->wait(until)) continue;
            if (next.is_never() && on_idle == idle::is_deadlock) throw deadlock_error(deadlock_message());
            timer_.wait_until(until);
        }
    }

    [[nodiscard]] std::string deadlock_message() const {
        return "corotcp::run_loop: deadlock: nothing can make progress (no coroutine is ready, no timer is "
               "armed, no poll_source asked to be polled again; " +
               std::to_string(spawned_count()) + " spawned task(s) and " + std::to_string(source_count()) +
               " source(s) are registered)";
    }

    Timer timer_;
    bool running_ = false;
};

} // namespace corotcp
