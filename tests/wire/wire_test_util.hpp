// Helpers shared by the wire tests: hex literals and whole-packet builders.
#pragma once

#include "corotcp/wire/icmp.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/tcp.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace wire_test {

using bytes = std::vector<std::uint8_t>;
using namespace corotcp::wire;

/// "45 00 00 3c" -> {0x45, 0x00, 0x00, 0x3c}; spaces are ignored.
inline bytes hex(std::string_view s) {
    bytes out;
    int hi = -1;
    for (char c : s) {
        int v = -1;
        if (c >= '0' && c <= '9') v = c - '0';
        if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        if (v < 0) continue;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

inline ipv4_address addr(std::string_view s) { return *ipv4_address::parse(s); }

/// A whole IPv4 + TCP packet built with the library's emitters.
inline bytes tcp_packet(ipv4_address src, ipv4_address dst, const tcp_repr& t, std::uint16_t id = 0) {
    bytes out(ipv4_header_len + t.buffer_len());
    const ipv4_repr ip{src, dst, ip_protocol::tcp, 64, id, true, static_cast<std::uint16_t>(t.buffer_len())};
    ip.emit(out);
    t.emit(std::span(out).subspan(ipv4_header_len), src, dst);
    return out;
}

/// A whole IPv4 + ICMP packet.
inline bytes icmp_packet(ipv4_address src, ipv4_address dst, const icmp_repr& m) {
    bytes out(ipv4_header_len + m.buffer_len());
    const ipv4_repr ip{src, dst, ip_protocol::icmp, 64, 0, true, static_cast<std::uint16_t>(m.buffer_len())};
    ip.emit(out);
    m.emit(std::span(out).subspan(ipv4_header_len));
    return out;
}

} // namespace wire_test
