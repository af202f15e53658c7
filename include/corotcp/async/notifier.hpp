// corotcp/async/notifier.hpp: wait for "something changed", with a deadline and a stop_token.
//
// The socket layer waits for protocol events with it:
//
//     for (;;) {
//         if (engine_says_ready()) co_return ok;
//         auto r = co_await n.wait(deadline, stop);
//         if (r != wait_result::notified) co_return r == wait_result::timed_out ? errc::operation_timed_out
//                                                                            : errc::operation_canceled;
//     }
//
// and the layers below (tcp/, iface/) call the waker from n.as_waker() when state changes. A
// notification is not remembered: notify_all() resumes the coroutines waiting at that moment. That
// is race-free because the loop is single-threaded: checking the condition and suspending cannot be
// interleaved with a notification.
//
// Every completion (notify, deadline, stop request, destruction of the notifier) posts the waiter to
// the loop's ready queue; nothing is resumed inline, not even from inside a std::stop_callback. The
// first completion wins; the others are ignored. Waiters are intrusive nodes inside the awaiter, so a
// wait allocates nothing. Stop requests must come from the loop's thread.
//
//     notifier ──head──> awaiter ⇄ awaiter ⇄ awaiter     (each awaiter lives in a suspended frame;
//                          │ timer_node (armed in the loop's timer policy if a deadline is given)
//                          │ stop_callback (registered if the token can be stopped)
#pragma once

#include <coroutine>
#include <optional>
#include <stop_token>

#include "corotcp/async/scheduler.hpp"
#include "corotcp/async/timer_node.hpp"
#include "corotcp/util/recycle.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/util/waker.hpp"

namespace corotcp {

enum class wait_result {
    notified,  ///< notify_all()/notify_one() (or the waker) fired.
    timed_out, ///< the deadline passed first.
    canceled,  ///< the stop_token was stopped first, or the notifier was destroyed.
};

/// (Each connection and listener handle owns one on the heap: recycled per thread, see recycle.hpp.)
class notifier final : public detail::recycled_new<notifier> {
public:
    class awaiter;

    explicit notifier(scheduler& loop) noexcept : loop_(&loop) {}
    notifier(const notifier&) = delete; // waiters and wakers point at it
    notifier& operator=(const notifier&) = delete;
    /// Completes every remaining waiter with wait_result::canceled.
    ~notifier();

    /// `co_await n.wait(deadline, stop)`. Completes without suspending if `stop` is already stopped
    /// (canceled) or the deadline has passed (timed_out).
    [[nodiscard]] awaiter wait(instant deadline = instant::never(), std::stop_token stop = {}) noexcept;
    [[nodiscard]] awaiter wait_for(duration timeout, std::stop_token stop = {}) noexcept;

    /// Posts every current waiter with wait_result::notified.
    void notify_all() noexcept;
    /// Posts the longest-waiting waiter, if any; returns whether there was one.
    bool notify_one() noexcept;

    /// A waker whose wake() calls notify_all(). Valid while this notifier lives.
    [[nodiscard]] waker as_waker() noexcept {
        return waker{[](void* self) { static_cast<notifier*>(self)->notify_all(); }, this};
    }

    [[nodiscard]] bool has_waiters() const noexcept { return head_ != nullptr; }
    [[nodiscard]] scheduler& loop() const noexcept { return *loop_; }

private:
    void link(awaiter& a) noexcept;
    void unlink(awaiter& a) noexcept;

    scheduler* loop_;
    awaiter* head_ = nullptr;
    awaiter* tail_ = nullptr;
};

class [[nodiscard]] notifier::awaiter {
public:
    awaiter(notifier& n, instant deadline, std::stop_token stop) noexcept
        : notifier_(&n), loop_(n.loop_), deadline_(deadline), stop_(std::move(stop)) {}
    awaiter(const awaiter&) = delete; // linked into the notifier and the timer wheel by address
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter();

    [[nodiscard]] bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept { suspend_with(detail::resume_waker(h)); }
    /// Waits without a coroutine: on completion the loop calls `on_complete` (which then calls
    /// await_resume() for the result). For awaitables that handle the event themselves.
    void suspend_with(waker on_complete) noexcept;
    wait_result await_resume() noexcept {
        state_ = state::resumed;
        stop_callback_.reset();
        return result_;
    }

private:
    friend class notifier;

    enum class state { initial, waiting, posted, resumed };

    struct on_stop {
        awaiter* self;
        void operator()() const noexcept { self->complete(wait_result::canceled); }
    };
    static void on_expire(void* self) noexcept { static_cast<awaiter*>(self)->complete(wait_result::timed_out); }

    /// The first completion unlinks the waiter from everything and posts it.
    void complete(wait_result r) noexcept {
        if (state_ != state::waiting) return;
        state_ = state::posted;
        result_ = r;
        if (notifier_ != nullptr) notifier_->unlink(*this);
        loop_->cancel_timer(timer_);
        loop_->post(on_complete_);
    }

    notifier* notifier_;      // null once unlinked
    scheduler* loop_;
    instant deadline_;
    std::stop_token stop_;
    waker on_complete_;       // posted on completion: resumes the coroutine, or the caller's callback
    wait_result result_ = wait_result::notified;
    state state_ = state::initial;
    awaiter* prev_ = nullptr; // in the notifier's FIFO of waiters
    awaiter* next_ = nullptr;
    timer_node timer_;
    std::optional<std::stop_callback<on_stop>> stop_callback_;
};

// --- implementation ---

inline notifier::~notifier() {
    while (head_ != nullptr) head_->complete(wait_result::canceled);
}

inline notifier::awaiter notifier::wait(instant deadline, std::stop_token stop) noexcept {
    return awaiter{*this, deadline, std::move(stop)};
}

inline notifier::awaiter notifier::wait_for(duration timeout, std::stop_token stop) noexcept {
    return awaiter{*this, loop_->now() + timeout, std::move(stop)};
}

inline void notifier::notify_all() noexcept {
    // complete() unlinks the head; nothing can join meanwhile because nothing is resumed here.
    while (head_ != nullptr) head_->complete(wait_result::notified);
}

inline bool notifier::notify_one() noexcept {
    if (head_ == nullptr) return false;
    head_->complete(wait_result::notified);
    return true;
}

inline void notifier::link(awaiter& a) noexcept {
    a.prev_ = tail_;
    a.next_ = nullptr;
    (tail_ != nullptr ? tail_->next_ : head_) = &a;
    tail_ = &a;
}

inline void notifier::unlink(awaiter& a) noexcept {
    (a.prev_ != nullptr ? a.prev_->next_ : head_) = a.next_;
    (a.next_ != nullptr ? a.next_->prev_ : tail_) = a.prev_;
    a.prev_ = a.next_ = nullptr;
    a.notifier_ = nullptr;
}

inline bool notifier::awaiter::await_ready() noexcept {
    if (stop_.stop_requested()) {
        result_ = wait_result::canceled;
        return true;
    }
    if (deadline_ <= loop_->now()) {
        result_ = wait_result::timed_out;
        return true;
    }
    return false;
}

inline void notifier::awaiter::suspend_with(waker on_complete) noexcept {
    on_complete_ = on_complete;
    state_ = state::waiting;
    notifier_->link(*this);
    if (!deadline_.is_never()) {
        timer_.on_expire = waker{&awaiter::on_expire, this};
        loop_->schedule_timer(timer_, deadline_);
    }
    // Registering may invoke on_stop at once; it only posts, so suspending afterwards is still right.
    if (stop_.stop_possible()) stop_callback_.emplace(stop_, on_stop{this});
}

inline notifier::awaiter::~awaiter() {
    stop_callback_.reset();
    if (state_ == state::waiting) {
        if (notifier_ != nullptr) notifier_->unlink(*this);
        loop_->cancel_timer(timer_);
    } else if (state_ == state::posted) {
        loop_->unpost(on_complete_);
    }
}

} // namespace corotcp
