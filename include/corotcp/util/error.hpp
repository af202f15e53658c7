// corotcp/util/error.hpp: errors are values.
//
// Every failure a user can see is a std::error_code in corotcp's category. Each enumerator maps to
// the std::errc condition a POSIX sockets programmer would expect, so `ec == std::errc::connection_refused`
// works as well as `ec == corotcp::errc::connection_refused`.
#pragma once

#include <string>
#include <system_error>

namespace corotcp {

enum class errc {
    ok = 0,
    connection_refused = 1, ///< RST in reply to our SYN, or ICMP port/protocol unreachable: nobody listens there.
    connection_reset,       ///< the peer reset an established connection.
    timed_out,              ///< retransmissions, SYN retries, keepalive or the user timeout ran out
                            ///< (with no ICMP error on record; else that error is reported).
    aborted,                ///< this side aborted the connection (abort(), or the stack shut down).
    host_unreachable,       ///< ICMP host unreachable (or prohibited, time exceeded) while connecting,
                            ///< or on record when the connection timed out.
    network_unreachable,    ///< ICMP network unreachable (while connecting, or on record at a timeout), or no route.
    address_in_use,         ///< the 4-tuple or listening port is taken (also during TIME-WAIT).
    address_not_available,  ///< no ephemeral port left.
    not_connected,          ///< the operation needs an established connection.
    already_connected,      ///< connect() on a connection that is already open.
    connection_closing,     ///< write after shutdown()/close().
    invalid_argument,       ///< a bad parameter from the user.
    operation_canceled,     ///< a std::stop_token asked the operation to stop.
    operation_timed_out,    ///< the per-operation timeout elapsed (the connection itself is intact).
    no_buffer_space,        ///< the stack could not queue the data or the connection.
    listener_closed,        ///< accept() on a listener that was closed.
    protocol_error,         ///< the peer violated the protocol in a way that ended the connection.
    malformed_packet,       ///< a packet failed a length or checksum check at parse time.
    stack_destroyed,        ///< the handle's stack was destroyed before the handle (or its task).
};

namespace detail {
class error_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "corotcp"; }

    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::ok: return "success";
        case errc::connection_refused: return "connection refused";
        case errc::connection_reset: return "connection reset by peer";
        case errc::timed_out: return "connection timed out";
        case errc::aborted: return "connection aborted";
        case errc::host_unreachable: return "host unreachable";
        case errc::network_unreachable: return "network unreachable";
        case errc::address_in_use: return "address in use";
        case errc::address_not_available: return "address not available";
        case errc::not_connected: return "not connected";
        case errc::already_connected: return "already connected";
        case errc::connection_closing: return "connection is closing";
        case errc::invalid_argument: return "invalid argument";
        case errc::operation_canceled: return "operation canceled";
        case errc::operation_timed_out: return "operation timed out";
        case errc::no_buffer_space: return "no buffer space";
        case errc::listener_closed: return "listener closed";
        case errc::protocol_error: return "protocol error";
        case errc::malformed_packet: return "malformed packet";
        case errc::stack_destroyed: return "stack destroyed";
        }
        return "unknown corotcp error";
    }

    [[nodiscard]] std::error_condition default_error_condition(int ev) const noexcept override {
        switch (static_cast<errc>(ev)) {
        case errc::connection_refused: return std::errc::connection_refused;
        case errc::connection_reset: return std::errc::connection_reset;
        case errc::timed_out: return std::errc::timed_out;
        case errc::aborted: return std::errc::connection_aborted;
        case errc::host_unreachable: return std::errc::host_unreachable;
        case errc::network_unreachable: return std::errc::network_unreachable;
        case errc::address_in_use: return std::errc::address_in_use;
        case errc::address_not_available: return std::errc::address_not_available;
        case errc::not_connected: return std::errc::not_connected;
        case errc::already_connected: return std::errc::already_connected;
        case errc::connection_closing: return std::errc::broken_pipe;
        case errc::invalid_argument: return std::errc::invalid_argument;
        case errc::operation_canceled: return std::errc::operation_canceled;
        case errc::operation_timed_out: return std::errc::timed_out;
        case errc::no_buffer_space: return std::errc::no_buffer_space;
        case errc::listener_closed: return std::errc::bad_file_descriptor;
        case errc::protocol_error: return std::errc::protocol_error;
        case errc::malformed_packet: return std::errc::bad_message;
        case errc::stack_destroyed: return std::errc::network_down;
        case errc::ok: break;
        }
        return {ev, *this};
    }
};
} // namespace detail

[[nodiscard]] inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl instance;
    return instance;
}

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

} // namespace corotcp

template <>
struct std::is_error_code_enum<corotcp::errc> : std::true_type {};
