// corotcp/async/task.hpp: the lazy, move-only coroutine type of the library.
//
// A task<T> does nothing until it is awaited (or handed to a run_loop with run()/spawn()). Awaiting
// it transfers control straight into it, and when it finishes its final awaiter transfers control
// straight back to the coroutine that awaited it (symmetric transfer). The result lives in a
// std::variant of "not yet" / value / exception_ptr; an exception is rethrown in the awaiter.
//
// Symmetric transfer only runs in constant stack space if the compiler turns the transfer into a
// tail call. GCC 12 does not below -O2 or under AddressSanitizer, and a 100000-deep chain then
// overflows the stack. So the run loop resumes coroutines through a trampoline (detail::trampoline):
// while one is active on the thread, a transfer hands the next handle to it and returns to it, and the
// trampoline resumes that handle in a loop. Outside a trampoline a transfer is plain symmetric transfer.
//
// Ownership:
//
//     task<T> object --owns--> coroutine frame --(promise)--> continuation (borrowed, not owned)
//
// Destroying a task destroys its frame, including one that is suspended; every corotcp awaitable
// unregisters itself in its destructor, so that is always safe. Single-threaded, no atomics.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "corotcp/util/recycle.hpp"

namespace corotcp {

template <class T = void>
class task;

namespace detail {

struct task_access;

/// Resumes coroutines in a loop so that transfers between them do not nest on the stack.
class trampoline {
public:
    /// Resume `h`, then every handle transferred to while doing so; returns when none is left.
    static void run(std::coroutine_handle<> h) {
        std::coroutine_handle<> next = h;
        struct restore {
            std::coroutine_handle<>* saved;
            ~restore() { slot_ = saved; }
        } guard{std::exchange(slot_, &next)};
        while (next) std::exchange(next, {}).resume();
    }

    /// What an await_suspend returns to switch to `to`: a no-op that returns to the active trampoline
    /// after handing it `to`, or `to` itself (symmetric transfer) when no trampoline is active or it
    /// already holds a handle (someone resumed a coroutine inline inside it).
    [[nodiscard]] static std::coroutine_handle<> transfer(std::coroutine_handle<> to) noexcept {
        if (slot_ == nullptr || *slot_) return to;
        *slot_ = to;
        return std::noop_coroutine();
    }

private:
    static inline thread_local std::coroutine_handle<>* slot_ = nullptr;
};

/// Recycles coroutine frames, per thread (util/recycle.hpp). Request/response code creates and
/// destroys a few frames per message (read, read_exactly, write); with malloc that was 5 % of the
/// 64 B request/response profile. Frames up to 1 KiB are rounded up to 64-byte classes; larger ones
/// go straight to operator new.
class frame_cache {
public:
    [[nodiscard]] [[gnu::always_inline]] static void* allocate(std::size_t n) {
        const std::size_t c = size_class(n);
        if (c >= classes) return ::operator new(n);
        if (void* p = lists::take(c)) return p;
        return ::operator new((c + 1) * granule);
    }

    [[gnu::always_inline]] static void deallocate(void* p, std::size_t n) noexcept {
        const std::size_t c = size_class(n);
        if (c < classes && lists::give(c, p, (c + 1) * granule, 64, 64 * 1024)) return;
        ::operator delete(p);
    }

private:
    static constexpr std::size_t granule = 64;
    static constexpr std::size_t classes = 16; // up to 1 KiB
    using lists = free_lists<classes>;

    [[nodiscard]] static constexpr std::size_t size_class(std::size_t n) noexcept { return n == 0 ? 0 : (n - 1) / granule; }
};

/// The part of every task promise that does not depend on T.
class task_promise_base {
public:
    [[nodiscard]] static void* operator new(std::size_t n) { return frame_cache::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_cache::deallocate(p, n); }

    /// Resumes the awaiter of this task, or returns to whoever resumed it if nobody awaits it.
    struct final_awaiter {
        [[nodiscard]] bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            const std::coroutine_handle<> continuation = self.promise().continuation_;
            return continuation ? trampoline::transfer(continuation) : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    [[nodiscard]] std::suspend_always initial_suspend() const noexcept { return {}; }
    [[nodiscard]] final_awaiter final_suspend() const noexcept { return {}; }

    void set_continuation(std::coroutine_handle<> c) noexcept { continuation_ = c; }

private:
    std::coroutine_handle<> continuation_; // null: nobody awaits this task
};

/// What a task<T> stores: T for objects, a pointer for references.
template <class T>
using task_stored_t = std::conditional_t<std::is_reference_v<T>, std::add_pointer_t<std::remove_reference_t<T>>,
                                         std::remove_cv_t<T>>;

template <class T>
class task_promise final : public task_promise_base {
public:
    task<T> get_return_object() noexcept;

    template <class U = T>
        requires(!std::is_reference_v<T> && std::is_convertible_v<U &&, T>)
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        result_.template emplace<1>(std::forward<U>(value));
    }
    void return_value(T value) noexcept
        requires std::is_reference_v<T>
    {
        result_.template emplace<1>(std::addressof(value));
    }
    void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }

    /// The result as an lvalue (T& for objects, T for references). Rethrows a stored exception.
    decltype(auto) result() & {
        rethrow_if_failed();
        if constexpr (std::is_reference_v<T>) {
            return static_cast<T>(*std::get<1>(result_));
        } else {
            return static_cast<T&>(std::get<1>(result_));
        }
    }
    /// The result moved out. Rethrows a stored exception.
    decltype(auto) result() && {
        rethrow_if_failed();
        if constexpr (std::is_reference_v<T>) {
            return static_cast<T>(*std::get<1>(result_));
        } else {
            return static_cast<T&&>(std::get<1>(result_));
        }
    }

private:
    void rethrow_if_failed() const {
        if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
        if (result_.index() == 0) throw std::logic_error("corotcp::task: result read before the task finished");
    }

    std::variant<std::monostate, task_stored_t<T>, std::exception_ptr> result_;
};

template <>
class task_promise<void> final : public task_promise_base {
public:
    task<void> get_return_object() noexcept;

    void return_void() noexcept { result_.emplace<1>(); }
    void unhandled_exception() noexcept { result_.emplace<2>(std::current_exception()); }

    void result() const {
        if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
        if (result_.index() == 0) throw std::logic_error("corotcp::task: result read before the task finished");
    }

private:
    struct done {};
    std::variant<std::monostate, done, std::exception_ptr> result_;
};

} // namespace detail

/// A lazily started, move-only coroutine producing a T (or an exception).
///
/// `co_await f()` starts f and resumes the caller when f finishes; `co_await t` on a named task does
/// the same and yields a reference to the result (the task keeps it); `co_await std::move(t)` and
/// `co_await f()` yield the result by value (moved out), so nothing can dangle.
template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;

    task() noexcept = default;
    task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    /// False for a default-constructed or moved-from task.
    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }
    /// True once the body has run to completion (returned or thrown).
    [[nodiscard]] bool done() const noexcept { return handle_ && handle_.done(); }

    auto operator co_await() & noexcept { return awaiter<false>{handle_}; }
    auto operator co_await() && noexcept { return awaiter<true>{handle_}; }

private:
    friend promise_type;
    friend struct detail::task_access;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}

    void reset() noexcept {
        if (handle_) std::exchange(handle_, {}).destroy();
    }

    template <bool Move>
    struct awaiter {
        std::coroutine_handle<promise_type> child;

        [[nodiscard]] bool await_ready() const noexcept { return !child || child.done(); }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) noexcept {
            child.promise().set_continuation(parent);
            return detail::trampoline::transfer(child); // start the child right away
        }
        decltype(auto) await_resume() {
            if (!child) throw std::logic_error("corotcp::task: co_await on an empty task");
            if constexpr (Move && !std::is_void_v<T>) {
                return static_cast<T>(std::move(child.promise()).result()); // by value: no dangling
            } else {
                return child.promise().result();
            }
        }
    };

    std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<task_promise>::from_promise(*this)};
}

/// Lets the run loop start a task and read its result without awaiting it from a coroutine.
struct task_access {
    template <class T>
    [[nodiscard]] static std::coroutine_handle<typename task<T>::promise_type> handle(const task<T>& t) noexcept {
        return t.handle_;
    }
};

} // namespace detail
} // namespace corotcp
