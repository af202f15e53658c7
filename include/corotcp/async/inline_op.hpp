// corotcp/async/inline_op.hpp: an awaitable that completes inline when it can, and otherwise waits
// without a coroutine of its own.
//
// A connection's read, read_exactly and write return one: `co_await c.write(data)` first tries the
// operation right away (no suspension: the usual case for a write that fits the send buffer and for
// a read whose data is already there). When it has to wait, the awaitable itself waits on the
// connection's notifier: each event posts a callback to the loop, which tries again and either
// resumes the awaiting coroutine with the result or waits again. No frame is allocated and no
// coroutine runs between the event and the retry. Like a task it is lazy: nothing happens before
// it is awaited.
//
//     co_await op ──await_ready──> attempt() ──done──> result, inline
//                                      │ nullopt (must wait)
//                                      v
//     await_suspend: wait on the notifier (deadline, stop_token)
//          event ──loop calls retry()──> attempt() ──done──> resume the coroutine
//                         │ not yet: wait again       timed out / canceled: resume with the error
//
// The deadline is fixed at the first suspension: a timeout covers the whole operation.
#pragma once

#include <cassert>
#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <stop_token>
#include <system_error>
#include <utility>

#include "corotcp/async/notifier.hpp"
#include "corotcp/async/scheduler.hpp"
#include "corotcp/async/task.hpp"
#include "corotcp/util/error.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {
namespace detail {

[[nodiscard]] inline instant deadline_after(scheduler& loop, duration timeout) noexcept {
    return timeout >= duration::max() ? instant::never() : loop.now() + timeout;
}

[[nodiscard]] inline std::error_code from_wait(wait_result r) noexcept {
    return r == wait_result::timed_out ? make_error_code(errc::operation_timed_out)
                                       : make_error_code(errc::operation_canceled);
}

/// Derived provides `std::optional<R> attempt()` (the result, or nullopt: it has to wait), and
/// `notifier& events()`, `duration timeout() const` and `const std::stop_token& stop() const`: what
/// to wait on, for how long in all, and what cancels it. R is constructible from std::error_code
/// (operation_timed_out, operation_canceled).
template <class Derived, class R>
class [[nodiscard]] inline_op {
public:
    using result_type = R;

    inline_op(const inline_op&) = delete; // the waiter is linked by address once suspended
    inline_op& operator=(const inline_op&) = delete;
    /// Only before it is awaited: a waiting operation is linked into its notifier by address.
    inline_op(inline_op&& o) noexcept : result_(std::move(o.result_)) { assert(!o.waiter_ && !o.parent_); }

    [[gnu::always_inline]] bool await_ready() {
        if (result_) return true;
        result_ = self().attempt();
        return result_.has_value();
    }
    /// false (go on at once, without nesting a resumption) if it ended before waiting.
    bool await_suspend(std::coroutine_handle<> parent) {
        parent_ = parent;
        deadline_ = deadline_after(self().events().loop(), self().timeout());
        return wait();
    }
    [[gnu::always_inline]] R await_resume() {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
        return std::move(*result_);
    }

protected:
    inline_op() = default;
    ~inline_op() = default; // the waiter unlinks itself from the notifier, the timer and the loop

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    /// Starts one wait; false (result_ set) if the deadline or the stop request came first.
    bool wait() noexcept {
        waiter_.emplace(self().events(), deadline_, self().stop());
        if (waiter_->await_ready()) {
            result_.emplace(from_wait(waiter_->await_resume()));
            return false;
        }
        waiter_->suspend_with(waker{&inline_op::retry, this});
        return true;
    }

    /// Called by the loop when the wait completes: try again, then resume the coroutine unless the
    /// operation has to wait once more. Nothing touches *this after the resumption (it may end the
    /// operation's lifetime).
    static void retry(void* p) {
        auto& op = *static_cast<inline_op*>(p);
        const wait_result r = op.waiter_->await_resume();
        if (r != wait_result::notified) {
            op.result_.emplace(from_wait(r));
        } else {
            try {
                op.result_ = op.self().attempt();
            } catch (...) {
                op.error_ = std::current_exception(); // rethrown in the coroutine, as a task would
            }
            if (!op.result_ && !op.error_ && op.wait()) return; // not yet: waiting again
        }
        trampoline::run(op.parent_);
    }

    std::optional<R> result_;
    std::exception_ptr error_;
    std::coroutine_handle<> parent_;
    instant deadline_ = instant::never();
    std::optional<notifier::awaiter> waiter_;
};

/// An awaitable that names its result_type: the operations above.
template <class Op>
concept inline_operation = requires(Op& op) {
    typename Op::result_type;
    { op.await_ready() } -> std::same_as<bool>;
    { op.await_resume() } -> std::same_as<typename Op::result_type>;
};

/// The same operation as a task (for run_loop::run(), which drives tasks).
template <inline_operation Op>
task<typename Op::result_type> as_task(Op op) {
    co_return co_await op;
}

} // namespace detail
} // namespace corotcp
