// corotcp/tcp/state.hpp: the TCP connection state machine as data (RFC 9293 section 3.3.2).
//
// The eleven states, the events that move a connection between them, and one constexpr table that
// says, for each (state, event), the next state and the actions to take. The engine (tcb.hpp) never
// assigns a state directly: it looks the event up here, performs the table's actions and then calls
// its one set_state(). The static_asserts at the bottom prove the invariants of the classic diagram,
// and docs/state-machine.dot is generated from this same table (tcp/state_dot.hpp), so neither the
// code nor the picture can drift from the other.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace corotcp::tcp {

/// RFC 9293 states. Printed with their netstat names (SYN_RCVD, FIN_WAIT_1, ...).
enum class state : std::uint8_t {
    closed,
    listen,
    syn_sent,
    syn_rcvd,
    established,
    fin_wait_1,
    fin_wait_2,
    close_wait,
    closing,
    last_ack,
    time_wait,
};
inline constexpr std::size_t state_count = 11;

[[nodiscard]] constexpr std::string_view to_string(state s) noexcept {
    constexpr std::array<std::string_view, state_count> names{
        "CLOSED",     "LISTEN",     "SYN_SENT",   "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
        "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",    "LAST_ACK", "TIME_WAIT",
    };
    return names[static_cast<std::size_t>(s)];
}

/// Events: user calls, arriving segments (classified by what they mean in the current state) and
/// timer expiries.
enum class event : std::uint8_t {
    // user calls (RFC 9293 3.10.1 - 3.10.5)
    user_listen,  ///< passive OPEN
    user_connect, ///< active OPEN
    user_close,   ///< CLOSE: "I have no more data to send" (shutdown(); close() also orphans)
    user_abort,   ///< ABORT
    // segments
    rcv_syn,             ///< a SYN without ACK
    rcv_syn_ack,         ///< a SYN-ACK that acknowledges our SYN
    rcv_ack_of_syn,      ///< an ACK that acknowledges our SYN
    rcv_fin,             ///< an in-sequence FIN
    rcv_ack_of_fin,      ///< an ACK that acknowledges our FIN
    rcv_fin_ack_of_fin,  ///< an in-sequence FIN whose segment also acknowledges our FIN
    rcv_rst,             ///< an acceptable RST (RFC 5961: exactly at RCV.NXT)
    rcv_icmp_error,      ///< an ICMP error that ends a connection attempt (RFC 1122 4.2.3.9, RFC 5927)
    // timers
    timeout_retransmit, ///< the retry limit (SYN, SYN-ACK or data) ran out
    timeout_2msl,       ///< TIME-WAIT is over
    timeout_fin_wait_2, ///< an orphaned FIN-WAIT-2 waited tcp_fin_timeout for the peer's FIN
    timeout_keepalive,  ///< keepalive probes went unanswered
    timeout_user,       ///< the user timeout (RFC 5482) expired with data unacknowledged
};
inline constexpr std::size_t event_count = 17;

[[nodiscard]] constexpr std::string_view to_string(event e) noexcept {
    constexpr std::array<std::string_view, event_count> names{
        "listen",          "connect",        "close",         "abort",
        "rcv SYN",         "rcv SYN,ACK",    "rcv ACK of SYN", "rcv FIN",
        "rcv ACK of FIN",  "rcv FIN,ACK of FIN", "rcv RST",    "ICMP error",
        "retransmission timeout",
        "2MSL timeout",    "FIN_WAIT_2 timeout", "keepalive timeout", "user timeout",
    };
    return names[static_cast<std::size_t>(e)];
}

/// Actions a transition asks of the engine, as bits.
namespace act {
inline constexpr std::uint16_t none = 0;
inline constexpr std::uint16_t send_syn = 1u << 0;     ///< queue our SYN (with options)
inline constexpr std::uint16_t send_syn_ack = 1u << 1; ///< queue our SYN-ACK
inline constexpr std::uint16_t send_ack = 1u << 2;     ///< acknowledge at once
inline constexpr std::uint16_t send_fin = 1u << 3;     ///< queue our FIN behind the data
inline constexpr std::uint16_t send_rst = 1u << 4;     ///< send RST and discard queued data
inline constexpr std::uint16_t start_2msl = 1u << 5;   ///< (re)start the TIME-WAIT timer
inline constexpr std::uint16_t start_fin_timeout = 1u << 6; ///< orphaned FIN-WAIT-2 timer
inline constexpr std::uint16_t connected = 1u << 7;    ///< wake connect()/accept(): we are synchronized
inline constexpr std::uint16_t fail = 1u << 8;         ///< the connection ends with an error
inline constexpr std::uint16_t release = 1u << 9;      ///< the TCB is finished; the stack may free it
} // namespace act

struct transition {
    state from;
    event on;
    state to;
    std::uint16_t actions;
};

// clang-format off
/// The table. Read each row as "in FROM, on EVENT: do ACTIONS, go to TO".
inline constexpr std::array transitions{
    // opening
    transition{state::closed,      event::user_listen,        state::listen,      act::none},
    transition{state::closed,      event::user_connect,       state::syn_sent,    act::send_syn},
    transition{state::listen,      event::rcv_syn,            state::syn_rcvd,    act::send_syn_ack},
    transition{state::listen,      event::user_close,         state::closed,      act::release},
    transition{state::listen,      event::user_abort,         state::closed,      act::release},
    transition{state::listen,      event::rcv_rst,            state::listen,      act::none},
    transition{state::syn_sent,    event::rcv_syn_ack,        state::established, act::send_ack | act::connected},
    transition{state::syn_sent,    event::rcv_syn,            state::syn_rcvd,    act::send_syn_ack},
    transition{state::syn_sent,    event::rcv_rst,            state::closed,      act::fail | act::release},
    transition{state::syn_sent,    event::user_close,         state::closed,      act::fail | act::release},
    transition{state::syn_sent,    event::user_abort,         state::closed,      act::fail | act::release},
    transition{state::syn_sent,    event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::syn_sent,    event::rcv_icmp_error,     state::closed,      act::fail | act::release},
    transition{state::syn_rcvd,    event::rcv_ack_of_syn,     state::established, act::connected},
    transition{state::syn_rcvd,    event::rcv_rst,            state::closed,      act::fail | act::release},
    // (CLOSE in SYN_RCVD is not offered: an embryonic connection belongs to its listener until
    //  accept() hands it out established; closing the listener aborts it.)
    transition{state::syn_rcvd,    event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::syn_rcvd,    event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::syn_rcvd,    event::rcv_icmp_error,     state::closed,      act::fail | act::release},
    // data transfer and the passive close
    transition{state::established, event::rcv_fin,            state::close_wait,  act::send_ack},
    transition{state::established, event::user_close,         state::fin_wait_1,  act::send_fin},
    transition{state::established, event::rcv_rst,            state::closed,      act::fail | act::release},
    transition{state::established, event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::established, event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::established, event::timeout_keepalive,  state::closed,      act::send_rst | act::fail | act::release},
    transition{state::established, event::timeout_user,       state::closed,      act::fail | act::release},
    transition{state::close_wait,  event::user_close,         state::last_ack,    act::send_fin},
    transition{state::close_wait,  event::rcv_rst,            state::closed,      act::fail | act::release},
    transition{state::close_wait,  event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::close_wait,  event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::close_wait,  event::timeout_keepalive,  state::closed,      act::send_rst | act::fail | act::release},
    transition{state::close_wait,  event::timeout_user,       state::closed,      act::fail | act::release},
    transition{state::last_ack,    event::rcv_ack_of_fin,     state::closed,      act::release},
    transition{state::last_ack,    event::rcv_rst,            state::closed,      act::release},
    transition{state::last_ack,    event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::last_ack,    event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::last_ack,    event::timeout_user,       state::closed,      act::fail | act::release},
    // the active close
    transition{state::fin_wait_1,  event::rcv_ack_of_fin,     state::fin_wait_2,  act::start_fin_timeout},
    transition{state::fin_wait_1,  event::rcv_fin,            state::closing,     act::send_ack},
    transition{state::fin_wait_1,  event::rcv_fin_ack_of_fin, state::time_wait,   act::send_ack | act::start_2msl},
    transition{state::fin_wait_1,  event::rcv_rst,            state::closed,      act::fail | act::release},
    transition{state::fin_wait_1,  event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::fin_wait_1,  event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::fin_wait_1,  event::timeout_user,       state::closed,      act::fail | act::release},
    transition{state::fin_wait_2,  event::rcv_fin,            state::time_wait,   act::send_ack | act::start_2msl},
    transition{state::fin_wait_2,  event::rcv_rst,            state::closed,      act::fail | act::release},
    transition{state::fin_wait_2,  event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::fin_wait_2,  event::timeout_fin_wait_2, state::closed,      act::release},
    transition{state::fin_wait_2,  event::timeout_keepalive,  state::closed,      act::send_rst | act::fail | act::release},
    transition{state::closing,     event::rcv_ack_of_fin,     state::time_wait,   act::start_2msl},
    transition{state::closing,     event::rcv_rst,            state::closed,      act::release},
    transition{state::closing,     event::user_abort,         state::closed,      act::send_rst | act::fail | act::release},
    transition{state::closing,     event::timeout_retransmit, state::closed,      act::fail | act::release},
    transition{state::closing,     event::timeout_user,       state::closed,      act::fail | act::release},
    transition{state::time_wait,   event::rcv_fin,            state::time_wait,   act::send_ack | act::start_2msl},
    transition{state::time_wait,   event::rcv_rst,            state::time_wait,   act::none},  // RFC 1337
    transition{state::time_wait,   event::timeout_2msl,       state::closed,      act::release},
    // a new incarnation's SYN, which a listener takes (RFC 1122 4.2.2.13, RFC 6191)
    transition{state::time_wait,   event::rcv_syn,            state::closed,      act::release},
    // tcp_tw_reuse: our connect() takes the 4-tuple (of a compact TIME-WAIT record; see iface)
    transition{state::time_wait,   event::user_connect,       state::closed,      act::release},
    transition{state::time_wait,   event::user_abort,         state::closed,      act::release},
};
// clang-format on

namespace detail {
/// (state, event) -> index of its row in `transitions` + 1, or 0: the table indexed directly, built
/// at compile time from the rows (a linear search was 7 % of the short-connection profile).
inline constexpr auto transition_index = [] {
    std::array<std::array<std::uint8_t, event_count>, state_count> index{};
    for (std::size_t i = 0; i < transitions.size(); ++i) {
        auto& slot = index[static_cast<std::size_t>(transitions[i].from)][static_cast<std::size_t>(transitions[i].on)];
        if (slot == 0) slot = static_cast<std::uint8_t>(i + 1); // the first row wins, as the search did
    }
    return index;
}();
static_assert(std::tuple_size_v<decltype(transitions)> < 255, "row indices fit in a byte");
} // namespace detail

/// The row for (s, e), or nullptr if the machine does not allow e in s. (A pointer into the
/// table: returning the 6-byte row by value in an optional cost a store-forwarding stall.)
[[nodiscard]] constexpr const transition* find_transition(state s, event e) noexcept {
    const std::uint8_t i = detail::transition_index[static_cast<std::size_t>(s)][static_cast<std::size_t>(e)];
    if (i == 0) return nullptr;
    return &transitions[i - 1u];
}

/// True if the machine allows e in s (usable in constant expressions, where GCC's UBSan refuses
/// to compare find_transition's pointer with null).
[[nodiscard]] constexpr bool allows(state s, event e) noexcept {
    return detail::transition_index[static_cast<std::size_t>(s)][static_cast<std::size_t>(e)] != 0;
}

/// True if `s` is one of the synchronized states (RFC 9293 3.5: ESTABLISHED and later).
[[nodiscard]] constexpr bool is_synchronized(state s) noexcept {
    return s != state::closed && s != state::listen && s != state::syn_sent && s != state::syn_rcvd;
}

/// True if we may still queue data to send in `s`.
[[nodiscard]] constexpr bool can_send_in(state s) noexcept {
    return s == state::established || s == state::close_wait;
}

/// True if data from the peer is accepted into the receive buffer in `s` (RFC 9293 3.10.7.4 step 7).
[[nodiscard]] constexpr bool receives_data_in(state s) noexcept {
    return s == state::established || s == state::fin_wait_1 || s == state::fin_wait_2;
}

namespace detail {

constexpr bool no_duplicate_rows() {
    for (std::size_t i = 0; i < transitions.size(); ++i)
        for (std::size_t j = i + 1; j < transitions.size(); ++j)
            if (transitions[i].from == transitions[j].from && transitions[i].on == transitions[j].on)
                return false;
    return true;
}

constexpr bool every_state_but_closed_handles_rst() {
    for (std::size_t s = 1; s < state_count; ++s)
        if (!allows(static_cast<state>(s), event::rcv_rst)) return false;
    return true;
}

constexpr bool only_sources_of(state target, std::initializer_list<state> allowed) {
    for (const auto& t : transitions) {
        if (t.to != target || t.from == target) continue;
        bool ok = false;
        for (state a : allowed) ok = ok || (t.from == a);
        if (!ok) return false;
    }
    return true;
}

constexpr bool every_state_reaches_closed() {
    // Fixed-point reachability backwards from CLOSED.
    std::array<bool, state_count> reaches{};
    reaches[static_cast<std::size_t>(state::closed)] = true;
    for (std::size_t round = 0; round < state_count; ++round)
        for (const auto& t : transitions)
            if (reaches[static_cast<std::size_t>(t.to)]) reaches[static_cast<std::size_t>(t.from)] = true;
    for (bool r : reaches)
        if (!r) return false;
    return true;
}

constexpr bool every_state_is_reachable_from_closed() {
    std::array<bool, state_count> seen{};
    seen[static_cast<std::size_t>(state::closed)] = true;
    for (std::size_t round = 0; round < state_count; ++round)
        for (const auto& t : transitions)
            if (seen[static_cast<std::size_t>(t.from)]) seen[static_cast<std::size_t>(t.to)] = true;
    for (bool r : seen)
        if (!r) return false;
    return true;
}

constexpr bool abort_resets_every_synchronized_state_with_a_peer() {
    // Abort sends RST wherever the peer holds state for us (RFC 9293 3.10.5), but not from TIME-WAIT,
    // where the peer has already closed.
    for (const auto& t : transitions) {
        if (t.on != event::user_abort) continue;
        const bool peer_has_state = t.from == state::syn_rcvd || (is_synchronized(t.from) && t.from != state::time_wait);
        if (peer_has_state != ((t.actions & act::send_rst) != 0)) return false;
    }
    return true;
}

constexpr bool every_release_goes_to_closed() {
    for (const auto& t : transitions)
        if (((t.actions & act::release) != 0) != (t.to == state::closed)) return false;
    return true;
}

} // namespace detail

static_assert(detail::no_duplicate_rows(), "one row per (state, event)");
static_assert(detail::every_state_but_closed_handles_rst(), "every state handles RST");
static_assert(detail::only_sources_of(state::time_wait, {state::fin_wait_1, state::fin_wait_2, state::closing}),
              "only an active close reaches TIME_WAIT");
static_assert(detail::only_sources_of(state::closing, {state::fin_wait_1}), "CLOSING only from FIN_WAIT_1");
static_assert(detail::only_sources_of(state::last_ack, {state::close_wait}), "LAST_ACK only from CLOSE_WAIT");
static_assert(detail::only_sources_of(state::fin_wait_2, {state::fin_wait_1}), "FIN_WAIT_2 only from FIN_WAIT_1");
static_assert(detail::only_sources_of(state::established, {state::syn_sent, state::syn_rcvd}),
              "ESTABLISHED only through a handshake");
static_assert(detail::every_state_reaches_closed(), "every state can end in CLOSED");
static_assert(detail::every_state_is_reachable_from_closed(), "no dead states");
static_assert(detail::abort_resets_every_synchronized_state_with_a_peer(), "abort sends RST to a live peer");
static_assert(detail::every_release_goes_to_closed(), "a TCB is released exactly when it reaches CLOSED");
static_assert(find_transition(state::time_wait, event::rcv_rst)->to == state::time_wait,
              "RFC 1337: RST does not end TIME_WAIT");

} // namespace corotcp::tcp
