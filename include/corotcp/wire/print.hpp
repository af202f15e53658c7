// corotcp/wire/print.hpp: one tcpdump-style line per IPv4 packet (what `tcpdump -nn -S` prints).
//
//   IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [S], seq 1012495606, win 29200, options [mss 1460,sackOK,TS val 3535567886 ecr 0,nop,wscale 7], length 0
//   IP 10.0.0.1.35646 > 10.0.0.2.80: Flags [P.], seq 1000:1064, ack 5000, win 502, length 64
//   IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 1, length 64
//
// Differences from tcpdump, on purpose: sequence and ack numbers are always absolute (as with
// tcpdump -S) because this printer keeps no per-flow state; ports and addresses are numeric (-nn);
// window scale prints the raw option value. Checksums are not shown (tcpdump shows them with -v).
// Malformed input prints a line that says so, e.g. "IP [malformed: bad version], length 12".
#pragma once

#include "corotcp/wire/bytes.hpp"
#include "corotcp/wire/icmp.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/tcp.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace corotcp::wire {

namespace detail {

inline void append_num(std::string& s, std::uint64_t n) { s += std::to_string(n); }

inline void append_hex(std::string& s, std::span<const std::uint8_t> bytes) {
    constexpr std::string_view digits = "0123456789abcdef";
    s += "0x";
    for (std::uint8_t b : bytes) {
        s += digits[b >> 4];
        s += digits[b & 0xF];
    }
}

/// tcpdump's letters in tcpdump's order: F S R P . U E W; "none" when no flag is set.
inline std::string tcp_flag_letters(std::uint8_t flags) {
    constexpr std::pair<std::uint8_t, char> table[] = {
        {tcp_flags::fin, 'F'}, {tcp_flags::syn, 'S'}, {tcp_flags::rst, 'R'}, {tcp_flags::psh, 'P'},
        {tcp_flags::ack, '.'}, {tcp_flags::urg, 'U'}, {tcp_flags::ece, 'E'}, {tcp_flags::cwr, 'W'}};
    std::string s;
    for (const auto& [bit, letter] : table) {
        if ((flags & bit) != 0) s += letter;
    }
    return s.empty() ? std::string("none") : s;
}

/// One option as tcpdump names it; a known kind with a wrong length prints "<name> [len N]".
inline void append_tcp_option(std::string& s, std::uint8_t kind, std::span<const std::uint8_t> v) {
    const auto bad_len = [&](const char* name) {
        s += name;
        s += " [len ";
        append_num(s, v.size() + 2);
        s += ']';
    };
    switch (kind) {
    case tcp_option_kind::end: s += "eol"; return;
    case tcp_option_kind::nop: s += "nop"; return;
    case tcp_option_kind::mss:
        if (v.size() != 2) return bad_len("mss");
        s += "mss ";
        append_num(s, load_be16(v.data()));
        return;
    case tcp_option_kind::window_scale:
        if (v.size() != 1) return bad_len("wscale");
        s += "wscale ";
        append_num(s, v[0]);
        return;
    case tcp_option_kind::sack_permitted:
        if (!v.empty()) return bad_len("sackOK");
        s += "sackOK";
        return;
    case tcp_option_kind::timestamps:
        if (v.size() != 8) return bad_len("TS");
        s += "TS val ";
        append_num(s, load_be32(v.data()));
        s += " ecr ";
        append_num(s, load_be32(v.data() + 4));
        return;
    case tcp_option_kind::sack:
        if (v.size() % 8 != 0) return bad_len("sack");
        s += "sack ";
        append_num(s, v.size() / 8);
        s += ' ';
        for (std::size_t i = 0; i + 8 <= v.size(); i += 8) {
            s += '{';
            append_num(s, load_be32(v.data() + i));
            s += ':';
            append_num(s, load_be32(v.data() + i + 4));
            s += '}';
        }
        return;
    default:
        s += "unknown-";
        append_num(s, kind);
        if (!v.empty()) {
            s += ' ';
            append_hex(s, v);
        }
        return;
    }
}

inline void append_tcp_options(std::string& s, std::span<const std::uint8_t> area) {
    s += ", options [";
    bool first = true;
    const bool ok = walk_tcp_options(area, [&](std::uint8_t kind, std::span<const std::uint8_t> v) {
        if (!first) s += ',';
        first = false;
        append_tcp_option(s, kind, v);
    });
    if (!ok) s += first ? "[bad opt]" : ",[bad opt]";
    s += ']';
}

inline void append_endpoints(std::string& s, ipv4_address src, std::uint16_t sport, ipv4_address dst,
                             std::uint16_t dport) {
    s += src.to_string() + '.' + std::to_string(sport) + " > " + dst.to_string() + '.' + std::to_string(dport) + ": ";
}

/// tcpdump's print_tcp: seq only when there is payload or SYN/FIN/RST; "seq A:B" with B = A + payload.
inline void append_tcp(std::string& s, const ipv4_view& ip) {
    const auto t = tcp_view::from_bytes(ip.payload());
    if (!t) {
        s += ip.src().to_string() + " > " + ip.dst().to_string() + ": [malformed TCP header], length ";
        append_num(s, ip.payload().size());
        return;
    }
    append_endpoints(s, ip.src(), t->src_port(), ip.dst(), t->dst_port());
    s += "Flags [" + tcp_flag_letters(t->flags()) + ']';
    const std::size_t len = t->payload().size();
    if (len > 0 || tcp_flags{t->flags()}.any(tcp_flags::syn | tcp_flags::fin | tcp_flags::rst)) {
        s += ", seq ";
        append_num(s, t->seq().value());
        if (len > 0) {
            s += ':';
            append_num(s, (t->seq() + static_cast<std::uint32_t>(len)).value());
        }
    }
    if (tcp_flags{t->flags()}.has(tcp_flags::ack)) {
        s += ", ack ";
        append_num(s, t->ack().value());
    }
    s += ", win ";
    append_num(s, t->window());
    if (tcp_flags{t->flags()}.has(tcp_flags::urg)) {
        s += ", urg ";
        append_num(s, t->urgent());
    }
    if (!t->options_area().empty()) append_tcp_options(s, t->options_area());
    s += ", length ";
    append_num(s, len);
}

inline void append_unreachable(std::string& s, std::uint8_t code, std::uint16_t mtu, const icmp_quote& q) {
    const std::string dst = q.dst().to_string();
    switch (code) {
    case icmp_unreach::net: s += "net " + dst + " unreachable"; return;
    case icmp_unreach::host: s += "host " + dst + " unreachable"; return;
    case icmp_unreach::protocol: s += dst + " protocol " + std::to_string(q.protocol()) + " unreachable"; return;
    case icmp_unreach::port:
        s += dst;
        s += q.protocol() == ip_protocol::tcp ? " tcp port " : q.protocol() == ip_protocol::udp ? " udp port " : " port ";
        s += std::to_string(q.dst_port()) + " unreachable";
        return;
    case icmp_unreach::frag_needed:
        s += dst + " unreachable - need to frag";
        if (mtu != 0) s += " (mtu " + std::to_string(mtu) + ')';
        return;
    default: s += dst + " unreachable - code " + std::to_string(code); return;
    }
}

inline void append_icmp(std::string& s, const ipv4_view& ip) {
    s += ip.src().to_string() + " > " + ip.dst().to_string() + ": ";
    const auto m = icmp_view::from_bytes(ip.payload());
    if (!m) {
        s += "[malformed ICMP], length ";
        append_num(s, ip.payload().size());
        return;
    }
    s += "ICMP ";
    const auto quote = icmp_quote::parse(m->data());
    switch (m->type()) {
    case icmp_type::echo_request:
    case icmp_type::echo_reply:
        s += m->type() == icmp_type::echo_request ? "echo request, id " : "echo reply, id ";
        s += std::to_string(m->echo_id()) + ", seq " + std::to_string(m->echo_seq());
        break;
    case icmp_type::dest_unreachable:
        if (quote) {
            append_unreachable(s, m->code(), m->next_hop_mtu(), *quote);
        } else {
            s += "unreachable [malformed quote]";
        }
        break;
    case icmp_type::time_exceeded:
        s += m->code() == icmp_time_exceeded::reassembly ? "ip reassembly time exceeded" : "time exceeded in-transit";
        break;
    default: s += "type " + std::to_string(m->type()) + ", code " + std::to_string(m->code()); break;
    }
    s += ", length ";
    append_num(s, m->bytes().size());
}

inline void append_udp(std::string& s, const ipv4_view& ip) {
    const auto p = ip.payload();
    if (p.size() < 8 || load_be16(&p[4]) < 8 || load_be16(&p[4]) > p.size()) {
        s += ip.src().to_string() + " > " + ip.dst().to_string() + ": [malformed UDP], length ";
        append_num(s, p.size());
        return;
    }
    append_endpoints(s, ip.src(), load_be16(&p[0]), ip.dst(), load_be16(&p[2]));
    s += "UDP, length ";
    append_num(s, load_be16(&p[4]) - 8u);
}

[[nodiscard]] inline std::string_view ipv4_malformation(std::span<const std::uint8_t> b) noexcept {
    if (b.empty()) return "empty";
    if ((b[0] >> 4) != 4) return "bad version";
    if (b.size() < ipv4_header_len) return "truncated header";
    if ((b[0] & 0x0F) < 5) return "bad header length";
    return "bad total length";
}

} // namespace detail

/// Formats one IPv4 packet as a tcpdump line (no trailing newline). Never fails: malformed input
/// yields a line that says what is wrong. Non-first fragments are not decoded.
[[nodiscard]] inline std::string format_tcpdump(std::span<const std::uint8_t> ip_packet) {
    std::string s = "IP ";
    const auto ip = ipv4_view::from_bytes(ip_packet);
    if (!ip) {
        s += "[malformed: ";
        s += detail::ipv4_malformation(ip_packet);
        s += "], length " + std::to_string(ip_packet.size());
        return s;
    }
    if (ip->fragment_offset() != 0) {
        s += ip->src().to_string() + " > " + ip->dst().to_string() + ": ip-proto-" + std::to_string(ip->protocol()) +
             " (frag " + std::to_string(ip->id()) + ':' + std::to_string(ip->payload().size()) + '@' +
             std::to_string(ip->fragment_offset()) + (ip->more_fragments() ? "+)" : ")");
        return s;
    }
    switch (ip->protocol()) {
    case ip_protocol::tcp: detail::append_tcp(s, *ip); break;
    case ip_protocol::icmp: detail::append_icmp(s, *ip); break;
    case ip_protocol::udp: detail::append_udp(s, *ip); break;
    default:
        s += ip->src().to_string() + " > " + ip->dst().to_string() + ": ip-proto-" + std::to_string(ip->protocol()) +
             ' ' + std::to_string(ip->payload().size());
        break;
    }
    return s;
}

} // namespace corotcp::wire
