// Hand-built packets for the link tests.
//
// The link layer treats packets as opaque bytes, so most tests use "numbered" packets whose first
// four bytes are a big-endian serial number. Tracer and pcap tests need real IPv4/TCP packets; those
// are laid out byte by byte here (RFC 791 / RFC 9293 header layouts, RFC 1071 checksums) so the
// tests do not depend on the wire layer's builders.
#pragma once

#include <corotcp/link/concept.hpp>
#include <corotcp/link/packet.hpp>
#include <corotcp/util/time.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace link_test {

inline corotcp::packet numbered(std::uint32_t n, std::size_t size = 64) {
    corotcp::packet p(size < 4 ? 4 : size);
    p.data()[0] = static_cast<std::uint8_t>(n >> 24);
    p.data()[1] = static_cast<std::uint8_t>(n >> 16);
    p.data()[2] = static_cast<std::uint8_t>(n >> 8);
    p.data()[3] = static_cast<std::uint8_t>(n);
    return p;
}

inline std::uint32_t number_of(std::span<const std::uint8_t> b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}
inline std::uint32_t number_of(const corotcp::packet& p) { return number_of(p.bytes()); }

/// One delivery as a test sees it: which packet, and when.
struct delivery {
    std::uint32_t number;
    std::int64_t at_us;
    friend bool operator==(const delivery&, const delivery&) = default;
};

/// Receives everything `l` will ever deliver, jumping the clock to poll_at() like a virtual-time run
/// loop, starting at `now`.
template <corotcp::link L>
std::vector<delivery> drain(L& l, corotcp::instant now) {
    std::vector<delivery> out;
    corotcp::packet_batch batch;
    for (;;) {
        batch.clear();
        l.receive(now, batch);
        for (const auto& p : batch) out.push_back({number_of(p), now.us});
        const auto next = l.poll_at();
        if (next.is_never()) return out;
        now = next > now ? next : now;
    }
}

struct tcp_spec {
    std::uint8_t src[4] = {10, 0, 0, 1};
    std::uint8_t dst[4] = {10, 0, 0, 2};
    std::uint16_t sport = 35646;
    std::uint16_t dport = 80;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0x02; // SYN
    std::uint16_t window = 29200;
    std::uint16_t ip_id = 1;
    std::vector<std::uint8_t> options{}; // length must be a multiple of 4
    std::size_t payload = 0;             // bytes of 'x'
};

namespace tcp_flags {
inline constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

inline std::uint16_t ones_complement_sum(std::span<const std::uint8_t> b, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < b.size(); i += 2) sum += (std::uint32_t{b[i]} << 8) | b[i + 1];
    if (b.size() % 2 != 0) sum += std::uint32_t{b.back()} << 8;
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

inline void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}

/// A valid IPv4 + TCP packet with correct header and TCP checksums.
inline corotcp::packet make_tcp(const tcp_spec& s) {
    const std::size_t tcp_len = 20 + s.options.size() + s.payload;
    const std::size_t total = 20 + tcp_len;
    corotcp::packet p(total);
    std::uint8_t* ip = p.data();
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(total));
    put16(ip + 4, s.ip_id);
    ip[6] = 0x40; // DF
    ip[8] = 64;   // TTL
    ip[9] = 6;    // TCP
    for (int i = 0; i < 4; ++i) {
        ip[12 + i] = s.src[i];
        ip[16 + i] = s.dst[i];
    }
    put16(ip + 10, static_cast<std::uint16_t>(~ones_complement_sum({ip, 20})));

    std::uint8_t* tcp = ip + 20;
    put16(tcp + 0, s.sport);
    put16(tcp + 2, s.dport);
    put32(tcp + 4, s.seq);
    put32(tcp + 8, s.ack);
    tcp[12] = static_cast<std::uint8_t>(((20 + s.options.size()) / 4) << 4);
    tcp[13] = s.flags;
    put16(tcp + 14, s.window);
    for (std::size_t i = 0; i < s.options.size(); ++i) tcp[20 + i] = s.options[i];
    for (std::size_t i = 0; i < s.payload; ++i) tcp[20 + s.options.size() + i] = 'x';

    std::uint8_t pseudo[12] = {};
    for (int i = 0; i < 4; ++i) {
        pseudo[i] = s.src[i];
        pseudo[4 + i] = s.dst[i];
    }
    pseudo[9] = 6;
    put16(pseudo + 10, static_cast<std::uint16_t>(tcp_len));
    const std::uint16_t partial = ones_complement_sum(pseudo);
    put16(tcp + 16, static_cast<std::uint16_t>(~ones_complement_sum({tcp, tcp_len}, partial)));
    return p;
}

/// The first segments of a connection 10.0.0.1:35646 -> 10.0.0.2:80: SYN (mss 1460, sackOK, TS,
/// wscale 7), SYN-ACK, ACK, 100 bytes of data, its ACK, FIN, FIN, ACK.
inline std::vector<corotcp::packet> sample_connection() {
    const std::vector<std::uint8_t> syn_options = {2, 4, 0x05, 0xb4,           // mss 1460
                                                   4, 2,                       // sackOK
                                                   8, 10, 0, 0, 0, 1, 0, 0, 0, 0, // TS val 1 ecr 0
                                                   1,                          // nop
                                                   3, 3, 7};                   // wscale 7
    std::vector<corotcp::packet> v;
    tcp_spec c{};
    tcp_spec s{.src = {10, 0, 0, 2}, .dst = {10, 0, 0, 1}, .sport = 80, .dport = 35646};
    c.seq = 1000;
    c.options = syn_options;
    v.push_back(make_tcp(c));
    s.seq = 5000;
    s.ack = 1001;
    s.flags = tcp_flags::syn | tcp_flags::ack;
    s.options = {2, 4, 0x05, 0xb4};
    v.push_back(make_tcp(s));
    c.options.clear();
    c.seq = 1001;
    c.ack = 5001;
    c.flags = tcp_flags::ack;
    c.ip_id = 2;
    v.push_back(make_tcp(c));
    c.flags = tcp_flags::ack | tcp_flags::psh;
    c.payload = 100;
    c.ip_id = 3;
    v.push_back(make_tcp(c));
    s.options.clear();
    s.seq = 5001;
    s.ack = 1101;
    s.flags = tcp_flags::ack;
    s.ip_id = 2;
    v.push_back(make_tcp(s));
    c.payload = 0;
    c.seq = 1101;
    c.flags = tcp_flags::fin | tcp_flags::ack;
    c.ip_id = 4;
    v.push_back(make_tcp(c));
    s.ack = 1102;
    s.flags = tcp_flags::fin | tcp_flags::ack;
    s.ip_id = 3;
    v.push_back(make_tcp(s));
    c.seq = 1102;
    c.ack = 5002;
    c.flags = tcp_flags::ack;
    c.ip_id = 5;
    v.push_back(make_tcp(c));
    return v;
}

} // namespace link_test
