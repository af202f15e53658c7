// corotcp/link/tun_config.hpp: configuring the kernel's side of a TUN device.
//
//     auto link = corotcp::tun_link::open({.name = "tun0"});          // creates tun0 if needed
//     auto kernel = corotcp::ipv4_prefix::parse("10.0.0.1/24");
//     if (auto ec = corotcp::configure_kernel_side("tun0", *kernel)) ...  // address, netmask, up
//
// This is what `ip addr add 10.0.0.1/24 dev tun0 && ip link set tun0 up` does, done with the classic
// ioctls (SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFMTU, SIOCGIFFLAGS/SIOCSIFFLAGS) on the named device only:
// the kernel then routes 10.0.0.0/24 through tun0, so the stack can take any other address of that
// subnet (never the kernel's own: check with ipv4_prefix::contains and !=). Needs CAP_NET_ADMIN.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "corotcp/link/tun.hpp"
#include "corotcp/link/tun_error.hpp"
#include "corotcp/wire/ipv4.hpp"

namespace corotcp {

/// An address with a prefix length, "10.0.0.1/24".
struct ipv4_prefix {
    wire::ipv4_address address;
    unsigned length = 32;

    /// "a.b.c.d/n" with n in 0..32; "a.b.c.d" alone means /32.
    [[nodiscard]] static std::optional<ipv4_prefix> parse(std::string_view s) {
        const auto slash = s.find('/');
        const auto addr = wire::ipv4_address::parse(s.substr(0, slash));
        if (!addr) return std::nullopt;
        unsigned len = 32;
        if (slash != std::string_view::npos) {
            const std::string_view n = s.substr(slash + 1);
            const auto r = std::from_chars(n.data(), n.data() + n.size(), len);
            if (n.empty() || r.ec != std::errc{} || r.ptr != n.data() + n.size() || len > 32) return std::nullopt;
        }
        return ipv4_prefix{*addr, len};
    }

    [[nodiscard]] constexpr std::uint32_t netmask() const noexcept {
        return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
    }
    [[nodiscard]] constexpr bool contains(wire::ipv4_address a) const noexcept {
        return (a.value & netmask()) == (address.value & netmask());
    }
    [[nodiscard]] std::string to_string() const { return address.to_string() + "/" + std::to_string(length); }
};

namespace detail {
inline std::error_code ifreq_ioctl(int sock, unsigned long request, ifreq& ifr) {
    if (::ioctl(sock, request, &ifr) < 0) {
        const int e = errno;
        if (e == EPERM || e == EACCES) return tun_errc::permission_denied;
        if (e == ENODEV) return tun_errc::no_such_device;
        return errno_code(e);
    }
    return {};
}

inline ifreq named_ifreq(std::string_view name) {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
    return ifr;
}

inline void set_sockaddr(sockaddr& sa, std::uint32_t host_order) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(host_order);
    std::memcpy(&sa, &sin, sizeof sin);
}
} // namespace detail

/// Sets the kernel's address on device `name` (any network device, typically the TUN device the
/// stack is attached to), its netmask, optionally its MTU, and brings it up. Touches nothing else.
[[nodiscard]] inline std::error_code configure_kernel_side(std::string_view name, const ipv4_prefix& kernel,
                                                           std::size_t mtu = 0) {
    if (!detail::valid_ifname(name)) return tun_errc::invalid_name;
    if (kernel.length == 0 || kernel.length > 32 || kernel.address.is_unspecified() || kernel.address.is_multicast() ||
        kernel.address.is_broadcast())
        return tun_errc::invalid_address;
    detail::unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return detail::errno_code();

    // Address first (the kernel derives a classful netmask from it), then the real netmask, then up:
    // the prefix route appears once, with the right length, when the device comes up.
    ifreq ifr = detail::named_ifreq(name);
    detail::set_sockaddr(ifr.ifr_addr, kernel.address.value);
    if (auto ec = detail::ifreq_ioctl(s.get(), SIOCSIFADDR, ifr)) return ec;
    ifr = detail::named_ifreq(name);
    detail::set_sockaddr(ifr.ifr_netmask, kernel.netmask());
    if (auto ec = detail::ifreq_ioctl(s.get(), SIOCSIFNETMASK, ifr)) return ec;
    if (mtu != 0) {
        ifr = detail::named_ifreq(name);
        ifr.ifr_mtu = static_cast<int>(mtu);
        if (auto ec = detail::ifreq_ioctl(s.get(), SIOCSIFMTU, ifr)) return ec;
    }
    ifr = detail::named_ifreq(name);
    if (auto ec = detail::ifreq_ioctl(s.get(), SIOCGIFFLAGS, ifr)) return ec;
    if ((ifr.ifr_flags & IFF_UP) == 0) {
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        if (auto ec = detail::ifreq_ioctl(s.get(), SIOCSIFFLAGS, ifr)) return ec;
    }
    return {};
}

/// Whether the kernel keeps the packets for IPv4 address `a` to itself: the name of the device on
/// which it holds `a` as its own address (any device, not only TUN ones), or an empty string when
/// `a` is local by a route only (all of 127/8, a broadcast address, `ip route add local`), found by
/// binding a UDP socket to it (unless net.ipv4.ip_nonlocal_bind lets any bind succeed). nullopt:
/// not local, or the question cannot be answered. A stack must not take such an address: the
/// kernel would deliver its packets to itself and never route them to the TUN device. No
/// privilege is needed.
[[nodiscard]] inline std::optional<std::string> kernel_address_owner(wire::ipv4_address a) {
    std::optional<std::string> owner;
    if (ifaddrs* list = nullptr; ::getifaddrs(&list) == 0) {
        for (const ifaddrs* i = list; i != nullptr && !owner; i = i->ifa_next) {
            if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
            sockaddr_in sin{};
            std::memcpy(&sin, i->ifa_addr, sizeof sin);
            if (ntohl(sin.sin_addr.s_addr) == a.value) owner = i->ifa_name;
        }
        ::freeifaddrs(list);
    }
    if (owner) return owner;
    char nonlocal = '1'; // unknown: assume any bind would succeed, so a bind proves nothing
    if (detail::unique_fd f(::open("/proc/sys/net/ipv4/ip_nonlocal_bind", O_RDONLY | O_CLOEXEC)); f)
        if (::read(f.get(), &nonlocal, 1) != 1) nonlocal = '1';
    if (nonlocal != '0') return std::nullopt;
    detail::unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return std::nullopt;
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(a.value);
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0) return std::string{};
    return std::nullopt;
}

/// The MTU of device `name`.
[[nodiscard]] inline expected<std::size_t> device_mtu(const std::string& name) { return detail::query_device_mtu(name); }

} // namespace corotcp
