// corotcp/async/scheduler.hpp: the part of a run loop that does not depend on the timer policy.
//
// run_loop<Timer> derives from `scheduler`. Code that only needs to post coroutines, arm timers,
// spawn tasks or sleep (notifier, sockets, stacks) takes a `scheduler&` and so works with every
// timer policy; the three timer operations are the only virtual calls.
//
// Also here: poll_source (how protocol stacks plug into the loop), sleep_awaiter (co_await
// loop.sleep_for(d)), and deadlock_error.
//
// Lifetime rules (single-threaded; call everything from the loop's thread):
//   * A posted handle is resumed from the loop, never inline. An awaitable that posted its coroutine
//     and is destroyed before the loop resumed it calls unpost(), so a destroyed frame is never resumed.
//     "From the loop" includes a source's poll(): a stack lets the coroutines its packets woke run
//     before it transmits (resume_ready_in_poll), so their answers leave in the same pass. Such a
//     coroutine may destroy the source being polled; the source then must not touch itself again.
//   * Spawned tasks belong to the loop: a finished one is destroyed at once, the rest when the loop is.
//   * Tasks and awaitables must not outlive the loop they wait on.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "corotcp/async/task.hpp"
#include "corotcp/async/timer_node.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/util/waker.hpp"

namespace corotcp {

/// Something the loop polls once per iteration: a protocol stack, a link. poll() does pending I/O and
/// protocol timers and returns when it next wants to be polled (instant::never() if only new input or
/// a wake-up can give it work). A source may post coroutines (through wakers) while it is polled,
/// and resume them there (resume_ready_in_poll).
struct poll_source {
    virtual instant poll(instant now) = 0;

    /// Extension point for a link that can block in the kernel (the io_uring TUN link). When exactly
    /// one registered source answers true here, the loop calls its wait() instead of sleeping.
    [[nodiscard]] virtual bool can_block() const noexcept { return false; }
    /// Block until I/O may be ready or `deadline` (the loop's clock; may be never) has passed, then
    /// return true. Return false to decline: the loop then waits with its timer policy.
    virtual bool wait(instant deadline) {
        (void)deadline;
        return false;
    }

    virtual ~poll_source() = default;
};

/// Thrown by run()/run_until() when nothing can ever make progress: no coroutine is ready, no timer is
/// armed, no poll_source asked to be polled again, and no blocking source can wait for input.
class deadlock_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

class scheduler;

namespace detail {

/// What the loop runs for a posted coroutine handle: resume it (through the trampoline). A named
/// inline function: its address is one and the same everywhere, so unpost() finds the entry.
inline void resume_frame(void* frame) { trampoline::run(std::coroutine_handle<>::from_address(frame)); }
[[nodiscard]] inline waker resume_waker(std::coroutine_handle<> h) noexcept { return waker{&resume_frame, h.address()}; }

/// FIFO of callbacks (a posted coroutine is the callback that resumes it) in a growable ring
/// buffer: no allocation once warmed up. A callback lets an awaitable react to its event from the
/// loop without a coroutine of its own (inline_op.hpp).
class ready_queue {
public:
    void push(waker w) {
        if (size_ == capacity_) grow();
        slots_[(head_ + size_) & (capacity_ - 1)] = w;
        ++size_;
    }
    waker pop() noexcept {
        const waker w = slots_[head_];
        head_ = (head_ + 1) & (capacity_ - 1);
        --size_;
        return w;
    }
    /// Blanks every queued copy of `w` (pop() then yields an empty waker, which the loop skips).
    void erase(waker w) noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            auto& slot = slots_[(head_ + i) & (capacity_ - 1)];
            if (slot.fn == w.fn && slot.ctx == w.ctx) slot = {};
        }
    }
    void clear() noexcept { head_ = size_ = 0; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

private:
    void grow() {
        const std::size_t capacity = capacity_ == 0 ? 64 : capacity_ * 2;
        auto slots = std::make_unique<waker[]>(capacity);
        for (std::size_t i = 0; i < size_; ++i) slots[i] = slots_[(head_ + i) & (capacity_ - 1)];
        slots_ = std::move(slots);
        capacity_ = capacity;
        head_ = 0;
    }

    std::unique_ptr<waker[]> slots_;
    std::size_t capacity_ = 0; // a power of two
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

struct spawned_link {
    spawned_link* prev = nullptr;
    spawned_link* next = nullptr;
};

/// The coroutine that owns a spawned task: it awaits the task, reports an escaping exception to the
/// scheduler, and destroys itself when done. Live ones are linked into the scheduler's list.
class spawned_frame {
public:
    struct promise_type : spawned_link {
        promise_type(scheduler& owner, task<void>& /*unused*/) noexcept;
        ~promise_type();
        promise_type(const promise_type&) = delete;
        promise_type& operator=(const promise_type&) = delete;

        spawned_frame get_return_object() noexcept {
            return spawned_frame{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        [[nodiscard]] std::suspend_always initial_suspend() const noexcept { return {}; }
        [[nodiscard]] std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        void unhandled_exception() noexcept;

        scheduler* owner;
    };

    std::coroutine_handle<promise_type> handle;
};

inline spawned_frame run_spawned(scheduler& /*owner*/, task<void> t) { co_await std::move(t); }

} // namespace detail

/// `co_await s.sleep_for(d)` / `co_await s.sleep_until(t)`. Completes at once if the time has come;
/// a deadline of instant::never() sleeps until the sleeping task is destroyed.
class [[nodiscard]] sleep_awaiter {
public:
    sleep_awaiter(scheduler& owner, instant deadline) noexcept : owner_(&owner), deadline_(deadline) {}
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter();

    [[nodiscard]] bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    void await_resume() noexcept { posted_ = false; }

private:
    static void on_expire(void* self) noexcept;

    scheduler* owner_;
    instant deadline_;
    timer_node timer_;
    std::coroutine_handle<> waiting_;
    bool posted_ = false; // expired and queued, not yet resumed
};

class scheduler {
public:
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // --- time (the timer policy, type-erased) ---
    [[nodiscard]] virtual instant now() const noexcept = 0;
    /// Low-level: arm an intrusive timer; node.on_expire runs from the loop once it is due.
    virtual void schedule_timer(timer_node& node, instant deadline) noexcept = 0;
    /// Low-level: disarm a timer; a no-op if it is not armed.
    virtual void cancel_timer(timer_node& node) noexcept = 0;

    [[nodiscard]] sleep_awaiter sleep_until(instant deadline) noexcept { return {*this, deadline}; }
    [[nodiscard]] sleep_awaiter sleep_for(duration d) noexcept { return {*this, now() + d}; }

    // --- coroutines ---
    /// Queue `h` to be resumed by the loop (FIFO). Never resumes inline.
    void post(std::coroutine_handle<> h) {
        if (h) ready_.push(detail::resume_waker(h));
    }
    /// Queue `w` to be called by the loop, in the same FIFO: for an awaitable that handles its event
    /// itself (and resumes its coroutine from there, or waits again) instead of a coroutine.
    void post(waker w) {
        if (w) ready_.push(w);
    }
    /// Remove `h` from the ready queue if it is there. For awaitables whose frame is destroyed after
    /// they posted it but before it ran.
    void unpost(std::coroutine_handle<> h) noexcept { ready_.erase(detail::resume_waker(h)); }
    void unpost(waker w) noexcept { ready_.erase(w); }

    /// Run `t` detached: the loop owns it, starts it on its next iteration and destroys it when it
    /// finishes. An exception escaping it is kept (the first one) and rethrown by run()/run_until()/
    /// run_for().
    void spawn(task<void> t) {
        if (!t.valid()) throw std::invalid_argument("corotcp::scheduler::spawn: empty task");
        post(detail::run_spawned(*this, std::move(t)).handle);
    }
    /// Destroys every unfinished spawned task now (and forgets queued handles). An owner that
    /// holds both a loop and the stacks those tasks use calls this before destroying the stacks.
    void destroy_spawned() noexcept { shutdown(); }

    /// Number of spawned tasks that have not finished yet.
    [[nodiscard]] std::size_t spawned_count() const noexcept { return spawned_count_; }

    /// Records an error that must not be lost; the first one is rethrown by the running loop.
    void report_exception(std::exception_ptr e) noexcept {
        if (!pending_exception_) pending_exception_ = std::move(e);
    }

    // --- poll sources ---
    /// Register `s`; it is polled on every loop iteration until removed. Not owned.
    void add_source(poll_source& s) {
        sources_.push_back(&s);
        update_blocking_source();
    }
    /// Unregister `s` (safe from within a poll()).
    void remove_source(poll_source& s) noexcept {
        for (auto& entry : sources_)
            if (entry == &s) entry = nullptr;
        if (!polling_) compact_sources();
        update_blocking_source();
    }

    /// Coroutines are posted and not yet resumed.
    [[nodiscard]] bool has_ready() const noexcept { return !ready_.empty(); }

    /// For a poll_source, from inside its poll(): resumes the coroutines that are ready now (not
    /// those they post). A stack whose packets woke coroutines lets them run before it transmits, so
    /// that their answers leave in the same pass instead of one loop turn later. They are still
    /// resumed from the loop (inside its polling), never from the code that posted them. Does
    /// nothing outside poll_sources().
    void resume_ready_in_poll() {
        if (polling_) run_ready_batch();
    }

protected:
    scheduler() noexcept { spawned_.prev = spawned_.next = &spawned_; }
    ~scheduler() = default; // the derived loop calls shutdown() while its timer policy is alive

    /// Forget queued handles and destroy every unfinished spawned task.
    void shutdown() noexcept {
        ready_.clear();
        while (spawned_.next != &spawned_) {
            auto& promise = static_cast<detail::spawned_frame::promise_type&>(*spawned_.next);
            std::coroutine_handle<detail::spawned_frame::promise_type>::from_promise(promise).destroy();
            ready_.clear(); // awaiters of destroyed frames may have posted others (e.g. ~notifier)
        }
    }

    /// Run what was ready when this was called (not what that posts): resume coroutines, call callbacks.
    void run_ready_batch() {
        for (std::size_t n = ready_.size(); n > 0 && !ready_.empty(); --n) {
            if (const waker w = ready_.pop()) w.fn(w.ctx);
        }
    }

    /// Poll every source; the earliest deadline they return.
    instant poll_sources(instant now) {
        instant next = instant::never();
        polling_ = true;
        struct reset_flag {
            scheduler& s;
            ~reset_flag() {
                s.polling_ = false;
                s.compact_sources();
            }
        } guard{*this};
        for (std::size_t i = 0; i < sources_.size(); ++i) { // by index: a poll may add sources
            if (poll_source* s = sources_[i]) next = earliest(next, s->poll(now));
        }
        return next;
    }
    [[nodiscard]] poll_source* blocking_source() const noexcept { return blocking_; }
    [[nodiscard]] std::size_t source_count() const noexcept { return sources_.size(); }

    void rethrow_reported() {
        if (pending_exception_) std::rethrow_exception(std::exchange(pending_exception_, nullptr));
    }

private:
    friend detail::spawned_frame::promise_type;

    void compact_sources() noexcept {
        std::erase(sources_, nullptr);
    }
    void update_blocking_source() noexcept {
        blocking_ = nullptr;
        std::size_t count = 0;
        for (poll_source* s : sources_) {
            if (s != nullptr && s->can_block()) {
                blocking_ = s;
                ++count;
            }
        }
        if (count != 1) blocking_ = nullptr; // two blocking sources cannot share one thread: sleep instead
    }

    detail::ready_queue ready_;
    detail::spawned_link spawned_;
    std::size_t spawned_count_ = 0;
    std::exception_ptr pending_exception_;
    std::vector<poll_source*> sources_;
    poll_source* blocking_ = nullptr;
    bool polling_ = false;
};

// --- implementation ---

namespace detail {

inline spawned_frame::promise_type::promise_type(scheduler& s, task<void>& /*unused*/) noexcept : owner(&s) {
    prev = s.spawned_.prev;
    next = &s.spawned_;
    prev->next = this;
    s.spawned_.prev = this;
    ++s.spawned_count_;
}

inline spawned_frame::promise_type::~promise_type() {
    prev->next = next;
    next->prev = prev;
    --owner->spawned_count_;
}

inline void spawned_frame::promise_type::unhandled_exception() noexcept {
    owner->report_exception(std::current_exception());
}

} // namespace detail

inline sleep_awaiter::~sleep_awaiter() {
    owner_->cancel_timer(timer_);
    if (posted_) owner_->unpost(waiting_);
}

inline bool sleep_awaiter::await_ready() const noexcept { return deadline_ <= owner_->now(); }

inline void sleep_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
    waiting_ = h;
    timer_.on_expire = waker{&sleep_awaiter::on_expire, this};
    owner_->schedule_timer(timer_, deadline_);
}

inline void sleep_awaiter::on_expire(void* self) noexcept {
    auto* s = static_cast<sleep_awaiter*>(self);
    s->posted_ = true;
    s->owner_->post(s->waiting_);
}

} // namespace corotcp
