// corotcp/async/stack.hpp: the coroutine API: a stack on a link, its listeners and connections.
//
//     corotcp::task<void> serve(auto& s) {
//         auto listener = s.listen(80, {.backlog = 128});
//         for (;;) {
//             auto conn = co_await listener->accept();   // expected<connection>
//             if (!conn) break;
//             s.spawn(handle(std::move(*conn)));
//         }
//     }
//
// A basic_stack joins an iface::interface (the protocol) to a link (the packets) and registers
// itself with a run loop as a poll_source: each loop iteration it moves the link's packets into
// the interface, sends what is due (ACKs first), lets the coroutines those packets woke run, and
// sends what they queued: a request is answered in the pass that delivered it. Connections and listeners are move-only
// handles; destroying one closes it gracefully (close()), never leaks and never dangles: the
// interface keeps an orphaned connection until its close handshake is over.
//
// A stack may also go first. Its live handles sit on an intrusive list (two pointers in each
// handle, touched when a handle opens, moves or closes; never per packet), and its destructor
// detaches them: from then on every call on such a handle fails with errc::stack_destroyed, an
// operation that was waiting wakes and fails with it, and destroying the handle is safe.
//
//     basic_stack ──handles_──> connection ⇄ listener ⇄ connection     (each: stack_, sock_ / l_)
//
// Data comes in and goes out as bytes: std::span of std::uint8_t, std::byte or char (and
// std::string_view for write); the overloads only reinterpret the pointer, nothing is copied.
//
// Every awaitable operation takes op_options: a timeout (operation_timed_out; the connection
// survives) and a std::stop_token (operation_canceled).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "corotcp/async/inline_op.hpp"
#include "corotcp/async/notifier.hpp"
#include "corotcp/async/scheduler.hpp"
#include "corotcp/async/task.hpp"
#include "corotcp/iface/interface.hpp"
#include "corotcp/link/concept.hpp"
#include "corotcp/link/packet.hpp"
#include "corotcp/util/error.hpp"
#include "corotcp/util/expected.hpp"

namespace corotcp {

/// Per-operation limits.
struct op_options {
    duration timeout = duration::max(); ///< operation_timed_out after this long
    std::stop_token stop{};             ///< operation_canceled when stop is requested
};

struct listen_options {
    std::size_t backlog = 128; ///< the most embryonic connections, and the most unaccepted ones (each, as on Linux)
};

struct connect_options {
    std::uint16_t local_port = 0;            ///< 0: an ephemeral port from ip_local_port_range
    std::optional<tcp::config> tcp{};        ///< per-connection settings (default: the stack's)
    duration timeout = duration::max();      ///< beyond the SYN retries' own limit
    std::stop_token stop{};
};

template <link Link, tcp::buffer_policy Buffers>
class basic_stack;
template <link Link, tcp::buffer_policy Buffers>
class basic_listener;

namespace detail {
/// A handle's link in its stack's list of live handles; `on_stack_destroyed` detaches it.
struct handle_hook {
    handle_hook* prev = nullptr;
    handle_hook* next = nullptr;
    void (*on_stack_destroyed)(handle_hook&) noexcept = nullptr;
};

/// The handles (connections, listeners) that refer to one stack, so that a stack destroyed
/// first can detach them. A handle is on the list exactly while it is open.
class handle_list {
public:
    handle_list() = default;
    handle_list(const handle_list&) = delete;
    handle_list& operator=(const handle_list&) = delete;

    void push(handle_hook& h) noexcept {
        h.prev = nullptr;
        h.next = head_;
        if (head_ != nullptr) head_->prev = &h;
        head_ = &h;
    }
    void erase(handle_hook& h) noexcept {
        (h.prev != nullptr ? h.prev->next : head_) = h.next;
        if (h.next != nullptr) h.next->prev = h.prev;
        h.prev = h.next = nullptr;
    }
    /// A handle moved: `to` takes `from`'s place.
    void replace(handle_hook& from, handle_hook& to) noexcept {
        to.prev = std::exchange(from.prev, nullptr);
        to.next = std::exchange(from.next, nullptr);
        (to.prev != nullptr ? to.prev->next : head_) = &to;
        if (to.next != nullptr) to.next->prev = &to;
    }
    /// Empties the list, telling each handle that its stack is gone.
    void detach_all() noexcept {
        while (head_ != nullptr) {
            handle_hook& h = *head_;
            erase(h);
            h.on_stack_destroyed(h);
        }
    }
    [[nodiscard]] std::size_t size() const noexcept {
        std::size_t n = 0;
        for (const handle_hook* h = head_; h != nullptr; h = h->next) ++n;
        return n;
    }

private:
    handle_hook* head_ = nullptr;
};

/// What connection and listener handles share: their stack, the notifier their operations wait
/// on, and their place on the stack's handle list. Derived (CRTP) provides drop_target(), which
/// forgets the engine object the handle refers to.
template <class Derived, class Stack>
class stack_handle : protected handle_hook {
protected:
    stack_handle() noexcept { on_stack_destroyed = &on_destroyed; }
    explicit stack_handle(Stack& s) : stack_(&s), events_(std::make_unique<notifier>(s.loop())) {
        on_stack_destroyed = &on_destroyed;
        s.handles_.push(*this);
    }
    stack_handle(const stack_handle&) = delete;
    stack_handle& operator=(const stack_handle&) = delete;
    ~stack_handle() = default;

    /// Takes o's stack, notifier and place on the list (the caller moves the engine object).
    void take_handle(stack_handle& o) noexcept {
        stack_ = std::exchange(o.stack_, nullptr);
        events_ = std::move(o.events_);
        stack_gone_ = std::exchange(o.stack_gone_, false);
        if (stack_ != nullptr) stack_->handles_.replace(o, *this);
    }
    /// Closing: off the list; operations still waiting complete with operation_canceled.
    void leave_stack() noexcept {
        stack_->handles_.erase(*this);
        stack_ = nullptr;
        events_.reset();
    }

    Stack* stack_ = nullptr;           // set exactly while the handle is open (and on the stack's list)
    std::unique_ptr<notifier> events_; // heap: the engine's waker points at it, handles move
    bool stack_gone_ = false;          // the stack was destroyed before this handle

private:
    /// The stack is being destroyed: forget it; waiting operations wake and fail with stack_destroyed.
    static void on_destroyed(handle_hook& h) noexcept {
        auto& self = static_cast<stack_handle&>(h);
        static_cast<Derived&>(self).drop_target();
        self.stack_ = nullptr;
        self.stack_gone_ = true;
        self.events_->notify_all();
    }
};

/// The same bytes as std::uint8_t (char and std::byte may alias any object): no copy.
template <class T>
    requires(sizeof(T) == 1 && !std::is_const_v<T>)
[[nodiscard]] std::span<std::uint8_t> as_u8(std::span<T> s) noexcept {
    return {reinterpret_cast<std::uint8_t*>(s.data()), s.size()};
}
template <class T>
    requires(sizeof(T) == 1)
[[nodiscard]] std::span<const std::uint8_t> as_u8(std::span<const T> s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
} // namespace detail

/// Contiguous char data that is not a string (std::span<char>, std::vector<char>, std::array<char, N>):
/// strings and literals take write's std::string_view overload instead.
template <class T>
concept char_span = std::convertible_to<const T&, std::span<const char>> && !std::convertible_to<const T&, std::string_view>;

/// A link backed by a real device: wait(deadline) blocks until a packet may be ready or the
/// deadline passes, and returns false if it could not wait (the loop then sleeps instead).
template <class L>
concept blocking_link = link<L> && detail::waitable_link<L>;

/// One TCP connection, as the application holds it.
template <link Link, tcp::buffer_policy Buffers>
class basic_connection : public detail::stack_handle<basic_connection<Link, Buffers>, basic_stack<Link, Buffers>> {
    using handle_base = detail::stack_handle<basic_connection<Link, Buffers>, basic_stack<Link, Buffers>>;

public:
    using stack_type = basic_stack<Link, Buffers>;
    using socket_type = iface::socket<Buffers>;

    basic_connection() = default;
    basic_connection(basic_connection&& o) noexcept { take(o); }
    basic_connection& operator=(basic_connection&& o) noexcept {
        if (this != &o) {
            close();
            take(o);
        }
        return *this;
    }
    ~basic_connection() { close(); }

    [[nodiscard]] bool is_open() const noexcept { return sock_ != nullptr; }

    class read_op;
    class read_exactly_op;
    class write_op;

    /// Reads what is available (at least one byte), waiting if nothing is. Returns 0 only at the
    /// peer's FIN (end of stream) or for an empty buf; an error if the connection failed, the
    /// handle is closed (not_connected) or its stack is gone (stack_destroyed), or the operation
    /// was cancelled or timed out. Like every operation here it is lazy (nothing happens before
    /// the co_await) and completes inline, without suspending, when the data is already there.
    read_op read(std::span<std::uint8_t> buf, op_options o = {}) { return read_op(*this, buf, std::move(o)); }
    read_op read(std::span<std::byte> buf, op_options o = {}) { return read(detail::as_u8(buf), std::move(o)); }
    read_op read(std::span<char> buf, op_options o = {}) { return read(detail::as_u8(buf), std::move(o)); }

    /// Reads exactly buf.size() bytes unless the stream ends first; returns how many were read.
    /// op_options::timeout covers the whole operation, not each read within it.
    read_exactly_op read_exactly(std::span<std::uint8_t> buf, op_options o = {}) {
        return read_exactly_op(*this, buf, std::move(o));
    }
    read_exactly_op read_exactly(std::span<std::byte> buf, op_options o = {}) {
        return read_exactly(detail::as_u8(buf), std::move(o));
    }
    read_exactly_op read_exactly(std::span<char> buf, op_options o = {}) {
        return read_exactly(detail::as_u8(buf), std::move(o));
    }

    /// Writes all of data (waiting for buffer space as needed) or fails.
    write_op write(std::span<const std::uint8_t> data, op_options o = {}) { return write_op(*this, data, std::move(o)); }
    write_op write(std::string_view text, op_options o = {}) {
        return write(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), std::move(o));
    }
    write_op write(std::span<const std::byte> data, op_options o = {}) { return write(detail::as_u8(data), std::move(o)); }
    template <char_span Chars>
    write_op write(const Chars& data, op_options o = {}) {
        return write(detail::as_u8(std::span<const char>(data)), std::move(o));
    }

    /// Half-close: the FIN follows the queued data; completes when the peer acknowledged it all
    /// (the connection stays readable: the peer may keep sending).
    task<std::error_code> shutdown(op_options o = {}) {
        if (sock_ == nullptr) co_return closed_error();
        sock_->tcb.shutdown(loop().now());
        stack_->iface().touch(sock_);
        const instant deadline = detail::deadline_after(loop(), o.timeout);
        for (;;) {
            if (sock_ == nullptr) co_return closed_error();
            const auto& t = sock_->tcb;
            if (t.error()) co_return t.error();
            const auto s = t.current_state();
            // our FIN is acknowledged in exactly these states
            if (s == tcp::state::fin_wait_2 || s == tcp::state::time_wait || s == tcp::state::closed)
                co_return std::error_code{};
            if (auto r = co_await events_->wait(deadline, o.stop); r != wait_result::notified)
                co_return detail::from_wait(r);
        }
    }

    /// Graceful close without waiting: FIN after the queued data (RST if unread data remains, as
    /// Linux does). The handle becomes empty; the stack finishes the close on its own.
    void close() noexcept {
        if (sock_ == nullptr) return;
        stack_->iface().release(loop().now(), sock_);
        sock_ = nullptr;
        this->leave_stack();
    }

    /// Abortive close: RST, queued data discarded; the peer's read fails with connection_reset.
    void abort() noexcept {
        if (sock_ == nullptr) return;
        sock_->tcb.abort(loop().now());
        stack_->iface().touch(sock_);
        close();
    }

    [[nodiscard]] tcp::state state() const noexcept { return sock_ ? sock_->tcb.current_state() : tcp::state::closed; }
    [[nodiscard]] std::error_code error() const noexcept { return sock_ ? sock_->tcb.error() : std::error_code{}; }
    [[nodiscard]] iface::four_tuple endpoints() const noexcept { return sock_ ? sock_->tuple : iface::four_tuple{}; }
    /// The engine underneath, for inspection (and tests).
    [[nodiscard]] const tcp::tcb<Buffers>* tcb() const noexcept { return sock_ ? &sock_->tcb : nullptr; }
    /// TCP_CONGESTION: this connection's congestion-control algorithm, at any time (the stack's
    /// default comes from iface::settings::tcp, a connect()'s from connect_options::tcp).
    void set_congestion_control(tcp::congestion_control c) noexcept {
        if (sock_ != nullptr) sock_->tcb.set_congestion_control(c);
    }

private:
    /// What the three operations below share: their connection, their limits, and how inline_op
    /// waits for them (on the connection's notifier).
    template <class Derived, class R>
    class conn_op : public detail::inline_op<Derived, R> {
    protected:
        conn_op(basic_connection& c, op_options o) noexcept : c_(&c), o_(std::move(o)) {}
        basic_connection* c_;

    private:
        friend detail::inline_op<Derived, R>;
        [[nodiscard]] notifier& events() const noexcept { return *c_->events_; }
        [[nodiscard]] duration timeout() const noexcept { return o_.timeout; }
        [[nodiscard]] const std::stop_token& stop() const noexcept { return o_.stop; }
        op_options o_;
    };

public:
    /// `co_await c.read(buf)`: see read().
    class read_op : public conn_op<read_op, expected<std::size_t>> {
    public:
        read_op(basic_connection& c, std::span<std::uint8_t> buf, op_options o) noexcept
            : read_op::conn_op(c, std::move(o)), buf_(buf) {}

    private:
        friend detail::inline_op<read_op, expected<std::size_t>>;
        std::optional<expected<std::size_t>> attempt() {
            if (buf_.empty() && this->c_->sock_ != nullptr) return std::size_t{0};
            return this->c_->try_read(buf_);
        }
        std::span<std::uint8_t> buf_;
    };

    /// `co_await c.read_exactly(buf)`: see read_exactly().
    class read_exactly_op : public conn_op<read_exactly_op, expected<std::size_t>> {
    public:
        read_exactly_op(basic_connection& c, std::span<std::uint8_t> buf, op_options o) noexcept
            : read_exactly_op::conn_op(c, std::move(o)), buf_(buf) {}

    private:
        friend detail::inline_op<read_exactly_op, expected<std::size_t>>;
        /// Reads until buf is full, the stream ends (the count so far) or it fails (the error).
        std::optional<expected<std::size_t>> attempt() {
            while (got_ < buf_.size()) {
                auto n = this->c_->try_read(buf_.subspan(got_));
                if (!n) return std::nullopt;
                if (!*n) return n->error();
                if (**n == 0) break;
                got_ += **n;
            }
            return got_;
        }
        std::span<std::uint8_t> buf_;
        std::size_t got_ = 0;
    };

    /// `co_await c.write(data)`: see write().
    class write_op : public conn_op<write_op, std::error_code> {
    public:
        write_op(basic_connection& c, std::span<const std::uint8_t> data, op_options o) noexcept
            : write_op::conn_op(c, std::move(o)), data_(data) {}

    private:
        friend detail::inline_op<write_op, std::error_code>;
        std::optional<std::error_code> attempt() { return this->c_->try_write(data_); }
        std::span<const std::uint8_t> data_;
    };

private:
    friend stack_type;
    friend handle_base;
    friend class basic_listener<Link, Buffers>;
    using handle_base::events_;
    using handle_base::stack_;
    using handle_base::stack_gone_;

    basic_connection(stack_type& s, socket_type* sock) : handle_base(s), sock_(sock) {
        sock_->user_waker = events_->as_waker();
    }

    void take(basic_connection& o) noexcept {
        this->take_handle(o);
        sock_ = std::exchange(o.sock_, nullptr);
    }
    void drop_target() noexcept { sock_ = nullptr; }

    [[nodiscard]] std::error_code closed_error() const noexcept {
        return stack_gone_ ? errc::stack_destroyed : errc::not_connected;
    }

    /// One try at reading into buf (not empty): the result, or nullopt if it has to wait.
    [[nodiscard]] std::optional<expected<std::size_t>> try_read(std::span<std::uint8_t> buf) {
        if (sock_ == nullptr) return closed_error();
        auto& t = sock_->tcb;
        // RFC 9293 3.10.7.4: a reset flushes the segment queues; unread data is not delivered.
        if (t.error() == errc::connection_reset) return t.error();
        if (const std::size_t n = t.recv(buf); n > 0) {
            stack_->iface().touch(sock_);
            return n;
        }
        if (t.at_eof()) return std::size_t{0};
        if (t.error()) return t.error();
        if (t.current_state() == tcp::state::closed) return errc::not_connected;
        return std::nullopt;
    }

    /// Queues as much of data as fits and drops it from the front of data: success once all of it
    /// is queued, the error if the connection cannot send, or nullopt if it has to wait for room.
    [[nodiscard]] std::optional<std::error_code> try_write(std::span<const std::uint8_t>& data) {
        while (!data.empty()) {
            if (sock_ == nullptr) return closed_error();
            std::error_code ec;
            const std::size_t n = sock_->tcb.send(data, ec);
            if (ec) return ec;
            if (n == 0) return std::nullopt;
            data = data.subspan(n);
            stack_->iface().touch(sock_);
        }
        if (sock_ == nullptr) return closed_error(); // an empty write on a closed handle fails too
        return std::error_code{};
    }

    [[nodiscard]] scheduler& loop() const noexcept { return stack_->loop(); }

    socket_type* sock_ = nullptr; // set exactly while stack_ is
};

/// A listening port, as the application holds it.
template <link Link, tcp::buffer_policy Buffers>
class basic_listener : public detail::stack_handle<basic_listener<Link, Buffers>, basic_stack<Link, Buffers>> {
    using handle_base = detail::stack_handle<basic_listener<Link, Buffers>, basic_stack<Link, Buffers>>;

public:
    using stack_type = basic_stack<Link, Buffers>;
    using connection_type = basic_connection<Link, Buffers>;

    basic_listener() = default;
    basic_listener(basic_listener&& o) noexcept { take(o); }
    basic_listener& operator=(basic_listener&& o) noexcept {
        if (this != &o) {
            close();
            take(o);
        }
        return *this;
    }
    ~basic_listener() { close(); }

    /// The next established connection from the accept queue. listener_closed after close() (or
    /// on an empty handle), stack_destroyed once the stack is gone.
    task<expected<connection_type>> accept(op_options o = {}) {
        if (l_ == nullptr) co_return closed_error();
        const instant deadline = detail::deadline_after(stack_->loop(), o.timeout);
        for (;;) {
            if (l_ == nullptr) co_return closed_error();
            if (l_->closed) co_return errc::listener_closed;
            if (auto* s = stack_->iface().accept(l_)) co_return connection_type(*stack_, s);
            if (auto r = co_await events_->wait(deadline, o.stop); r != wait_result::notified)
                co_return detail::from_wait(r);
        }
    }

    /// Stops listening; embryonic and unaccepted connections are reset; accept() fails.
    void close() noexcept {
        if (l_ == nullptr) return;
        stack_->iface().close_listener(stack_->loop().now(), l_);
        l_ = nullptr;
        this->leave_stack();
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return l_ ? l_->port : 0; }
    [[nodiscard]] std::size_t accept_queue_size() const noexcept { return l_ ? l_->accept_queue.size() : 0; }
    [[nodiscard]] std::size_t syn_queue_size() const noexcept { return l_ ? l_->syn_queue : 0; }

private:
    friend stack_type;
    friend handle_base;
    using handle_base::events_;
    using handle_base::stack_;
    using handle_base::stack_gone_;

    basic_listener(stack_type& s, iface::listener<Buffers>* l) : handle_base(s), l_(l) {
        l_->user_waker = events_->as_waker();
    }

    void take(basic_listener& o) noexcept {
        this->take_handle(o);
        l_ = std::exchange(o.l_, nullptr);
    }
    void drop_target() noexcept { l_ = nullptr; }

    [[nodiscard]] std::error_code closed_error() const noexcept {
        return stack_gone_ ? errc::stack_destroyed : errc::listener_closed;
    }

    iface::listener<Buffers>* l_ = nullptr; // set exactly while stack_ is
};

/// A TCP/IPv4 stack on one link, driven by a run loop.
template <link Link, tcp::buffer_policy Buffers = tcp::heap_buffers>
class basic_stack final : public poll_source {
public:
    using link_type = Link;
    using connection = basic_connection<Link, Buffers>;
    using listener = basic_listener<Link, Buffers>;
    using interface_type = iface::interface<Buffers>;

    basic_stack(scheduler& loop, Link link, iface::settings s)
        : loop_(&loop), link_(std::move(link)), iface_(with_link_mtu(std::move(s), link_)) {
        loop_->add_source(*this);
    }
    basic_stack(const basic_stack&) = delete;
    basic_stack& operator=(const basic_stack&) = delete;
    /// Handles that outlive the stack are detached (see the header comment); their sockets go
    /// with the interface, without a RST or FIN (as if the host vanished).
    ~basic_stack() override {
        if (alive_ != nullptr) *alive_ = false; // destroyed by a coroutine its poll() resumed
        loop_->remove_source(*this);
        handles_.detach_all();
    }

    /// Starts listening on `port`.
    expected<listener> listen(std::uint16_t port, listen_options o = {}) {
        iface::listener<Buffers>* l = nullptr;
        if (auto ec = iface_.listen(port, o.backlog, l)) return ec;
        return listener(*this, l);
    }

    /// Active open; completes when the connection is established (or refused, timed out, ...).
    task<expected<connection>> connect(wire::ipv4_address remote, std::uint16_t port, connect_options o = {}) {
        typename interface_type::socket_type* s = nullptr;
        if (auto ec = iface_.connect(loop_->now(), remote, port, o.local_port, o.tcp.value_or(iface_.config().tcp), s))
            co_return ec;
        connection c(*this, s);
        const instant deadline = detail::deadline_after(*loop_, o.timeout);
        for (;;) {
            // After a wait, `this` may be gone: only c (detached then) is safe to look at.
            if (!c.is_open()) co_return c.closed_error();
            const auto& t = c.sock_->tcb;
            if (t.error()) co_return t.error();
            if (t.established_once()) co_return std::move(c);
            if (auto r = co_await c.events_->wait(deadline, o.stop); r != wait_result::notified) {
                c.abort();
                co_return detail::from_wait(r);
            }
        }
    }

    void spawn(task<void> t) { loop_->spawn(std::move(t)); }

    [[nodiscard]] scheduler& loop() const noexcept { return *loop_; }
    [[nodiscard]] interface_type& iface() noexcept { return iface_; }
    [[nodiscard]] const interface_type& iface() const noexcept { return iface_; }
    [[nodiscard]] Link& link() noexcept { return link_; }
    [[nodiscard]] wire::ipv4_address address() const noexcept { return iface_.address(); }
    /// Open connection and listener handles on this stack (a walk of the list: for tests).
    [[nodiscard]] std::size_t live_handles() const noexcept { return handles_.size(); }

    /// Calls hook on every state change of every connection (tracing, tests).
    void on_state_change(iface::state_hook hook) { iface_.set_state_hook(std::move(hook)); }
    /// Calls hook with every congestion-control sample of every connection (tcp::cc_sample: cwnd
    /// and ssthresh after each ACK, at a fast retransmit, at a timeout; Linux's tcp_probe).
    void on_congestion_sample(iface::cc_hook hook) { iface_.set_cc_hook(std::move(hook)); }

    /// A netstat-like table of every connection and listener.
    [[nodiscard]] std::string netstat() const {
        std::ostringstream o;
        o << "Proto Local Address          Foreign Address        State        Send-Q  Recv-Q  RTT(ms)\n";
        for (const auto& l : iface_.listeners()) {
            const std::string local = iface_.address().to_string() + ":" + std::to_string(l.port);
            // as ss(8) shows a listener: Send-Q = the backlog, Recv-Q = connections waiting for accept()
            o << "tcp   " << pad(local, 23) << pad("0.0.0.0:*", 23) << pad("LISTEN", 13) << pad(std::to_string(l.backlog), 8)
              << pad(std::to_string(l.accept_queue), 8) << "-\n";
        }
        for (const auto& c : iface_.connections()) {
            const std::string local = c.tuple.local.to_string() + ":" + std::to_string(c.tuple.local_port);
            const std::string remote = c.tuple.remote.to_string() + ":" + std::to_string(c.tuple.remote_port);
            o << "tcp   " << pad(local, 23) << pad(remote, 23) << pad(std::string(tcp::to_string(c.state)), 13)
              << pad(std::to_string(c.send_queue), 8) << pad(std::to_string(c.recv_queue), 8)
              << (c.srtt.us > 0 ? std::to_string(c.srtt.us / 1000) : std::string("-")) << "\n";
        }
        return o.str();
    }

    /// poll_source: link -> interface -> link, once.
    instant poll(instant now) override {
        rx_.clear();
        link_.receive(now, rx_);
        for (auto& p : rx_) {
            iface_.on_packet(now, p.bytes());
            iface_.recycle(std::move(p));
        }
        bool sent = false;
        const auto transmit = [&](packet&& p) {
            link_.transmit(now, std::move(p));
            sent = true;
        };
        // First what is due now (an ACK the peer needs at once goes before any answer, as from a
        // kernel), then the coroutines these packets woke run, and what they queued leaves in this
        // same pass: a request is answered without another loop turn. One of them may destroy the
        // stack; `alive` tells.
        instant next = iface_.poll(now, transmit);
        if (!rx_.empty() && loop_->has_ready()) {
            bool alive = true;
            {
                // (reset even if a coroutine's own promise rethrows out of the resumption)
                struct watch {
                    bool& alive;
                    bool*& slot;
                    ~watch() {
                        if (alive) slot = nullptr;
                    }
                } w{alive, alive_};
                alive_ = &alive;
                loop_->resume_ready_in_poll();
            }
            if (!alive) return now;
            next = iface_.poll(now, transmit);
        }
        // Anything we sent may be answered at once by a peer polled in this same loop.
        if (sent || !rx_.empty()) return now;
        return earliest(next, link_.poll_at());
    }

    /// A link that can block (a real device: `bool wait(instant deadline)`) lets the run loop sleep
    /// in it instead of in the clock, so arriving packets wake the loop at once.
    [[nodiscard]] bool can_block() const noexcept override { return blocking_link<Link>; }
    bool wait(instant deadline) override {
        if constexpr (blocking_link<Link>) return link_.wait(deadline);
        else return false;
    }

private:
    template <class, class>
    friend class detail::stack_handle;

    static iface::settings with_link_mtu(iface::settings s, const Link& l) {
        s.mtu = std::min<std::size_t>(s.mtu, l.mtu());
        s.tso_max = link_tso_max(l); // 0 unless the link cuts TCP super-segments itself (TSO)
        return s;
    }
    static std::string pad(std::string s, std::size_t w) {
        if (s.size() < w) s.append(w - s.size(), ' ');
        else s += ' ';
        return s;
    }

    scheduler* loop_;
    Link link_;
    interface_type iface_;
    packet_batch rx_;
    detail::handle_list handles_;
    bool* alive_ = nullptr; // set while poll() resumes coroutines
};

} // namespace corotcp
