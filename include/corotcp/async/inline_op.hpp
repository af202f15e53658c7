// corotcp/async/inline_op.hpp: an awaitable that completes inline when it can.
//
// A connection's read, read_exactly and write return one: `co_await c.write(data)` first tries the
// operation right away (no coroutine frame, no suspension: the usual case for a write that fits the
// send buffer and for a read whose data is already there), and only when it has to wait does it
// start its slow path, a task that waits for the engine's events and retries. Like a task it is
// lazy: nothing happens before it is awaited.
//
//     co_await op ──await_ready──> attempt() ──done──> result, inline
//                                      │ nullopt (must wait)
//                                      └──> slow(): task<R>, awaited like any task
#pragma once

#include <concepts>
#include <coroutine>
#include <optional>
#include <utility>

#include "corotcp/async/task.hpp"

namespace corotcp {
namespace detail {

/// Derived provides `std::optional<R> attempt()` (the result, or nullopt: it has to wait) and
/// `task<R> slow()`, which is started at most once, after a failed attempt.
template <class Derived, class R>
class [[nodiscard]] inline_op {
public:
    using result_type = R;

    [[gnu::always_inline]] bool await_ready() {
        if (result_ || slow_.valid()) return result_.has_value() || slow_.done();
        result_ = self().attempt();
        return result_.has_value();
    }
    [[gnu::always_inline]] std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) {
        slow_ = self().slow();
        const auto h = task_access::handle(slow_);
        h.promise().set_continuation(parent);
        return trampoline::transfer(h); // start the slow path right away
    }
    [[gnu::always_inline]] R await_resume() {
        if (result_) return std::move(*result_);
        return std::move(task_access::handle(slow_).promise()).result();
    }

protected:
    inline_op() = default;

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    std::optional<R> result_;
    task<R> slow_;
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
