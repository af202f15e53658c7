// corotcp/iface/interface.hpp: one IPv4 address's TCP endpoints, sans-IO.
//
// The interface demultiplexes arriving IPv4 packets to connections, listeners and TIME-WAIT
// records, answers what nobody owns with RST (RFC 9293 3.10.7.1) and ICMP echo with a reply, hands
// ICMP errors to the connection whose segment they quote (RFC 1122 4.2.3.9, RFC 5927, RFC 1191), keeps
// the SYN and accept queues behind each listener's backlog, allocates ephemeral ports and ISNs
// (RFC 6528), and turns the TCBs' segments into IPv4 packets. Like the TCB it takes time in and
// never reads a clock:
//
//     iface.on_packet(now, bytes);            // one arriving IPv4 datagram
//     deadline = iface.poll(now, transmit);   // timers + pending output; transmit(packet&&)
//
// Ownership:
//
//     interface ──owns──> socket (TCB + 4-tuple)  <──borrows── user's connection handle
//         │                  ^ while embryonic or unaccepted: listed in its listener's queues
//         └──owns──> listener, time_wait records (compact: no TCB, no buffers)
//
// A socket lives until its TCB is finished AND the user released it (release()). A released
// socket that reaches TIME_WAIT becomes a compact record.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>
#include <boost/intrusive/unordered_set.hpp>

#include "corotcp/link/packet.hpp"
#include "corotcp/tcp/buffer.hpp"
#include "corotcp/tcp/config.hpp"
#include "corotcp/tcp/isn.hpp"
#include "corotcp/tcp/reset.hpp"
#include "corotcp/tcp/state.hpp"
#include "corotcp/tcp/syncookie.hpp"
#include "corotcp/tcp/tcb.hpp"
#include "corotcp/tcp/time_wait.hpp"
#include "corotcp/util/error.hpp"
#include "corotcp/util/recycle.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/util/waker.hpp"
#include "corotcp/wire/icmp.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/tcp.hpp"

namespace corotcp::iface {

using wire::ipv4_address;

/// A connection's identity: local and remote address and port.
struct four_tuple {
    ipv4_address local;
    std::uint16_t local_port = 0;
    ipv4_address remote;
    std::uint16_t remote_port = 0;

    friend bool operator==(const four_tuple&, const four_tuple&) noexcept = default;
    [[nodiscard]] std::string to_string() const {
        return local.to_string() + "." + std::to_string(local_port) + " > " + remote.to_string() + "." +
               std::to_string(remote_port);
    }
};

struct four_tuple_hash {
    std::size_t operator()(const four_tuple& t) const noexcept {
        std::uint64_t h = (std::uint64_t{t.local.value} << 32 | t.remote.value) * 0x9E3779B97F4A7C15ull;
        h ^= (std::uint64_t{t.local_port} << 16 | t.remote_port) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
        return static_cast<std::size_t>(h ^ (h >> 29));
    }
};

/// Stack-wide settings. Linux's sysctl names are given where one exists, with its default.
struct settings {
    ipv4_address address;            ///< our IPv4 address
    std::size_t mtu = 1500;           ///< the link's IP MTU; MSS = mtu - 40
    std::size_t tso_max = 0;          ///< the link's TSO payload limit (link_tso_max); 0: no super-segments
    tcp::config tcp;                  ///< defaults for every connection
    /// tcp_abort_on_overflow: when the ACK that completes a handshake finds the accept queue full,
    /// reset the connection instead of ignoring the ACK (SYNs that find no room are always dropped)
    bool abort_on_overflow = false;
    /// tcp_syncookies: 0 never; 1 when a listener's SYN queue is full (its backlog taken, but room
    /// in its accept queue); 2 for every SYN. See tcp/syncookie.hpp.
    std::uint8_t syncookies = 1;
    std::uint16_t local_port_low = 32768;  ///< ip_local_port_range
    std::uint16_t local_port_high = 60999;
    std::size_t max_tw_buckets = 262144;   ///< tcp_max_tw_buckets: compact TIME-WAIT records kept at most
    /// tcp_tw_reuse: connect() may take a 4-tuple held by one of our compact TIME-WAITs if that
    /// connection used timestamps (PAWS then tells the old segments from the new) and its TIME-WAIT
    /// began at least tw_reuse_delay ago. 0: never; 1: always; 2: only to or from 127.0.0.0/8.
    std::uint8_t tw_reuse = 2;
    duration tw_reuse_delay = duration::seconds(1); ///< tcp_tw_reuse_delay (Linux 6.13; 1 s before)
    std::optional<std::array<std::uint8_t, 16>> isn_secret; ///< RFC 6528 key (random if unset)
    /// Linux's route_localnet: accept datagrams from 127.0.0.0/8 although our own address is not
    /// on it (else they are martians, RFC 1122 3.2.1.3).
    bool route_localnet = false;
};

/// Interface-wide counters.
struct counters {
    std::uint64_t packets_in = 0;
    std::uint64_t packets_out = 0;
    std::uint64_t malformed = 0;       ///< failed a length or checksum check
    std::uint64_t not_for_us = 0;      ///< other destination address or protocol
    std::uint64_t fragments_dropped = 0;
    std::uint64_t martian_sources = 0; ///< dropped: a source no host may send from (RFC 1122 3.2.1.3; martian_source)
    std::uint64_t source_routed = 0;   ///< dropped: a source route option (Linux's accept_source_route = 0)
    std::uint64_t resets_sent = 0;     ///< for segments nobody owns
    std::uint64_t syn_overflow = 0;    ///< SYNs (and cookies' ACKs) dropped, or SYNs reset, for a full backlog
    std::uint64_t syncookies_sent = 0;   ///< SYN-ACKs whose ISN is a SYN cookie (no state kept)
    std::uint64_t syncookies_recv = 0;   ///< connections built from a returning cookie
    std::uint64_t syncookies_failed = 0; ///< ACKs to a listener that had sent cookies, not carrying one
    std::uint64_t tw_overflow = 0;     ///< TIME-WAITs skipped because max_tw_buckets was reached
    std::uint64_t tw_new_incarnations = 0; ///< TIME-WAITs ended by a new connection's SYN (RFC 6191)
    std::uint64_t tw_reused = 0;       ///< TIME-WAITs whose 4-tuple connect() took (tw_reuse)
    std::uint64_t icmp_echo_replies = 0;
    std::uint64_t icmp_other = 0;       ///< ICMP messages of types we do not use, silently discarded (RFC 1122 3.2.2)
    std::uint64_t icmp_errors = 0;      ///< destination unreachable, time exceeded and parameter problem received
    std::uint64_t icmp_ignored = 0;     ///< ...about no connection of ours, or out of window (RFC 5927 4.1)
    std::uint64_t icmp_soft_errors = 0; ///< ...remembered by a connection (reported if it times out)
    std::uint64_t icmp_aborts = 0;      ///< ...that failed a connection attempt
    std::uint64_t pmtu_reductions = 0;  ///< fragmentation-needed messages that lowered a path MTU
};

namespace detail {
struct dirty_tag;
using dirty_hook = boost::intrusive::list_base_hook<boost::intrusive::tag<dirty_tag>,
                                                    boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
using timer_hook = boost::intrusive::set_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
struct table_tag;
/// Membership of the connection table: the socket itself is the hash node (no allocation per entry).
using table_hook = boost::intrusive::unordered_set_base_hook<boost::intrusive::tag<table_tag>>;
} // namespace detail

template <tcp::buffer_policy Buffers>
class interface;

template <tcp::buffer_policy Buffers>
struct listener;

/// One connection: its TCB and where it belongs. (Allocated per connection: recycled per thread,
/// see util/recycle.hpp.)
template <tcp::buffer_policy Buffers>
struct socket final : detail::dirty_hook, detail::timer_hook, detail::table_hook,
                      corotcp::detail::recycled_new<socket<Buffers>> {
    socket(interface<Buffers>& o, const four_tuple& t, std::shared_ptr<const tcp::config> c)
        : owner(&o), tuple(t), tcb(std::move(c), t.local_port, t.remote_port) {}

    interface<Buffers>* owner;
    four_tuple tuple;
    tcp::tcb<Buffers> tcb;
    listener<Buffers>* parent = nullptr; ///< set while embryonic or waiting in an accept queue
    bool user_owned = false;             ///< a user handle refers to this socket
    bool queued_for_accept = false;
    instant deadline = instant::never(); ///< the key of the timer set (tcb.next_deadline())
    waker user_waker;                    ///< wakes the handle's coroutines

    friend bool operator<(const socket& a, const socket& b) noexcept { return a.deadline < b.deadline; }
};

/// A passive open: the port, its backlog, its SYN queue (embryonic connections, SYN_RCVD) and
/// its accept queue (established, not yet accepted). As on Linux, each queue holds up to the
/// backlog: a SYN that finds the SYN queue full gets a cookie (or is dropped), one that finds the
/// accept queue full is dropped, and an embryonic connection completes only into a queue with room.
template <tcp::buffer_policy Buffers>
struct listener {
    std::uint16_t port = 0;
    std::size_t backlog = 128;
    std::size_t syn_queue = 0;
    std::deque<socket<Buffers>*> accept_queue;
    waker user_waker;
    bool closed = false;
    std::uint64_t overflows = 0;
    std::optional<instant> last_cookie; ///< when this listener last answered with a SYN cookie
};

/// What a netstat-like view shows of one connection.
struct connection_info {
    four_tuple tuple;
    tcp::state state = tcp::state::closed;
    std::size_t send_queue = 0;
    std::size_t recv_queue = 0;
    duration srtt;
    duration rto;
    std::uint32_t cwnd = 0;
    std::uint64_t retransmits = 0;
};

struct listener_info {
    std::uint16_t port = 0;
    std::size_t backlog = 0;
    std::size_t syn_queue = 0;
    std::size_t accept_queue = 0;
};

/// Called on every state change of every connection (and of listeners: CLOSED <-> LISTEN).
using state_hook = std::function<void(const four_tuple&, tcp::state from, tcp::state to, tcp::event why)>;

/// Called with every congestion-control sample of every connection (tcp::cc_sample: after each
/// ACK processed, at a fast retransmit, at a retransmission timeout), as Linux's tcp_probe. It is
/// called in the middle of the connection's processing: it may record and print, but must not
/// write to, close or abort a connection, nor set another hook.
using cc_hook = std::function<void(const four_tuple&, const tcp::cc_sample&)>;

template <tcp::buffer_policy Buffers = tcp::heap_buffers>
class interface {
public:
    using socket_type = socket<Buffers>;
    using listener_type = listener<Buffers>;

    explicit interface(settings s)
        : cfg_(std::move(s)), isn_(make_secret(cfg_.isn_secret)), cookies_(isn_.secret()) {
        cfg_.tcp.mss = static_cast<std::uint16_t>(std::min<std::size_t>(cfg_.mtu, 0xFFFF) - 40);
        cfg_.tcp.tso_max = static_cast<std::uint32_t>(std::min<std::size_t>(cfg_.tso_max, 0xFFFF));
        shared_tcp_ = std::make_shared<const tcp::config>(cfg_.tcp);
        next_port_ = static_cast<std::uint32_t>(isn_.generate(instant{}, 0, 0, 0, 0).value()); // (RFC 6056: any start)
    }

    interface(const interface&) = delete;
    interface& operator=(const interface&) = delete;

    ~interface() {
        dirty_.clear();
        timers_.clear();
        table_.clear_and_dispose([](socket_type* s) { delete s; });
        for (socket_type* s : detached_) delete s;
    }

    // ------------------------------------------------------------------ user side

    /// Passive open on `port` (address_in_use if another listener has it).
    std::error_code listen(std::uint16_t port, std::size_t backlog, listener_type*& out) {
        if (port == 0 || listeners_.contains(port)) return errc::address_in_use;
        auto l = std::make_unique<listener_type>();
        l->port = port;
        l->backlog = std::max<std::size_t>(backlog, 1);
        out = l.get();
        listeners_.emplace(port, std::move(l));
        if (hook_) hook_(four_tuple{cfg_.address, port, {}, 0}, tcp::state::closed, tcp::state::listen, tcp::event::user_listen);
        return {};
    }

    /// Closes a listener: embryonic and unaccepted connections are aborted (RST), as on Linux.
    void close_listener(instant now, listener_type* l) {
        if (l == nullptr || l->closed) return;
        l->closed = true;
        for (auto& s : table_)
            if (s.parent == l) {
                s.parent = nullptr;
                s.queued_for_accept = false;
                s.tcb.abort(now);
                mark_dirty(s);
            }
        l->accept_queue.clear();
        l->syn_queue = 0;
        l->user_waker.wake();
        if (hook_) hook_(four_tuple{cfg_.address, l->port, {}, 0}, tcp::state::listen, tcp::state::closed, tcp::event::user_close);
        listeners_.erase(l->port);
    }

    /// Takes the oldest established connection off a listener's accept queue (nullptr if none).
    socket_type* accept(listener_type* l) {
        if (l == nullptr || l->accept_queue.empty()) return nullptr;
        socket_type* s = l->accept_queue.front();
        l->accept_queue.pop_front();
        s->parent = nullptr;
        s->queued_for_accept = false;
        s->user_owned = true;
        return s;
    }

    /// Active open to remote:port from local_port (0: an ephemeral port). The SYN goes out at the
    /// next poll(). Fails with address_in_use if the 4-tuple is taken (also while in TIME-WAIT,
    /// unless tw_reuse lets us take it), address_not_available if no ephemeral port is free.
    std::error_code connect(instant now, ipv4_address remote, std::uint16_t port, std::uint16_t local_port,
                            const tcp::config& c, socket_type*& out) {
        if (port == 0 || remote.is_unspecified()) return errc::invalid_argument;
        // RFC 1122 4.2.3.10: no connection to a broadcast or multicast address (Linux: ENETUNREACH)
        if (remote.is_broadcast() || remote.is_multicast()) return errc::network_unreachable;
        four_tuple t{cfg_.address, local_port, remote, port};
        std::optional<tcp::time_wait_record> reused;
        if (local_port == 0) {
            if (!pick_ephemeral_port(now, t, reused)) return errc::address_not_available;
        } else if (tuple_in_use(t) && !(reused = take_time_wait_for_reuse(now, t))) {
            return errc::address_in_use;
        }
        socket_type& s = add_socket(t, with_mss(c));
        s.user_owned = true;
        const wire::seq32 isn = generate_isn(now, t);
        s.tcb.open_active(now, reused ? tcp::new_incarnation_isn(*reused, isn) : isn);
        mark_dirty(s);
        out = &s;
        return {};
    }

    /// The user's handle is gone: close (orphan) the connection; it finishes on its own.
    void release(instant now, socket_type* s) {
        if (s == nullptr) return;
        s->user_owned = false;
        s->user_waker = {};
        s->tcb.set_waker({});
        s->tcb.close(now);
        mark_dirty(*s);
    }

    /// The user changed something (sent, read, shut down): give the socket a turn at the next poll.
    void touch(socket_type* s) { mark_dirty(*s); }

    void set_state_hook(state_hook h) { hook_ = std::move(h); }
    /// Sets (or, with an empty function, removes) the congestion-control hook, for the connections
    /// that exist and those to come.
    void set_cc_hook(cc_hook h) {
        cc_hook_ = std::move(h);
        for (auto& s : table_) s.tcb.set_state_observer(observer_for(s));
    }
    [[nodiscard]] const settings& config() const noexcept { return cfg_; }
    [[nodiscard]] const counters& stats() const noexcept { return stats_; }
    [[nodiscard]] ipv4_address address() const noexcept { return cfg_.address; }
    [[nodiscard]] std::size_t connection_count() const noexcept { return table_.size(); }
    [[nodiscard]] std::size_t time_wait_count() const noexcept { return time_wait_.size(); }

    /// The TIME-WAIT record for a 4-tuple, if the connection is in compact TIME-WAIT.
    [[nodiscard]] const tcp::time_wait_record* find_time_wait(const four_tuple& t) const {
        auto it = time_wait_.find(t);
        return it == time_wait_.end() ? nullptr : &it->second;
    }

    /// A netstat-like snapshot.
    [[nodiscard]] std::vector<connection_info> connections() const {
        std::vector<connection_info> v;
        v.reserve(table_.size() + time_wait_.size());
        for (const auto& s : table_) {
            const auto& b = s.tcb;
            v.push_back({s.tuple, b.current_state(), b.send_queue(), b.recv_queue(), b.rtt().srtt(), b.rtt().rto(),
                         b.cwnd(), b.stats().retransmits});
        }
        for (const auto& [t, r] : time_wait_) v.push_back({t, tcp::state::time_wait, 0, 0, {}, {}, 0, 0});
        return v;
    }

    [[nodiscard]] std::vector<listener_info> listeners() const {
        std::vector<listener_info> v;
        for (const auto& [p, l] : listeners_) v.push_back({p, l->backlog, l->syn_queue, l->accept_queue.size()});
        return v;
    }

    // ------------------------------------------------------------------ packet side

    /// One arriving IPv4 datagram. Malformed input is counted and dropped, never trusted.
    void on_packet(instant now, std::span<const std::uint8_t> bytes) {
        ++stats_.packets_in;
        const auto view = wire::ipv4_view::from_bytes(bytes);
        if (!view) return count_malformed();
        const auto ip = wire::ipv4_repr::parse(*view);
        if (!ip) return count_malformed();
        if (ip->dst != cfg_.address) { ++stats_.not_for_us; return; }
        if (martian_source(ip->src)) { ++stats_.martian_sources; return; }
        if (view->header_len() > wire::ipv4_header_len) {
            switch (view->check_options()) {
            case wire::ipv4_view::options_verdict::ok: break;
            case wire::ipv4_view::options_verdict::source_route: ++stats_.source_routed; return;
            case wire::ipv4_view::options_verdict::malformed: return count_malformed();
            }
        }
        if (view->is_fragment()) { ++stats_.fragments_dropped; return; }
        const auto payload = view->payload();
        if (ip->protocol == wire::ip_protocol::tcp) return on_tcp(now, *ip, payload);
        if (ip->protocol == wire::ip_protocol::icmp) return on_icmp(now, *ip, payload);
        ++stats_.not_for_us;
    }

    /// RFC 1122 3.2.1.3: a source no host may send from - 0.0.0.0, the limited broadcast, a
    /// multicast group, our own address, or loopback (127/8) unless we are on it - is silently
    /// discarded; else a forged SYN or echo request would make us answer a broadcast or a group
    /// (Linux's martian_source).
    [[nodiscard]] bool martian_source(ipv4_address src) const noexcept {
        return src.is_unspecified() || src.is_broadcast() || src.is_multicast() || src == cfg_.address ||
               (src.is_loopback() && !cfg_.address.is_loopback() && !cfg_.route_localnet);
    }

    /// Fires due timers, lets every socket with work emit, and returns the next deadline.
    /// `tx(packet&&)` receives each packet to send.
    template <class Tx>
    instant poll(instant now, Tx&& tx) {
        expire_time_waits(now);
        while (!timers_.empty() && timers_.begin()->deadline <= now) {
            socket_type& s = *timers_.begin();
            timers_.erase(timers_.iterator_to(s));
            s.deadline = instant::never();
            mark_dirty(s);
        }
        // One turn per socket per poll: a socket that wants another turn at once (its output is
        // still ready) gets it at the next poll, which the returned deadline asks for. A TCB that
        // keeps claiming output it never emits then cannot hang this loop.
        dirty_list turn;
        turn.splice(turn.end(), dirty_);
        while (!turn.empty()) {
            socket_type& s = turn.front();
            turn.pop_front();
            s.tcb.poll(now, [&](const tcp::segment_out& seg) { emit_tcp(s.tuple, seg, tx); });
            settle(now, s, s.tcb.next_deadline());
        }
        flush_replies(tx);
        if (!dirty_.empty()) return now;
        instant next = instant::never();
        if (!timers_.empty()) next = timers_.begin()->deadline;
        if (!tw_expiry_.empty()) next = earliest(next, tw_expiry_.top().first);
        return next;
    }

    /// Returns a received packet's storage to the pool of packets for sending. The pool is per
    /// thread, shared by every interface on it: in a bulk transfer between two stacks of one thread
    /// the receiver gets the big packets and the sender needs them (a pool per interface made the
    /// sender allocate every packet: 10 % of the bulk profile in malloc and free).
    void recycle(packet&& p) {
        auto& pool = packet_pool();
        if (pool.size() < 512 && p.capacity() > 0) {
            p.clear();
            pool.push_back(std::move(p));
        }
    }

private:
    // ------------------------------------------------------------------ TCP demultiplexing

    /// The checksum is verified exactly once per segment: for the next in-order data of a
    /// connection, fused with copying the payload to its place in the receive buffer
    /// (tcb::receive_landing), so a payload byte is read once on the way in; otherwise on its own.
    void on_tcp(instant now, const wire::ipv4_repr& ip, std::span<const std::uint8_t> bytes) {
        bytes = bytes.first(std::min<std::size_t>(bytes.size(), ip.payload_length));
        auto seg = wire::tcp_repr::parse(bytes, ip.src, ip.dst, /*verify_checksum=*/false);
        const auto view = wire::tcp_view::from_bytes(bytes);
        if (!seg || !view) return count_malformed();
        const four_tuple t{ip.dst, seg->dst_port, ip.src, seg->src_port};
        if (auto it = table_.find(t); it != table_.end()) {
            socket_type& s = *it;
            std::span<std::uint8_t> landing;
            if (!wire::tcp_flags{seg->flags}.any(wire::tcp_flags::syn | wire::tcp_flags::rst))
                landing = s.tcb.receive_landing(seg->seq, seg->payload.size());
            if (!landing.empty()) {
                if (!view->verify_checksum_copying_payload(ip.src, ip.dst, landing.data())) return count_malformed();
                seg->payload = landing;
            } else if (!view->verify_checksum(ip.src, ip.dst)) {
                return count_malformed();
            }
            // A finished connection whose handle the user still holds is gone for the peer: answer
            // as for no connection at all (RFC 9293 3.10.7.1), not with silence, and let a SYN reach
            // a listener of the port (Linux unhashes a socket when it closes).
            const tcp::state st = s.tcb.current_state();
            if (st == tcp::state::closed) {
                const auto l = listeners_.find(t.local_port);
                if (l == listeners_.end() || !seg->has(wire::tcp_flags::syn) || seg->has(wire::tcp_flags::ack) ||
                    seg->has(wire::tcp_flags::rst))
                    return reply_reset(t, *seg);
                retire(s);
                return on_listener_segment(now, *l->second, t, *seg);
            }
            if (st == tcp::state::time_wait && take_new_incarnation(now, s, *seg)) return;
            if (st == tcp::state::syn_rcvd && s.parent != nullptr && s.parent->accept_queue.size() >= s.parent->backlog &&
                seg->has(wire::tcp_flags::ack) && !wire::tcp_flags{seg->flags}.any(wire::tcp_flags::syn | wire::tcp_flags::rst))
                return accept_queue_overflow(s, *seg);
            s.tcb.on_segment(now, *seg);
            // A segment that leaves nothing to send and no timer due (a delayed ACK, an ACK that
            // opens no room) needs no turn of its own: settle at once.
            if (s.detail::dirty_hook::is_linked()) return;
            const instant d = s.tcb.next_deadline();
            if (d <= now || s.tcb.persist_needed()) return mark_dirty(s);
            return settle(now, s, d);
        }
        if (!view->verify_checksum(ip.src, ip.dst)) return count_malformed();
        if (auto it = time_wait_.find(t); it != time_wait_.end()) return on_time_wait_segment(now, it->second, t, *seg);
        if (auto it = listeners_.find(seg->dst_port); it != listeners_.end())
            return on_listener_segment(now, *it->second, t, *seg);
        reply_reset(t, *seg);
    }

    /// RFC 9293 3.10.7.2 (LISTEN): RST ignored; ACK answered with RST; SYN opens a child, with
    /// ISN `isn` if given (a new incarnation of a TIME-WAIT), else one from the RFC 6528 generator.
    void on_listener_segment(instant now, listener_type& l, const four_tuple& t, const wire::tcp_repr& seg,
                             std::optional<wire::seq32> isn = std::nullopt) {
        using wire::tcp_flags;
        if (seg.has(tcp_flags::rst)) return;
        if (seg.has(tcp_flags::ack)) {
            if (!seg.has(tcp_flags::syn) && l.last_cookie && take_syn_cookie(now, l, t, seg)) return;
            return reply_reset(t, seg);
        }
        if (!seg.has(tcp_flags::syn)) return;
        // Linux's tcp_conn_request: the SYN queue (embryonic connections) and the accept queue each
        // hold up to the backlog. A full SYN queue means a cookie (or a drop without cookies); a
        // full accept queue drops every SYN. A new incarnation of a TIME-WAIT (isn) is not held to
        // the SYN queue ("TW buckets are converted to open requests without limitations").
        const bool syn_queue_full = l.syn_queue >= l.backlog;
        if (l.accept_queue.size() >= l.backlog || (syn_queue_full && !isn && cfg_.syncookies == 0)) return overflow(l);
        if (!isn && (cfg_.syncookies == 2 || syn_queue_full)) return send_syn_cookie(now, l, t, seg);
        socket_type& s = add_socket(t, cfg_.tcp);
        s.parent = &l;
        ++l.syn_queue;
        s.tcb.open_passive(now, isn ? *isn : generate_isn(now, t), seg);
        mark_dirty(s);
    }

    /// A SYN the listener's queues have no room for: dropped, never reset (the client's SYN
    /// retransmissions try again; Linux likewise, whatever tcp_abort_on_overflow says).
    void overflow(listener_type& l) {
        ++l.overflows;
        ++stats_.syn_overflow;
    }

    /// The ACK that completes an embryonic connection finds the accept queue full (Linux's
    /// tcp_check_req, listen_overflow): with abort_on_overflow the connection is reset and dropped;
    /// else the ACK is ignored, the connection stays in SYN_RCVD, and the peer's next ACK or data
    /// (or its answer to our next SYN-ACK) tries again.
    void accept_queue_overflow(socket_type& s, const wire::tcp_repr& seg) {
        overflow(*s.parent);
        if (!cfg_.abort_on_overflow) return;
        reply_reset(s.tuple, seg);
        destroy(s);
    }

    /// Answers a SYN with a SYN-ACK whose ISN is a SYN cookie, and keeps nothing.
    void send_syn_cookie(instant now, listener_type& l, const four_tuple& t, const wire::tcp_repr& syn) {
        const tcp::config& c = cfg_.tcp;
        wire::tcp_repr a{};
        a.src_port = t.local_port;
        a.dst_port = t.remote_port;
        const bool ts = c.timestamps && syn.options.timestamps;
        a.seq = cookies_.make(now, t.local.value, t.local_port, t.remote.value, t.remote_port, syn.seq,
                              syn.options.mss.value_or(536), ts);
        a.ack = syn.seq + 1;
        a.flags = wire::tcp_flags::syn | wire::tcp_flags::ack;
        a.options.mss = c.mss;
        if (ts) { // the other options ride in our TSval's low bits
            tcp::syn_cookie_ts_bits bits;
            if (c.window_scaling && syn.options.window_scale) {
                bits.peer_wscale = *syn.options.window_scale;
                a.options.window_scale = tcp::tcb<Buffers>::offered_wscale(c);
            }
            bits.sack = c.sack && syn.options.sack_permitted;
            a.options.sack_permitted = bits.sack;
            // the TSval a connection of ISN a.seq would send (its offset is its ISN)
            const std::uint32_t tsval = tcp::tsval_clock(now, a.seq.value());
            a.options.timestamps = wire::tcp_timestamps{tcp::syn_cookies::encode_tsval(tsval, bits), syn.options.timestamps->value};
        }
        a.window = static_cast<std::uint16_t>(std::min<std::size_t>(tcp::tcb<Buffers>::recv_capacity(c), 0xFFFF));
        l.last_cookie = now;
        ++stats_.syncookies_sent;
        replies_.push_back({t, a});
    }

    /// An ACK to a listener that answered with cookies lately: if it brings one back, the
    /// connection is built from it (ESTABLISHED, into the accept queue). False: not a cookie.
    bool take_syn_cookie(instant now, listener_type& l, const four_tuple& t, const wire::tcp_repr& ack) {
        if (cfg_.syncookies == 0 || now - *l.last_cookie > tcp::syn_cookies::period * 2) return false;
        const wire::seq32 peer_isn = ack.seq - 1u;
        const wire::seq32 iss = ack.ack - 1u;
        const auto got = cookies_.check(now, t.local.value, t.local_port, t.remote.value, t.remote_port, peer_isn, iss);
        // the SYN-ACK offered timestamps: an ACK without them cannot say what else was agreed
        if (!got || (got->timestamps && !ack.options.timestamps)) {
            ++stats_.syncookies_failed;
            return false;
        }
        if (l.accept_queue.size() >= l.backlog) { // dropped quietly: the peer sends again (Linux too)
            ++l.overflows;
            ++stats_.syn_overflow;
            return true;
        }
        wire::tcp_repr syn{}; // the SYN, as far as the cookie remembers it
        syn.src_port = t.remote_port;
        syn.dst_port = t.local_port;
        syn.seq = peer_isn;
        syn.flags = wire::tcp_flags::syn;
        syn.window = ack.window;
        syn.options.mss = got->mss;
        if (got->timestamps) {
            const auto bits = tcp::syn_cookies::decode_tsval(ack.options.timestamps->echo);
            syn.options.window_scale = bits.peer_wscale;
            syn.options.sack_permitted = bits.sack;
            syn.options.timestamps = wire::tcp_timestamps{ack.options.timestamps->value, 0};
        }
        socket_type& s = add_socket(t, cfg_.tcp);
        s.parent = &l;
        ++stats_.syncookies_recv;
        s.tcb.open_from_cookie(now, iss, syn, ack);
        if (s.tcb.established_once()) { // straight into the accept queue (so this batch's next ACK sees it)
            queue_for_accept(l, s);
        } else {
            ++l.syn_queue;
        }
        mark_dirty(s);
        return true;
    }

    wire::seq32 generate_isn(instant now, const four_tuple& t) {
        return isn_.generate(now, t.local.value, t.local_port, t.remote.value, t.remote_port);
    }

    /// The listener that takes a new incarnation's SYN for `port`, if any. With its accept queue
    /// full, the SYN is dropped as any SYN would be, and TIME-WAIT stays; a full SYN queue does
    /// not stop it (Linux: TIME-WAITs become requests "without limitations").
    listener_type* listener_for_new_incarnation(const four_tuple& t) {
        const auto l = listeners_.find(t.local_port);
        if (l == listeners_.end()) return nullptr;
        if (l->second->accept_queue.size() >= l->second->backlog) {
            overflow(*l->second); // no cookie: an ACK for it would meet the TIME-WAIT
            return nullptr;
        }
        return l->second.get();
    }

    /// A SYN for a full TCB in TIME_WAIT (its handle still held, or not yet compacted): if it opens
    /// a new incarnation and a listener takes it, the old connection ends (CLOSED, no error; a held
    /// handle keeps it, out of the table) and the listener opens the new one.
    bool take_new_incarnation(instant now, socket_type& s, const wire::tcp_repr& seg) {
        if (!seg.has(wire::tcp_flags::syn) || !s.tcb.is_new_incarnation(seg)) return false;
        const four_tuple t = s.tuple;
        listener_type* l = listener_for_new_incarnation(t);
        if (l == nullptr) return listeners_.contains(t.local_port); // a full backlog dropped it
        const tcp::time_wait_record old = s.tcb.to_time_wait_record();
        s.tcb.end_time_wait_for_new_incarnation(now);
        ++stats_.tw_new_incarnations;
        retire(s);
        on_listener_segment(now, *l, t, seg, tcp::new_incarnation_isn(old, generate_isn(now, t)));
        return true;
    }

    /// Takes a CLOSED connection out of the table, so that a new one may have its 4-tuple: a held
    /// handle keeps it (and sees CLOSED) until it lets go, when destroy() frees it; else it goes now.
    void retire(socket_type& s) {
        if (s.user_owned) {
            table_.erase(table_.iterator_to(s));
            detached_.push_back(&s);
        } else {
            destroy(s);
        }
    }

    void on_time_wait_segment(instant now, tcp::time_wait_record& r, const four_tuple& t, const wire::tcp_repr& seg) {
        auto verdict = tcp::classify_in_time_wait(r, seg);
        if (verdict == tcp::time_wait_verdict::new_incarnation) {
            if (listener_type* l = listener_for_new_incarnation(t)) {
                const tcp::time_wait_record old = r;
                time_wait_.erase(t); // its expiry entry finds nothing and is skipped
                ++stats_.tw_new_incarnations;
                if (hook_) hook_(t, tcp::state::time_wait, tcp::state::closed, tcp::event::rcv_syn);
                return on_listener_segment(now, *l, t, seg, tcp::new_incarnation_isn(old, generate_isn(now, t)));
            }
            if (listeners_.contains(t.local_port)) return; // a full backlog dropped it
            verdict = tcp::time_wait_verdict::ack;          // no listener: ACK, as for any SYN
        }
        switch (verdict) {
        case tcp::time_wait_verdict::drop:
        case tcp::time_wait_verdict::new_incarnation: return; // (handled above: never here)
        case tcp::time_wait_verdict::ack_and_restart:
            r.expires = now + duration::millis(r.two_msl_ms);
            tw_expiry_.emplace(r.expires, t);
            break;
        case tcp::time_wait_verdict::ack:
            if (!tcp::invalid_segment_ack_allowed(r.last_oow_ack_ms, seg, now, cfg_.tcp.invalid_ratelimit)) return;
            break;
        }
        wire::tcp_repr a{};
        a.src_port = t.local_port;
        a.dst_port = t.remote_port;
        a.seq = r.snd_nxt;
        a.ack = r.rcv_nxt;
        a.flags = wire::tcp_flags::ack;
        a.window = r.window;
        a.options.timestamps = r.timestamps(now);
        replies_.push_back({t, a});
    }

    void reply_reset(const four_tuple& t, const wire::tcp_repr& seg) {
        if (auto r = tcp::reset_for(seg)) {
            ++stats_.resets_sent;
            replies_.push_back({t, *r});
        }
    }

    // ------------------------------------------------------------------ ICMP

    void on_icmp(instant now, const wire::ipv4_repr& ip, std::span<const std::uint8_t> bytes) {
        const auto body = bytes.first(std::min<std::size_t>(bytes.size(), ip.payload_length));
        const auto view = wire::icmp_view::from_bytes(body);
        if (!view || !view->verify_checksum()) return count_malformed();
        const auto msg = wire::icmp_repr::parse(body, false);
        if (!msg) { ++stats_.icmp_other; return; } // a type we do not use (RFC 1122 3.2.2: discard)
        if (wire::is_icmp_error(msg->type)) return on_icmp_error(now, *msg);
        if (msg->type != wire::icmp_type::echo_request) return;
        wire::icmp_repr reply = *msg;
        reply.type = wire::icmp_type::echo_reply;
        reply.code = 0;
        packet p = take_packet(wire::ipv4_header_len + reply.buffer_len());
        wire::ipv4_repr h{cfg_.address, ip.src, wire::ip_protocol::icmp, 64, next_ip_id_++, true,
                          static_cast<std::uint16_t>(reply.buffer_len())};
        h.emit(p.bytes());
        reply.emit(p.bytes().subspan(wire::ipv4_header_len));
        ++stats_.icmp_echo_replies;
        icmp_out_.push_back(std::move(p));
    }

    /// An ICMP error quotes the IP header and the first 8 bytes of one of our datagrams (RFC 792):
    /// for TCP the ports and the sequence number. It goes to the connection of the quoted 4-tuple
    /// (quoted source = us), which checks the sequence number (RFC 5927 4.1) and acts on it.
    void on_icmp_error(instant now, const wire::icmp_repr& msg) {
        ++stats_.icmp_errors;
        const auto q = msg.quote();
        if (!q) return count_malformed(); // too short to quote a transport header
        if (q->protocol() != wire::ip_protocol::tcp || q->src() != cfg_.address || q->fragment_offset() != 0) {
            ++stats_.icmp_ignored;
            return;
        }
        const auto it = table_.find(four_tuple{q->src(), q->src_port(), q->dst(), q->dst_port()});
        if (it == table_.end()) {
            ++stats_.icmp_ignored;
            return;
        }
        socket_type& s = *it;
        const bool frag_needed = msg.type == wire::icmp_type::dest_unreachable && msg.code == wire::icmp_unreach::frag_needed;
        const tcp::icmp_outcome r =
            frag_needed ? s.tcb.on_path_mtu(now, wire::reported_path_mtu(msg.next_hop_mtu, q->total_length()), q->tcp_seq())
                        : s.tcb.on_icmp_error(now, msg.type, msg.code, q->tcp_seq());
        switch (r) {
        case tcp::icmp_outcome::ignored: ++stats_.icmp_ignored; return;
        case tcp::icmp_outcome::soft_error: ++stats_.icmp_soft_errors; return;
        case tcp::icmp_outcome::aborted: ++stats_.icmp_aborts; break;
        case tcp::icmp_outcome::mtu_lowered: ++stats_.pmtu_reductions; break;
        }
        mark_dirty(s);
    }

    // ------------------------------------------------------------------ bookkeeping

    /// After a socket's turn: hand established children to accept(), free what is finished,
    /// compact released TIME-WAITs, and re-key the timer set. `next` is s.tcb.next_deadline().
    void settle(instant now, socket_type& s, instant next) {
        const tcp::state st = s.tcb.current_state();
        if (s.parent != nullptr && !s.queued_for_accept && s.tcb.established_once() && st != tcp::state::closed) {
            --s.parent->syn_queue;
            queue_for_accept(*s.parent, s);
        }
        if (s.tcb.finished() && !s.user_owned) return destroy(s);
        if (st == tcp::state::time_wait && !s.user_owned && s.parent == nullptr && !next.is_never() && next > now) {
            if (time_wait_.size() < cfg_.max_tw_buckets) {
                const auto rec = s.tcb.to_time_wait_record();
                time_wait_.emplace(s.tuple, rec);
                tw_expiry_.emplace(rec.expires, s.tuple);
            } else {
                ++stats_.tw_overflow;
            }
            return destroy(s);
        }
        reschedule(s, next);
    }

    void queue_for_accept(listener_type& l, socket_type& s) {
        l.accept_queue.push_back(&s);
        s.queued_for_accept = true;
        l.user_waker.wake();
    }

    /// Keys the socket in the timer set by its next deadline. A deadline that moved later (the
    /// RTO pushed back by an ACK, a timer disarmed) keeps the earlier key: the socket then wakes
    /// early once, finds nothing due, and is keyed again here. That spares the tree two updates
    /// for almost every segment, since each ACK restarts the retransmission timer (Linux rearms
    /// lazily for the same reason).
    void reschedule(socket_type& s, instant d) {
        const bool linked = s.detail::timer_hook::is_linked();
        if (linked && d != instant{} && s.deadline <= d) return;
        if (d == s.deadline && (d.is_never() || linked)) return;
        if (linked) timers_.erase(timers_.iterator_to(s));
        s.deadline = d;
        if (d.is_never()) return;
        if (d == instant{}) { // output is ready right now
            s.deadline = instant::never();
            mark_dirty(s);
            return;
        }
        timers_.insert(s);
    }

    void destroy(socket_type& s) {
        if (s.parent != nullptr) {
            listener_type& l = *s.parent;
            if (s.queued_for_accept) std::erase(l.accept_queue, &s);
            else if (l.syn_queue > 0) --l.syn_queue;
        }
        if (s.detail::table_hook::is_linked()) table_.erase(table_.iterator_to(s));
        else std::erase(detached_, &s); // (see take_new_incarnation)
        delete &s; // unlinks the other hooks (auto_unlink) as the socket dies
    }

    void expire_time_waits(instant now) {
        while (!tw_expiry_.empty() && tw_expiry_.top().first <= now) {
            const auto [when, t] = tw_expiry_.top();
            tw_expiry_.pop();
            auto it = time_wait_.find(t);
            if (it == time_wait_.end() || it->second.expires != when) continue; // restarted or gone
            time_wait_.erase(it);
            if (hook_) hook_(t, tcp::state::time_wait, tcp::state::closed, tcp::event::timeout_2msl);
        }
    }

    socket_type& add_socket(const four_tuple& t, const tcp::config& c) {
        // Connections with the stack's settings share one copy of them (most do: 16 bytes each).
        auto owned = std::make_unique<socket_type>(*this, t,
                                                   c == cfg_.tcp ? shared_tcp_ : std::make_shared<const tcp::config>(c));
        if (table_.size() + 1 > buckets_.size()) grow_table();
        socket_type& s = *owned.release(); // owned by the table from here on (destroy() deletes it)
        s.tcb.set_state_observer(observer_for(s));
        s.tcb.set_waker({&interface::wake_user, &s});
        table_.insert(s);
        return s;
    }

    /// Doubles the bucket array (load factor <= 1; power-of-two sizes, so a bucket is a mask away).
    void grow_table() {
        std::vector<typename table_type::bucket_type> bigger(std::max<std::size_t>(buckets_.size() * 2, 64));
        table_.rehash(typename table_type::bucket_traits(bigger.data(), bigger.size()));
        buckets_.swap(bigger);
    }

    /// The TCB calls the cc hook only while one is set (otherwise a null test per ACK).
    tcp::state_observer observer_for(socket_type& s) const noexcept {
        return {&interface::observe_state, &s, cc_hook_ ? &interface::observe_cc : nullptr};
    }

    static void observe_cc(void* ctx, const tcp::cc_sample& sample) {
        auto* s = static_cast<socket_type*>(ctx);
        if (s->owner->cc_hook_) s->owner->cc_hook_(s->tuple, sample);
    }

    static void observe_state(void* ctx, tcp::state from, tcp::state to, tcp::event why) {
        auto* s = static_cast<socket_type*>(ctx);
        // A passive open's child starts as a copy of its listener (LISTEN); only its own moves show.
        if (s->parent != nullptr && from == tcp::state::closed && to == tcp::state::listen) return;
        if (s->owner->hook_) s->owner->hook_(s->tuple, from, to, why);
    }

    static void wake_user(void* ctx) {
        auto* s = static_cast<socket_type*>(ctx);
        s->user_waker.wake();
        if (s->parent != nullptr && s->queued_for_accept) s->parent->user_waker.wake();
    }

    void mark_dirty(socket_type& s) {
        if (!s.detail::dirty_hook::is_linked()) dirty_.push_back(s);
    }

    [[nodiscard]] tcp::config with_mss(tcp::config c) const {
        c.mss = cfg_.tcp.mss;
        c.tso_max = cfg_.tcp.tso_max;
        return c;
    }

    [[nodiscard]] bool tuple_in_use(const four_tuple& t) const {
        return table_.find(t) != table_.end() || time_wait_.contains(t);
    }

    /// RFC 6056 Algorithm 3: the running counter plus the destination's keyed offset (port_offset);
    /// walk the range, skip 4-tuples in use (TIME-WAIT included, unless tw_reuse lets us take it:
    /// then `reused` is its record) and ports with listeners.
    bool pick_ephemeral_port(instant now, four_tuple& t, std::optional<tcp::time_wait_record>& reused) {
        const std::uint32_t lo = cfg_.local_port_low;
        const std::uint32_t span = cfg_.local_port_high >= lo ? cfg_.local_port_high - lo + 1u : 1u;
        const std::uint32_t offset = port_offset(t);
        for (std::uint32_t i = 0; i < span; ++i) {
            t.local_port = static_cast<std::uint16_t>(lo + (next_port_++ + offset) % span);
            if (listeners_.contains(t.local_port)) continue;
            if (!tuple_in_use(t) || (reused = take_time_wait_for_reuse(now, t))) return true;
        }
        return false;
    }

    /// RFC 6056 3.3.3 (Algorithm 3, simple hash-based): a keyed hash of the local address and the
    /// peer's address and port, added to the one running counter, so that the ports used toward
    /// one peer tell nothing about those used toward another (the counter alone would). A message
    /// of its own, tagged, under the RFC 6528 secret.
    [[nodiscard]] std::uint32_t port_offset(const four_tuple& t) const noexcept {
        const std::uint32_t l = t.local.value, r = t.remote.value;
        const std::array<std::uint8_t, 11> m{'p',
                                             static_cast<std::uint8_t>(l >> 24), static_cast<std::uint8_t>(l >> 16),
                                             static_cast<std::uint8_t>(l >> 8),  static_cast<std::uint8_t>(l),
                                             static_cast<std::uint8_t>(r >> 24), static_cast<std::uint8_t>(r >> 16),
                                             static_cast<std::uint8_t>(r >> 8),  static_cast<std::uint8_t>(r),
                                             static_cast<std::uint8_t>(t.remote_port >> 8), static_cast<std::uint8_t>(t.remote_port)};
        return static_cast<std::uint32_t>(tcp::siphash24(isn_.secret(), m));
    }

    /// tcp_tw_reuse: the compact TIME-WAIT of `t`, removed, if connect() may take its 4-tuple.
    /// The new connection's ISN then lies beyond the old SND.NXT (tcp::new_incarnation_isn), and so
    /// does its TSval (TSval = ms + ISN) unless the old connection sent 2 GiB or more: a peer still
    /// in a TIME-WAIT of its own (a simultaneous close) takes the SYN (RFC 6191).
    /// Unlike Linux, an explicit local port (bind + connect) obeys tw_reuse and its delay as well.
    std::optional<tcp::time_wait_record> take_time_wait_for_reuse(instant now, const four_tuple& t) {
        const bool allowed = cfg_.tw_reuse == 1 || (cfg_.tw_reuse == 2 && (t.local.is_loopback() || t.remote.is_loopback()));
        const auto it = time_wait_.find(t);
        if (!allowed || it == time_wait_.end() || !it->second.ts_ok) return std::nullopt;
        if (now - it->second.began() < cfg_.tw_reuse_delay) return std::nullopt;
        const tcp::time_wait_record r = it->second;
        time_wait_.erase(it); // its expiry entry finds nothing and is skipped
        ++stats_.tw_reused;
        if (hook_) hook_(t, tcp::state::time_wait, tcp::state::closed, tcp::event::user_connect);
        return r;
    }

    // ------------------------------------------------------------------ output

    template <class Tx>
    void emit_tcp(const four_tuple& t, const tcp::segment_out& seg, Tx& tx) {
        const std::size_t tcp_len = seg.header.header_len() + seg.payload_size();
        packet p = take_packet(wire::ipv4_header_len + tcp_len);
        const wire::ipv4_repr ip{t.local, t.remote, wire::ip_protocol::tcp, 64, next_ip_id_++, seg.dont_fragment,
                                 static_cast<std::uint16_t>(tcp_len)};
        ip.emit(p.bytes());
        seg.header.emit_with_payload(p.bytes().subspan(wire::ipv4_header_len), t.local, t.remote, seg.payload[0],
                                     seg.payload[1]);
        p.set_gso_size(seg.gso_size); // a TSO super-segment: the link cuts it into gso_size pieces
        ++stats_.packets_out;
        tx(std::move(p));
    }

    template <class Tx>
    void flush_replies(Tx& tx) {
        for (const auto& [t, seg] : replies_) emit_tcp(t, tcp::segment_out{seg, {}}, tx);
        replies_.clear();
        for (auto& p : icmp_out_) {
            ++stats_.packets_out;
            tx(std::move(p));
        }
        icmp_out_.clear();
    }

    /// A packet of `size` bytes of unspecified value: the caller writes every one of them.
    static packet take_packet(std::size_t size) {
        auto& pool = packet_pool();
        packet p;
        if (!pool.empty()) {
            p = std::move(pool.back());
            pool.pop_back();
        }
        p.resize_for_overwrite(size);
        return p;
    }

    [[nodiscard]] static std::vector<packet>& packet_pool() noexcept {
        static thread_local std::vector<packet> pool;
        return pool;
    }

    void count_malformed() { ++stats_.malformed; }

    static tcp::isn_generator make_secret(const std::optional<std::array<std::uint8_t, 16>>& given) {
        if (given) return tcp::isn_generator(*given);
        std::array<std::uint8_t, 16> key{};
        std::random_device rd;
        for (auto& b : key) b = static_cast<std::uint8_t>(rd());
        return tcp::isn_generator(key);
    }

    // ------------------------------------------------------------------ data

    settings cfg_;
    std::shared_ptr<const tcp::config> shared_tcp_; ///< cfg_.tcp, shared by the connections that use it
    tcp::isn_generator isn_;
    tcp::syn_cookies cookies_; ///< under the same secret as isn_ (their messages differ)
    counters stats_;
    state_hook hook_;
    cc_hook cc_hook_;
    /// The connection table: sockets are the nodes (intrusive), keyed by their 4-tuple.
    struct tuple_of {
        using type = four_tuple;
        const four_tuple& operator()(const socket_type& s) const noexcept { return s.tuple; }
    };
    using table_type = boost::intrusive::unordered_set<
        socket_type, boost::intrusive::base_hook<detail::table_hook>, boost::intrusive::key_of_value<tuple_of>,
        boost::intrusive::hash<four_tuple_hash>, boost::intrusive::power_2_buckets<true>>;
    std::vector<typename table_type::bucket_type> buckets_ = std::vector<typename table_type::bucket_type>(64);
    table_type table_{typename table_type::bucket_traits(buckets_.data(), buckets_.size())}; // after buckets_
    std::unordered_map<std::uint16_t, std::unique_ptr<listener_type>> listeners_;
    std::unordered_map<four_tuple, tcp::time_wait_record, four_tuple_hash> time_wait_;
    std::vector<socket_type*> detached_; ///< CLOSED, out of the table (retire()), handle still held
    using dirty_list = boost::intrusive::list<socket_type, boost::intrusive::base_hook<detail::dirty_hook>,
                                              boost::intrusive::constant_time_size<false>>;
    using tw_entry = std::pair<instant, four_tuple>;
    struct tw_later {
        bool operator()(const tw_entry& a, const tw_entry& b) const noexcept { return a.first > b.first; }
    };
    std::priority_queue<tw_entry, std::vector<tw_entry>, tw_later> tw_expiry_;
    dirty_list dirty_;
    boost::intrusive::multiset<socket_type, boost::intrusive::base_hook<detail::timer_hook>,
                               boost::intrusive::constant_time_size<false>>
        timers_;
    std::vector<std::pair<four_tuple, wire::tcp_repr>> replies_;
    std::vector<packet> icmp_out_;
    std::uint32_t next_port_ = 0;
    std::uint16_t next_ip_id_ = 1;
};

} // namespace corotcp::iface
