// corotcp/link/pcap.hpp: capture files that Wireshark, tshark and tcpdump read.
//
// pcap_writer writes the classic libpcap format: a 24-byte global header (magic, version 2.4,
// thiszone 0, sigfigs 0, snaplen, link type LINKTYPE_RAW = 101: each record is a bare IPv4 packet)
// followed by one record per packet (16-byte header: ts_sec, ts_usec or ts_nsec, incl_len, orig_len,
// then incl_len bytes). Fields are always written little-endian, whatever the host, so files are
// byte-identical across platforms; readers detect the byte order from the magic number.
//
// Timestamps come from the `instant` passed in (µs since the timer policy's epoch), plus an optional
// offset; a virtual clock starting at 0 therefore shows up as 1970-01-01 unless an offset is given.
//
// pcap_link<L> is a link wrapper that records every packet it transmits and receives.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <span>
#include <utility>

#include "corotcp/link/concept.hpp"
#include "corotcp/link/packet.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {

enum class pcap_precision {
    micro, ///< magic 0xa1b2c3d4, second field of a timestamp in microseconds
    nano,  ///< magic 0xa1b23c4d, second field of a timestamp in nanoseconds
};

struct pcap_options {
    pcap_precision precision = pcap_precision::micro;
    std::uint32_t snaplen = 65535; ///< longer packets are truncated in the file (orig_len keeps the size)
    duration time_offset{};        ///< added to every timestamp (e.g. the Unix time of the virtual epoch)
};

inline constexpr std::uint32_t pcap_magic_micro = 0xa1b2c3d4;
inline constexpr std::uint32_t pcap_magic_nano = 0xa1b23c4d;
inline constexpr std::uint32_t pcap_linktype_raw = 101;

class pcap_writer {
public:
    /// Writes to a stream the caller keeps alive; the global header is written at once.
    explicit pcap_writer(std::ostream& out, pcap_options options = {}) : out_(&out), options_(options) {
        write_global_header();
    }

    /// Creates (truncates) `file`; check ok() for failure to open.
    explicit pcap_writer(const std::filesystem::path& file, pcap_options options = {})
        : owned_(std::make_unique<std::ofstream>(file, std::ios::binary | std::ios::trunc)), out_(owned_.get()),
          options_(options) {
        write_global_header();
    }

    pcap_writer(pcap_writer&& other) noexcept
        : owned_(std::move(other.owned_)), out_(std::exchange(other.out_, nullptr)), options_(other.options_),
          records_(other.records_) {}
    pcap_writer& operator=(pcap_writer&& other) noexcept {
        if (this != &other) {
            if (out_ != nullptr) out_->flush();
            owned_ = std::move(other.owned_);
            out_ = std::exchange(other.out_, nullptr);
            options_ = other.options_;
            records_ = other.records_;
        }
        return *this;
    }
    pcap_writer(const pcap_writer&) = delete;
    pcap_writer& operator=(const pcap_writer&) = delete;
    ~pcap_writer() {
        if (out_ != nullptr) out_->flush();
    }

    /// Appends one record. Must not be called on a moved-from writer.
    void write(instant t, std::span<const std::uint8_t> ip_packet) {
        std::int64_t us = (t + options_.time_offset).us;
        us = std::max<std::int64_t>(us, 0);
        const auto sec = static_cast<std::uint32_t>(us / 1'000'000);
        const auto frac = static_cast<std::uint32_t>(us % 1'000'000) *
                          (options_.precision == pcap_precision::nano ? 1000u : 1u);
        const auto orig = static_cast<std::uint32_t>(ip_packet.size());
        const auto incl = std::min(orig, options_.snaplen);
        std::uint8_t header[16];
        put_le32(header + 0, sec);
        put_le32(header + 4, frac);
        put_le32(header + 8, incl);
        put_le32(header + 12, orig);
        write_bytes(header);
        write_bytes(ip_packet.first(incl));
        ++records_;
    }

    void flush() {
        if (out_ != nullptr) out_->flush();
    }
    /// False once the stream failed (or the file could not be opened).
    [[nodiscard]] bool ok() const { return out_ != nullptr && out_->good(); }
    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    [[nodiscard]] const pcap_options& options() const noexcept { return options_; }

private:
    static void put_le32(std::uint8_t* p, std::uint32_t v) noexcept {
        for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    static void put_le16(std::uint8_t* p, std::uint16_t v) noexcept {
        p[0] = static_cast<std::uint8_t>(v);
        p[1] = static_cast<std::uint8_t>(v >> 8);
    }

    void write_bytes(std::span<const std::uint8_t> b) {
        out_->write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }

    void write_global_header() {
        std::uint8_t h[24];
        put_le32(h + 0, options_.precision == pcap_precision::nano ? pcap_magic_nano : pcap_magic_micro);
        put_le16(h + 4, 2);  // version major
        put_le16(h + 6, 4);  // version minor
        put_le32(h + 8, 0);  // thiszone: timestamps are UTC
        put_le32(h + 12, 0); // sigfigs
        put_le32(h + 16, options_.snaplen);
        put_le32(h + 20, pcap_linktype_raw);
        write_bytes(h);
    }

    std::unique_ptr<std::ofstream> owned_;
    std::ostream* out_;
    pcap_options options_;
    std::uint64_t records_ = 0;
};

/// A link wrapper recording both directions into one capture: transmitted packets when they are
/// handed to the inner link, received packets when the inner link hands them out.
template <link L>
class pcap_link {
public:
    /// L may be a reference type to record a link owned elsewhere.
    pcap_link(L inner, pcap_writer writer) : inner_(std::forward<L>(inner)), writer_(std::move(writer)) {}

    [[nodiscard]] std::size_t mtu() const { return inner_.mtu(); }

    void transmit(instant now, packet&& p) {
        writer_.write(now, std::as_const(p).bytes());
        inner_.transmit(now, std::move(p));
    }

    std::size_t receive(instant now, packet_batch& out) {
        const std::size_t first = out.size();
        const std::size_t n = inner_.receive(now, out);
        for (std::size_t i = first; i < out.size(); ++i) writer_.write(now, std::as_const(out[i]).bytes());
        return n;
    }

    [[nodiscard]] instant poll_at() const { return inner_.poll_at(); }

    /// Only when the inner link can block (a TUN device): flushes the capture (so that it is complete
    /// up to this point even if the process is killed while blocked), then blocks in the inner link.
    bool wait(instant deadline)
        requires detail::waitable_link<L>
    {
        writer_.flush();
        return inner_.wait(deadline);
    }

    [[nodiscard]] L& inner() noexcept { return inner_; }
    [[nodiscard]] const L& inner() const noexcept { return inner_; }
    [[nodiscard]] pcap_writer& writer() noexcept { return writer_; }

private:
    L inner_;
    pcap_writer writer_;
};

static_assert(link<pcap_link<detail::link_archetype>>);
static_assert(link<pcap_link<detail::link_archetype&>>);

} // namespace corotcp
