// corotcp/link/tun_error.hpp: why a TUN device could not be opened or configured.
//
// tun_link::open() and the kernel-side helpers in tun_config.hpp report failures as std::error_code
// values in the "corotcp.tun" category. Each says what went wrong in words a user can act on, and maps
// to the std::errc condition it corresponds to, so `ec == std::errc::permission_denied` works too.
// Failures without a more specific meaning are passed through as std::system_category() codes.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace corotcp {

enum class tun_errc {
    ok = 0,
    no_tun_driver = 1,  ///< /dev/net/tun does not exist (no tun module, or a container without it)
    permission_denied,  ///< opening /dev/net/tun or attaching needs root or CAP_NET_ADMIN
    name_in_use,        ///< the device is already attached to another process (not multi-queue)
    not_a_tun_device,   ///< a network device of that name exists but is not a TUN device (tap, veth, ...)
    no_such_device,     ///< the device does not exist and creating it was not allowed
    invalid_name,       ///< empty, too long (IFNAMSIZ-1 = 15 characters) or contains '/', ':' or blanks
    invalid_address,    ///< an address or prefix that cannot be configured (e.g. ADDR/PREFIX malformed)
};

namespace detail {
class tun_error_category_impl final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "corotcp.tun"; }

    [[nodiscard]] std::string message(int ev) const override {
        switch (static_cast<tun_errc>(ev)) {
        case tun_errc::ok: return "success";
        case tun_errc::no_tun_driver:
            return "/dev/net/tun does not exist (load the tun module: modprobe tun; in a container, pass "
                   "--device /dev/net/tun)";
        case tun_errc::permission_denied:
            return "permission denied: opening a TUN device needs root or CAP_NET_ADMIN (or a persistent "
                   "device owned by this user: ip tuntap add NAME mode tun user USER)";
        case tun_errc::name_in_use: return "the TUN device is in use by another process";
        case tun_errc::not_a_tun_device: return "a network device of that name exists but is not a TUN device";
        case tun_errc::no_such_device: return "no such TUN device (and creating it was not allowed)";
        case tun_errc::invalid_name: return "invalid device name (1 to 15 characters, no '/', ':' or blanks)";
        case tun_errc::invalid_address: return "invalid address (expected ADDR/PREFIX, e.g. 10.0.0.1/24)";
        }
        return "unknown corotcp.tun error";
    }

    [[nodiscard]] std::error_condition default_error_condition(int ev) const noexcept override {
        switch (static_cast<tun_errc>(ev)) {
        case tun_errc::no_tun_driver: return std::errc::no_such_file_or_directory;
        case tun_errc::permission_denied: return std::errc::operation_not_permitted;
        case tun_errc::name_in_use: return std::errc::device_or_resource_busy;
        case tun_errc::not_a_tun_device: return std::errc::invalid_argument;
        case tun_errc::no_such_device: return std::errc::no_such_device;
        case tun_errc::invalid_name: return std::errc::invalid_argument;
        case tun_errc::invalid_address: return std::errc::invalid_argument;
        case tun_errc::ok: break;
        }
        return {ev, *this};
    }
};
} // namespace detail

[[nodiscard]] inline const std::error_category& tun_error_category() noexcept {
    static const detail::tun_error_category_impl instance;
    return instance;
}

[[nodiscard]] inline std::error_code make_error_code(tun_errc e) noexcept {
    return {static_cast<int>(e), tun_error_category()};
}

namespace detail {
/// errno as a std::error_code (system category).
[[nodiscard]] inline std::error_code errno_code(int e = errno) noexcept { return {e, std::system_category()}; }
} // namespace detail

} // namespace corotcp

template <>
struct std::is_error_code_enum<corotcp::tun_errc> : std::true_type {};
