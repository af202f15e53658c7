// tests/tun/offload_test.cpp: the TUN link's offload paths on hand-made frames, without a device:
// the virtio header of a TSO super-segment we write (prepare_vnet_tx), and what a frame the kernel
// hands us becomes (deliver): a NEEDS_CSUM frame gets its TCP checksum finished, a GSO frame is cut
// into MSS segments with their own headers and checksums, a frame whose checksum offsets lie
// outside it is counted as an error and dropped.
#include "corotcp/link/tun.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "corotcp/wire/checksum.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/tcp.hpp"

using namespace corotcp;
using corotcp::detail::virtio_net_hdr;

namespace {

const wire::ipv4_address src = wire::ipv4_address::from_octets(10, 0, 0, 1);
const wire::ipv4_address dst = wire::ipv4_address::from_octets(10, 0, 0, 2);

/// A TCP/IPv4 packet with a 12-byte timestamp option and `payload` bytes (byte i = i * 7), with
/// complete, correct checksums.
std::vector<std::uint8_t> tcp_packet(std::size_t payload, std::uint8_t flags, std::uint16_t id = 100) {
    std::vector<std::uint8_t> data(payload);
    for (std::size_t i = 0; i < payload; ++i) data[i] = static_cast<std::uint8_t>(i * 7);
    wire::tcp_repr t{};
    t.src_port = 80;
    t.dst_port = 40000;
    t.seq = wire::seq32(5000);
    t.ack = wire::seq32(9000);
    t.flags = flags;
    t.window = 500;
    t.options.timestamps = wire::tcp_timestamps{1, 2};
    const std::size_t tcp_len = 20 + 12 + payload;
    std::vector<std::uint8_t> out(20 + tcp_len);
    const wire::ipv4_repr ip{src, dst, wire::ip_protocol::tcp, 64, id, true, static_cast<std::uint16_t>(tcp_len)};
    REQUIRE(ip.emit(out) == 20);
    REQUIRE(t.emit_with_payload(std::span(out).subspan(20), src, dst, data) == tcp_len);
    return out;
}

/// Hands `link` (with the virtio header on) the frame the kernel would: `h`, then the packet.
packet_batch deliver(detail::tun_impl& link, const virtio_net_hdr& h, const std::vector<std::uint8_t>& pkt) {
    std::vector<std::uint8_t> f(detail::vnet_hdr_len + pkt.size());
    std::memcpy(f.data(), &h, detail::vnet_hdr_len);
    std::memcpy(f.data() + detail::vnet_hdr_len, pkt.data(), pkt.size());
    link.vnet = true;
    packet_batch out;
    link.deliver(f.data(), f.size(), out);
    return out;
}

/// A virtio header asking us to finish the TCP checksum, which starts at `start`.
virtio_net_hdr needs_csum(std::size_t start) {
    virtio_net_hdr h{};
    h.flags = detail::VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.csum_start = static_cast<std::uint16_t>(start);
    h.csum_offset = 16;
    return h;
}

struct checked_segment {
    std::uint16_t ip_id;
    std::uint32_t seq;
    std::uint8_t flags;
    std::size_t payload;
};

/// Parses a delivered packet; both checksums must verify.
checked_segment check_segment(const packet& p) {
    const auto ip = wire::ipv4_view::from_bytes(p.bytes());
    REQUIRE(ip);
    CHECK(ip->verify_checksum());
    CHECK(ip->total_length() == p.size());
    const auto tcp = wire::tcp_view::from_bytes(ip->payload());
    REQUIRE(tcp);
    CHECK(tcp->verify_checksum(src, dst));
    return {ip->id(), tcp->seq().value(), tcp->flags(), tcp->payload().size()};
}

} // namespace

TEST_CASE("prepare_vnet_tx: a TSO super-segment gets GSO_TCPV4 + NEEDS_CSUM and the pseudo-header sum in its checksum field") {
    const auto bytes = tcp_packet(3000, wire::tcp_flags::ack | wire::tcp_flags::psh);
    packet p(bytes.size());
    std::memcpy(p.data(), bytes.data(), bytes.size());
    p.set_gso_size(1448);
    virtio_net_hdr h{};
    REQUIRE(detail::prepare_vnet_tx(p, h));
    CHECK(h.flags == detail::VIRTIO_NET_HDR_F_NEEDS_CSUM);
    CHECK(h.gso_type == detail::VIRTIO_NET_HDR_GSO_TCPV4);
    CHECK(h.hdr_len == 20 + 32);
    CHECK(h.gso_size == 1448);
    CHECK(h.csum_start == 20);
    CHECK(h.csum_offset == 16);
    // the kernel finishes each segment's checksum from the pseudo-header sum (not complemented)
    CHECK(wire::load_be16(p.data() + 20 + 16) ==
          wire::ipv4_pseudo_header_sum(src, dst, wire::ip_protocol::tcp, static_cast<std::uint16_t>(32 + 3000)));
    CHECK(std::memcmp(p.data(), bytes.data(), 36) == 0); // nothing else changed
    CHECK(std::memcmp(p.data() + 38, bytes.data() + 38, bytes.size() - 38) == 0);
}

TEST_CASE("prepare_vnet_tx: a packet that fits one segment, or is not TCP/IPv4, is left alone") {
    const auto bytes = tcp_packet(1000, wire::tcp_flags::ack);
    packet small(bytes.size());
    std::memcpy(small.data(), bytes.data(), bytes.size());
    small.set_gso_size(1448); // 1000 <= 1448: one segment after all
    virtio_net_hdr h{};
    REQUIRE(detail::prepare_vnet_tx(small, h));
    CHECK(h.flags == 0);
    CHECK(h.gso_type == detail::VIRTIO_NET_HDR_GSO_NONE);
    CHECK(std::memcmp(small.data(), bytes.data(), bytes.size()) == 0);

    packet not_tcp(bytes.size());
    std::memcpy(not_tcp.data(), bytes.data(), bytes.size());
    not_tcp.data()[9] = 17; // UDP
    not_tcp.set_gso_size(100);
    CHECK_FALSE(detail::prepare_vnet_tx(not_tcp, h));
}

TEST_CASE("deliver: a NEEDS_CSUM frame from the kernel gets its TCP checksum finished") {
    auto pkt = tcp_packet(2000, wire::tcp_flags::ack);
    // as the kernel hands it over: the checksum field holds the pseudo-header sum only
    wire::store_be16(pkt.data() + 20 + 16,
                     wire::ipv4_pseudo_header_sum(src, dst, wire::ip_protocol::tcp, static_cast<std::uint16_t>(pkt.size() - 20)));
    detail::tun_impl link;
    const packet_batch out = deliver(link, needs_csum(20), pkt);
    REQUIRE(out.size() == 1);
    const auto s = check_segment(out[0]); // the finished checksum verifies
    CHECK(s.payload == 2000);
    CHECK(link.stats.rx_csum == 1);
    CHECK(link.stats.rx_errors == 0);
}

TEST_CASE("deliver: checksum offsets outside the frame are an error, and nothing is delivered") {
    const auto pkt = tcp_packet(100, wire::tcp_flags::ack);
    detail::tun_impl link;
    CHECK(deliver(link, needs_csum(pkt.size() - 1), pkt).empty());
    CHECK(link.stats.rx_errors == 1);
}

TEST_CASE("deliver with split_gso: a GSO frame becomes MSS segments, each with its own headers and checksums, FIN and PSH on the last") {
    const auto pkt = tcp_packet(2500, wire::tcp_flags::ack | wire::tcp_flags::psh | wire::tcp_flags::fin, 700);
    virtio_net_hdr h{};
    h.gso_type = detail::VIRTIO_NET_HDR_GSO_TCPV4;
    h.gso_size = 1000;
    h.hdr_len = 52;
    detail::tun_impl link;
    link.opt.split_gso = true;
    const packet_batch out = deliver(link, h, pkt);
    REQUIRE(out.size() == 3);
    const std::size_t sizes[] = {1000, 1000, 500};
    for (std::size_t k = 0; k < 3; ++k) {
        const auto s = check_segment(out[k]);
        CHECK(s.payload == sizes[k]);
        CHECK(s.seq == 5000 + 1000 * k);
        CHECK(s.ip_id == 700 + k);
        const bool last = k == 2;
        CHECK(((s.flags & wire::tcp_flags::fin) != 0) == last);
        CHECK(((s.flags & wire::tcp_flags::psh) != 0) == last);
        CHECK((s.flags & wire::tcp_flags::ack) != 0);
    }
    // the bytes, in order, are the frame's payload
    std::vector<std::uint8_t> joined;
    for (const auto& p : out) joined.insert(joined.end(), p.bytes().begin() + 52, p.bytes().end());
    CHECK(std::equal(joined.begin(), joined.end(), pkt.begin() + 52, pkt.end()));
    CHECK(link.stats.rx_gso == 1);
}
