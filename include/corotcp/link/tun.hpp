// corotcp/link/tun.hpp: a link to the Linux kernel through a TUN device, driven by io_uring.
//
//     auto link = corotcp::tun_link::open({.name = "tun0"});        // expected<tun_link>
//     if (!link) { std::fprintf(stderr, "%s\n", link.error().message().c_str()); return 1; }
//     corotcp::run_loop<corotcp::real_clock> loop;
//     corotcp::basic_stack<corotcp::tun_link> stack(loop, std::move(*link), settings);
//
// The device is opened with IFF_TUN | IFF_NO_PI: every read and write is one bare IPv4 packet. A
// device of the given name is attached to if it exists (a persistent one from `ip tuntap add`), or
// created (it then disappears when the link is closed). tun_config.hpp configures the kernel side
// (address, netmask, up) of a device.
//
// The descriptor is non-blocking (O_NONBLOCK). The I/O path (io_uring, liburing >= 2.3):
//   * receiving, `reads_in_flight` == 0 and `multishot_read` (the default) on a kernel that has
//     IORING_OP_READ_MULTISHOT (6.7) and ring-mapped provided buffers (5.19): one multishot read stays
//     armed on the device; the kernel reads every arriving frame into a free buffer of a ring of
//     `rx_buffers` buffers it shares with us and posts one completion per frame. receive() reaps them
//     from the completion ring (no system call per packet), copies each frame out and hands its buffer
//     straight back. If the buffers ever run out (-ENOBUFS ends the multishot read), it is armed again
//     on the next receive(). When the kernel lacks either feature (probed at setup, or refused on the
//     first completion), the link says so once through `log` and uses the next mode;
//   * receiving, `reads_in_flight` == 0 otherwise: one multishot IORING_OP_POLL_ADD (POLLIN) on the
//     device says when it is readable; receive() then empties it with plain non-blocking read() calls,
//     at most `rx_batch` frames per call (tun_drain.hpp), until EAGAIN (one system call per frame);
//   * receiving, `reads_in_flight` == N > 0: N reads are always armed, each into its own buffer of a
//     ring of buffers registered with the kernel (IORING_OP_READ_FIXED) when it allows it, plain reads
//     otherwise. On the non-blocking descriptor a read that finds no packet is parked on io_uring's
//     internal poll (no worker thread), but every packet wakes all N of them: keep N small;
//   * transmit() queues a write (the packet is kept until its completion) and submits nothing;
//   * receive() reaps completions from the shared completion ring (no system call), re-arms the reads
//     and submits every queued write and read in one io_uring_submit, only if anything is queued;
//   * wait(deadline) is one io_uring_submit_and_wait_timeout: the run loop of basic_stack blocks in
//     it instead of sleeping, so an arriving packet wakes it at once. With `busy_poll_us` it first
//     watches the completion ring for that long (no system call) and only then blocks;
//   * the ring is set up with DEFER_TASKRUN (6.1; else COOP_TASKRUN, 5.19) and TASKRUN_FLAG: the
//     kernel finishes completions in batches when this thread enters io_uring, never by
//     interrupting it, and flags in the SQ ring when there are some to collect.
// Threads: like the stack it serves, a link is used by one thread, and with DEFER_TASKRUN it must be
// the thread that first calls receive(), transmit() + receive() or wait() (the run loop's), which
// need not be the one that opened it; the kernel refuses submissions from any other (counted in
// tun_stats::submit_errors, said once through `log`).
// When io_uring cannot be set up (an old kernel, seccomp, io_uring_disabled), the link falls back to
// read(), write() and ppoll() (at most `rx_batch` reads per receive()), and says so once through `log`.
//
// Offloads (tun_options::offload): IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4). Every
// frame then carries a struct virtio_net_hdr. The kernel may hand us TCP packets whose checksum is
// not finished (VIRTIO_NET_HDR_F_NEEDS_CSUM: it is finished here, fused with the copy out of the read
// buffer) and GSO super-frames of up to 64 KB (gso_size = the MSS): they are either handed up whole
// (the interface accepts IPv4 packets of any size up to 64 KB) or, with `split_gso`, cut into MSS-sized
// segments with their own IP and TCP checksums. If the kernel refuses the offloads, the link works
// exactly as without them. Sending: with TSO4 accepted, tso_max() is non-zero, so the stack's
// engine emits TCP super-segments of up to 64 KB (packet::gso_size() = the MSS); each is written
// with gso_type TCPV4 and NEEDS_CSUM, the kernel cuts it into MSS segments and finishes their
// checksums. Ordinary packets carry complete checksums and an all-zero virtio header. Without TSO4
// (offloads refused or off) tso_max() is 0 and the engine sends MSS-sized segments as before.
//
// Time: `now` is the caller's; wait() converts its deadline to a relative timeout against
// std::chrono::steady_clock, which is the clock of corotcp::real_clock. Use this link with
// run_loop<real_clock>.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "corotcp/link/concept.hpp"
#include "corotcp/link/packet.hpp"
#include "corotcp/link/tun_drain.hpp"
#include "corotcp/link/tun_error.hpp"
#include "corotcp/util/expected.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/wire/bytes.hpp"
#include "corotcp/wire/checksum.hpp"

namespace corotcp {

/// How the link does its I/O.
enum class tun_io {
    automatic, ///< io_uring if it can be set up, else plain read()/write() (with a message)
    io_uring,  ///< io_uring or fail
    plain,     ///< non-blocking read()/write() + ppoll()
};

struct tun_options {
    std::string name = "tun0";       ///< the device; created if it does not exist and `create`
    bool create = true;              ///< false: only attach to an existing device
    std::size_t mtu = 0;             ///< IP MTU the stack is told; 0: the device's (SIOCGIFMTU)
    bool offload = false;            ///< IFF_VNET_HDR + TUNSETOFFLOAD(CSUM | TSO4)
    bool split_gso = false;          ///< with offload: cut GSO frames into MSS segments (else whole)
    tun_io io = tun_io::automatic;
    /// io_uring: 0 = one multishot read (or, without it, one multishot poll + read() until EAGAIN:
    /// see the header comment); N > 0 = N reads armed at all times (at most 1024)
    unsigned reads_in_flight = 0;
    /// io_uring, reads_in_flight == 0: use IORING_OP_READ_MULTISHOT with provided buffers when the
    /// kernel has it (false: always the multishot poll + read() drain)
    bool multishot_read = true;
    unsigned rx_buffers = 64;        ///< multishot read: frames the kernel may read ahead (a power of 2)
    unsigned rx_batch = 64;          ///< frames read() per receive() at most (poll and plain modes)
    unsigned writes_in_flight = 512; ///< queued or unfinished writes at most; more are dropped
    /// Busy polling, like Linux's SO_BUSY_POLL: before the run loop blocks in wait(), watch for
    /// arriving frames for up to this many microseconds (0: off, the default). It spends CPU to save
    /// the sleep and the wake-up (an IPI, on a VM an exit) per packet, which is most of the latency of
    /// a request/response over TUN: see docs/performance.md.
    unsigned busy_poll_us = 0;
    std::function<void(std::string_view)> log{}; ///< notices (e.g. the fallback); empty: stderr
};

/// What the link counted.
struct tun_stats {
    std::uint64_t rx_packets = 0;   ///< frames read from the device
    std::uint64_t rx_bytes = 0;
    std::uint64_t rx_delivered = 0; ///< packets handed to the stack (> rx_packets when GSO is split)
    std::uint64_t rx_errors = 0;    ///< failed reads, runt frames, bad virtio headers
    std::uint64_t rx_gso = 0;       ///< GSO super-frames received
    std::uint64_t rx_csum = 0;      ///< checksums finished for the kernel (NEEDS_CSUM)
    std::uint64_t tx_packets = 0;   ///< writes completed
    std::uint64_t tx_bytes = 0;
    std::uint64_t tx_errors = 0;    ///< failed writes
    std::uint64_t tx_dropped = 0;   ///< larger than the MTU, or too many writes in flight
    std::uint64_t tx_gso = 0;       ///< TSO super-segments written (the kernel cuts them up)
    std::uint64_t rx_rearms = 0;    ///< multishot read re-armed after it ended (-ENOBUFS: the buffers were full)
    std::uint64_t submits = 0;      ///< io_uring_submit calls (system calls on the busy path)
    std::uint64_t submit_errors = 0; ///< failed io_uring_submit calls (e.g. from another thread)
    std::uint64_t waits = 0;        ///< calls of wait() (blocking, unless busy polling ended them)
    std::uint64_t busy_polled = 0;  ///< waits that busy polling ended without sleeping
};

namespace detail {

inline void tun_log_stderr(std::string_view msg) {
    std::fprintf(stderr, "corotcp tun: %.*s\n", static_cast<int>(msg.size()), msg.data());
}

[[nodiscard]] inline bool valid_ifname(std::string_view n) noexcept {
    if (n.empty() || n.size() >= IFNAMSIZ || n == "." || n == "..") return false;
    for (const char c : n) {
        if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || static_cast<unsigned char>(c) < 0x21)
            return false;
    }
    return true;
}

/// A file descriptor that closes itself.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// The MTU of network device `name`, or an error.
[[nodiscard]] inline expected<std::size_t> query_device_mtu(const std::string& name) {
    unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return errno_code();
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
    if (::ioctl(s.get(), SIOCGIFMTU, &ifr) < 0) return errno_code();
    return static_cast<std::size_t>(ifr.ifr_mtu);
}

// struct virtio_net_hdr of <linux/virtio_net.h> (which does not compile as C++: a member named
// `class`), in the host's byte order as TUN uses it without TUNSETVNETBE.
struct virtio_net_hdr {
    std::uint8_t flags;
    std::uint8_t gso_type;
    std::uint16_t hdr_len;
    std::uint16_t gso_size;
    std::uint16_t csum_start;
    std::uint16_t csum_offset;
};
static_assert(sizeof(virtio_net_hdr) == 10);
inline constexpr std::uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_TCPV4 = 1;
inline constexpr std::uint8_t VIRTIO_NET_HDR_GSO_ECN = 0x80;

inline constexpr std::size_t vnet_hdr_len = sizeof(virtio_net_hdr); // 10: no TUNSETVNETHDRSZ

/// The virtio header for a packet we write. An ordinary packet (gso_size() 0, or a "super-segment"
/// with no more than gso_size() payload) gets an all-zero header: its checksums are complete. A TSO
/// super-segment gets GSO_TCPV4 + NEEDS_CSUM (csum_start = the IP header length, csum_offset = 16),
/// and its TCP checksum field is rewritten to the pseudo-header sum, from which the kernel finishes
/// each segment's checksum (as for CHECKSUM_PARTIAL). False, and the packet untouched, if a
/// super-segment is not a well-formed TCP/IPv4 packet.
[[nodiscard]] inline bool prepare_vnet_tx(packet& p, virtio_net_hdr& h) noexcept {
    h = virtio_net_hdr{};
    if (p.gso_size() == 0) return true;
    std::uint8_t* b = p.data();
    const std::size_t n = p.size();
    if (n < 40 || n > 0xFFFF || (b[0] >> 4) != 4 || b[9] != 6) return false;
    const std::size_t ihl = std::size_t{b[0] & 0x0Fu} * 4;
    if (ihl < 20 || n < ihl + 20) return false;
    const std::size_t thl = std::size_t{b[ihl + 12]} / 16 * 4;
    if (thl < 20 || n < ihl + thl) return false;
    if (n - ihl - thl <= p.gso_size()) return true; // one segment after all: send it as it is
    wire::store_be16(b + ihl + 16, wire::ipv4_pseudo_header_sum(wire::load_be32(b + 12), wire::load_be32(b + 16), 6,
                                                                static_cast<std::uint16_t>(n - ihl)));
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    h.hdr_len = static_cast<std::uint16_t>(ihl + thl);
    h.gso_size = p.gso_size();
    h.csum_start = static_cast<std::uint16_t>(ihl);
    h.csum_offset = 16;
    return true;
}
inline constexpr std::uint64_t tx_tag = std::uint64_t{1} << 40;
inline constexpr std::uint64_t cancel_tag = std::uint64_t{1} << 41;
inline constexpr std::uint64_t poll_tag = std::uint64_t{1} << 42;
inline constexpr std::uint64_t mshot_tag = std::uint64_t{1} << 43;
// IORING_OP_READ_MULTISHOT (Linux 6.7): liburing 2.3's headers predate it, the kernel's ABI fixes it.
inline constexpr std::uint8_t op_read_multishot = 49;
inline constexpr std::uint16_t rx_buffer_group = 0;

/// Page-aligned memory for the ring of provided buffers (the kernel maps it).
struct aligned_free {
    void operator()(void* p) const noexcept { std::free(p); }
};

/// Everything behind the tun_link handle (which is then cheap and safe to move: in-flight I/O points
/// into this object and its buffers, never into the handle).
class tun_impl {
public:
    tun_options opt;
    unique_fd fd;
    std::string name;
    std::size_t mtu = 1500;
    bool vnet = false;
    unsigned offloads = 0; // TUN_F_* accepted by the kernel
    tun_stats stats{};

    // io_uring
    io_uring ring{};
    bool uring = false;
    bool enabled = true; // false: created R_DISABLED, enabled by activate() on first use
    bool broken = false; // the kernel refuses our submissions for good: the link is dead, and idle
    const char* completions = ""; // how the kernel finishes completions (the setup flags it took)
    bool fixed_buffers = false;
    std::size_t buf_size = 0;
    std::unique_ptr<std::uint8_t[]> rx_mem;
    std::vector<bool> rx_armed;
    unsigned rx_armed_count = 0;
    instant rearm_at = instant::never(); // idle read buffers or the poll (after an error) are armed again then
    bool poll_mode = false; // reads_in_flight == 0: multishot poll + read() drain
    bool poll_armed = false;
    bool poll_oneshot = false; // the kernel refused IORING_POLL_ADD_MULTI (before 5.13): one-shot polls
    bool readable = false;  // poll mode: the device may hold frames (a POLLIN completion, or the budget ran out)
    bool mshot_mode = false; // reads_in_flight == 0: one multishot read into the provided buffers
    bool mshot_armed = false;
    bool mshot_proven = false; // a multishot read has delivered a frame: an error is no longer "unsupported"
    unsigned br_entries = 0;
    std::unique_ptr<void, aligned_free> br_mem; // struct io_uring_buf_ring, shared with the kernel
    io_uring_buf_ring* br = nullptr;
    struct tx_slot {
        packet p;
        virtio_net_hdr hdr{};
        iovec iov[2]{};
    };
    std::vector<tx_slot> tx;
    std::vector<std::uint32_t> tx_free;
    unsigned tx_in_flight = 0;

    packet_batch pending_rx; // reaped outside receive() (transmit() making room)
    std::vector<packet> pool; // storage of finished writes, reused for received packets
    std::vector<std::uint8_t> scratch; // plain mode: the read buffer

    tun_impl() = default;
    tun_impl(const tun_impl&) = delete;
    tun_impl& operator=(const tun_impl&) = delete;

    ~tun_impl() {
        if (!uring) return;
        if (!enabled) { // never used: nothing was submitted, the kernel holds none of our buffers
            io_uring_queue_exit(&ring);
            return;
        }
        // Let queued writes reach the kernel (a final ACK or FIN), cancel the reads, and wait (bounded)
        // until the kernel no longer touches our buffers.
        for (unsigned i = 0; i < rx_armed.size(); ++i) {
            if (!rx_armed[i]) continue;
            io_uring_sqe* sqe = get_sqe();
            if (sqe == nullptr) break;
            io_uring_prep_cancel64(sqe, i, 0);
            io_uring_sqe_set_data64(sqe, cancel_tag);
        }
        if (poll_armed) {
            if (io_uring_sqe* sqe = get_sqe(); sqe != nullptr) {
                io_uring_prep_poll_remove(sqe, poll_tag);
                io_uring_sqe_set_data64(sqe, cancel_tag);
            }
        }
        if (mshot_armed) {
            if (io_uring_sqe* sqe = get_sqe(); sqe != nullptr) {
                io_uring_prep_cancel64(sqe, mshot_tag, 0);
                io_uring_sqe_set_data64(sqe, cancel_tag);
            }
        }
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
        packet_batch sink;
        while (kernel_holds_buffers() && std::chrono::steady_clock::now() < give_up) {
            __kernel_timespec ts{0, 50'000'000};
            io_uring_cqe* cqe = nullptr;
            const int r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr);
            if (r < 0 && r != -ETIME && r != -EINTR) break;
            reap(instant{}, sink, /*rearm=*/false);
            sink.clear();
        }
        io_uring_queue_exit(&ring);
        if (kernel_holds_buffers()) {
            // Not confirmed (e.g. destroyed on another thread than the one that submitted, which a
            // DEFER_TASKRUN ring refuses): the kernel may still write into the read buffers while it
            // tears the ring down. Leak them rather than let it write into freed memory.
            log("could not confirm that the kernel released the link's buffers: leaving them allocated");
            keep_until_exit(std::move(rx_mem), std::move(br_mem), std::move(tx));
        }
    }

    /// Requests in flight that read from or write into our memory.
    [[nodiscard]] bool kernel_holds_buffers() const noexcept {
        return tx_in_flight > 0 || rx_armed_count > 0 || poll_armed || mshot_armed;
    }

    /// Multishot read: the number of provided buffers, a power of 2 in [2, 32768].
    [[nodiscard]] unsigned rx_buffer_count() const noexcept {
        unsigned n = 2;
        while (n < std::clamp(opt.rx_buffers, 2u, 32768u)) n <<= 1;
        return n;
    }

    /// Buffers the kernel may still write into (see the destructor): kept, and reachable, until the
    /// process exits.
    static void keep_until_exit(std::unique_ptr<std::uint8_t[]> rx, std::unique_ptr<void, aligned_free> ring_mem,
                                std::vector<tx_slot> writes) {
        struct kept {
            std::unique_ptr<std::uint8_t[]> rx;
            std::unique_ptr<void, aligned_free> ring_mem;
            std::vector<tx_slot> writes;
        };
        static std::mutex m;
        static auto* graveyard = new std::vector<kept>; // never destroyed, not even at exit
        const std::lock_guard lock(m);
        graveyard->push_back(kept{std::move(rx), std::move(ring_mem), std::move(writes)});
    }

    void log(std::string_view msg) const {
        if (opt.log) opt.log(msg);
        else tun_log_stderr(msg);
    }

    [[nodiscard]] std::size_t tso_max() const noexcept {
        return (vnet && (offloads & TUN_F_TSO4) != 0) ? 0xFFFF - 20 - 60 : 0; // a whole datagram, any headers
    }

    [[nodiscard]] std::size_t max_frame() const noexcept {
        return (vnet && (offloads & TUN_F_TSO4) != 0) ? 65535 : std::max<std::size_t>(mtu, 576);
    }

    // ---------------------------------------------------------------- setup

    std::error_code open_device() {
        if (!valid_ifname(opt.name)) return tun_errc::invalid_name;
        name = opt.name;
        const bool existed = ::if_nametoindex(name.c_str()) != 0;
        if (!existed && !opt.create) return tun_errc::no_such_device;

        // Non-blocking: plain mode and the poll-mode drain read until EAGAIN, and io_uring parks a read
        // that finds nothing on its internal poll instead of handing it to an io-wq worker.
        fd = unique_fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
        if (!fd) {
            const int e = errno;
            if (e == ENOENT || e == ENODEV || e == ENXIO) return tun_errc::no_tun_driver;
            if (e == EACCES || e == EPERM) return tun_errc::permission_denied;
            return errno_code(e);
        }
        const auto set_iff = [&](short flags) {
            ifreq ifr{};
            ifr.ifr_flags = flags;
            std::memcpy(ifr.ifr_name, name.data(), name.size());
            return ::ioctl(fd.get(), TUNSETIFF, &ifr) < 0 ? errno : 0;
        };
        short flags = IFF_TUN | IFF_NO_PI;
        int e = set_iff(static_cast<short>(flags | (opt.offload ? IFF_VNET_HDR : 0)));
        if (e == EINVAL && opt.offload && set_iff(flags) == 0) {
            e = 0;
            log("IFF_VNET_HDR refused by the kernel: offloads off");
        } else if (e == 0) {
            vnet = opt.offload;
        }
        if (e != 0) {
            if (e == EPERM || e == EACCES) return tun_errc::permission_denied;
            if (e == EBUSY) return tun_errc::name_in_use;
            if (e == EINVAL && existed) return tun_errc::not_a_tun_device;
            return errno_code(e);
        }
        if (vnet) {
            unsigned want = TUN_F_CSUM | TUN_F_TSO4;
            if (::ioctl(fd.get(), TUNSETOFFLOAD, want) < 0) {
                want = TUN_F_CSUM;
                if (::ioctl(fd.get(), TUNSETOFFLOAD, want) < 0) want = 0;
            }
            offloads = want;
            if (want != (TUN_F_CSUM | TUN_F_TSO4))
                log(want == 0 ? "TUNSETOFFLOAD refused: no checksum or segmentation offload"
                              : "TUNSETOFFLOAD(TSO4) refused: checksum offload only");
        }
        if (opt.mtu != 0) {
            mtu = opt.mtu;
        } else if (auto m = query_device_mtu(name)) {
            mtu = *m;
        } else {
            return m.error();
        }
        mtu = std::clamp<std::size_t>(mtu, 576, 65535);
        return {};
    }

    std::error_code setup_io() {
        if (opt.io != tun_io::plain) {
            const std::error_code ec = setup_uring();
            if (!ec) return {};
            if (opt.io == tun_io::io_uring) return ec;
            log("io_uring unavailable (" + ec.message() + "): falling back to read()/write() and ppoll()");
        }
        scratch.resize(max_frame() + (vnet ? vnet_hdr_len : 0));
        return {};
    }

    std::error_code setup_uring() {
        const unsigned depth = std::min(opt.reads_in_flight, 1024u);
        poll_mode = depth == 0;
        const unsigned writes = std::clamp(opt.writes_in_flight, 1u, 8192u);
        unsigned entries = 1;
        while (entries < depth + 64) entries <<= 1; // reads + a batch of writes between two submits
        // Completions without interrupts, best first (older kernels refuse flags: EINVAL, next):
        //  * DEFER_TASKRUN (6.1): the kernel queues the work of finishing a completion and does it
        //    only when this thread enters io_uring (one submit per loop turn, or the peek below), in
        //    one batch. It needs SINGLE_ISSUER: one thread submits; R_DISABLED leaves the choice of
        //    that thread to activate(), the first use by the thread that runs the stack (not the one
        //    that opened the link);
        //  * COOP_TASKRUN (5.19): the work is not forced on the running thread with an IPI;
        //  * with either, TASKRUN_FLAG: the kernel flags pending work in the SQ ring, and the next
        //    peek (liburing enters io_uring then), submit or wait does it.
        int r = -EINVAL;
        constexpr unsigned defer = IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED;
        for (const unsigned extra : {defer | IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 0u}) {
            io_uring_params p{};
            p.flags = IORING_SETUP_CQSIZE | extra;
            const unsigned buffers = depth == 0 && opt.multishot_read ? rx_buffer_count() : 0u;
            p.cq_entries = std::max(entries * 4, depth + writes + buffers + 16);
            r = io_uring_queue_init_params(entries, &ring, &p);
            if (r == 0) {
                enabled = (extra & IORING_SETUP_R_DISABLED) == 0;
                completions = (extra & IORING_SETUP_DEFER_TASKRUN) != 0   ? "deferred task work"
                              : (extra & IORING_SETUP_COOP_TASKRUN) != 0 ? "cooperative task work"
                                                                         : "task work by signal";
            }
            if (r != -EINVAL) break;
        }
        if (r < 0) return errno_code(-r);
        uring = true;

        buf_size = (max_frame() + (vnet ? vnet_hdr_len : 0) + 63) & ~std::size_t{63};
        if (poll_mode && opt.multishot_read) {
            if (const char* why = setup_buffer_ring()) {
                log(std::string("multishot read unavailable (") + why + "): multishot poll + read() instead");
            } else {
                poll_mode = false;
                mshot_mode = true;
            }
        }
        if (poll_mode) {
            scratch.resize(buf_size);
        } else if (!mshot_mode) {
            rx_mem.reset(new std::uint8_t[buf_size * depth]);
            rx_armed.assign(depth, false);
            std::vector<iovec> iovs(depth);
            for (unsigned i = 0; i < depth; ++i) iovs[i] = {rx_mem.get() + std::size_t{i} * buf_size, buf_size};
            fixed_buffers = io_uring_register_buffers(&ring, iovs.data(), depth) == 0;
        }

        tx.resize(writes);
        tx_free.reserve(writes);
        for (std::uint32_t i = writes; i > 0; --i) tx_free.push_back(i - 1);

        for (unsigned i = 0; i < depth; ++i) arm_read(i);
        if (poll_mode) arm_poll();
        if (mshot_mode) arm_mshot();
        if (!enabled) return {}; // submitted by activate()
        if (const int r = io_uring_submit(&ring); r < 0) {
            const std::error_code ec = errno_code(-r);
            io_uring_queue_exit(&ring);
            uring = false;
            rx_armed.clear();
            rx_armed_count = 0;
            poll_mode = poll_armed = mshot_mode = mshot_armed = false;
            br = nullptr;
            return ec;
        }
        ++stats.submits;
        return {};
    }

    /// Multishot read: probes the opcode, registers a ring of `rx_buffers` buffers of buf_size bytes
    /// as buffer group 0 and hands all of them to the kernel. nullptr on success, else why not.
    const char* setup_buffer_ring() {
        io_uring_probe* probe = io_uring_get_probe_ring(&ring);
        const bool has_op = probe != nullptr && io_uring_opcode_supported(probe, op_read_multishot) != 0;
        if (probe != nullptr) io_uring_free_probe(probe);
        if (!has_op) return "the kernel has no IORING_OP_READ_MULTISHOT, Linux >= 6.7";
        const unsigned n = rx_buffer_count();
        const std::size_t ring_bytes = (sizeof(io_uring_buf) * n + 4095) & ~std::size_t{4095};
        br_mem.reset(std::aligned_alloc(4096, ring_bytes));
        if (!br_mem) return "out of memory";
        std::memset(br_mem.get(), 0, ring_bytes);
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_mem.get());
        reg.ring_entries = n;
        reg.bgid = rx_buffer_group;
        if (io_uring_register_buf_ring(&ring, &reg, 0) != 0) {
            br_mem.reset();
            return "the kernel refused a ring of provided buffers, Linux >= 5.19";
        }
        br = static_cast<io_uring_buf_ring*>(br_mem.get());
        br_entries = n;
        rx_mem.reset(new std::uint8_t[buf_size * n]);
        io_uring_buf_ring_init(br);
        for (unsigned i = 0; i < n; ++i) give_buffer(static_cast<std::uint16_t>(i), static_cast<int>(i));
        io_uring_buf_ring_advance(br, static_cast<int>(n));
        return nullptr;
    }

    /// Puts buffer `bid` at position `offset` past the ring's tail (visible after advance()).
    void give_buffer(std::uint16_t bid, int offset) {
        io_uring_buf_ring_add(br, rx_mem.get() + std::size_t{bid} * buf_size, static_cast<unsigned>(buf_size), bid,
                              io_uring_buf_ring_mask(br_entries), offset);
    }

    // ---------------------------------------------------------------- io_uring helpers

    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (sqe == nullptr) {
            submit();
            sqe = io_uring_get_sqe(&ring);
        }
        return sqe;
    }

    void submit() {
        if (broken || io_uring_sq_ready(&ring) == 0) return;
        activate();
        ++stats.submits;
        const int r = io_uring_submit(&ring);
        if (r >= 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY) return;
        ++stats.submit_errors;
        if (r == -EEXIST || r == -EBADFD || r == -ENXIO || r == -EOPNOTSUPP) {
            // Refused for good (another thread than the ring's submitter, or a ring that could not
            // be enabled): retrying would spin. The link stops; the stack's timers still run.
            broken = true;
            log("io_uring refuses this thread's submissions (" + std::system_category().message(-r) +
                "): a link is used by the one thread that first used it; it no longer sends or receives");
        } else if (stats.submit_errors == 1) {
            log("io_uring_submit failed (" + std::system_category().message(-r) + ")");
        }
    }

    /// A ring created disabled (DEFER_TASKRUN) is enabled by its first use: the calling thread
    /// becomes the one that submits and collects completions from then on.
    void activate() {
        if (enabled) return;
        enabled = true;
        // io_uring_enable_rings() is declared by liburing 2.3 but not exported: the system call.
        if (::syscall(__NR_io_uring_register, ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
            broken = true;
            log("enabling the io_uring failed (" + std::system_category().message(errno) +
                "): the link no longer sends or receives");
        }
    }

    void arm_read(unsigned i) {
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) return; // stays idle; armed again later
        std::uint8_t* buf = rx_mem.get() + std::size_t{i} * buf_size;
        if (fixed_buffers) io_uring_prep_read_fixed(sqe, fd.get(), buf, static_cast<unsigned>(buf_size), 0, static_cast<int>(i));
        else io_uring_prep_read(sqe, fd.get(), buf, static_cast<unsigned>(buf_size), 0);
        io_uring_sqe_set_data64(sqe, i);
        rx_armed[i] = true;
        ++rx_armed_count;
    }

    /// Poll mode: one multishot POLL_ADD; each wake-up of the device's wait queue while it is readable
    /// posts a completion (IORING_CQE_F_MORE while it stays armed). A kernel without multishot polls
    /// fails it with EINVAL: from then on one-shot polls, armed again after each completion.
    void arm_poll() {
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) { // armed again at the next receive()
            rearm_at = instant{};
            return;
        }
        io_uring_prep_poll_add(sqe, fd.get(), POLLIN);
#ifdef IORING_POLL_ADD_MULTI
        if (!poll_oneshot) sqe->len |= IORING_POLL_ADD_MULTI; // = io_uring_prep_poll_multishot (liburing 2.3)
#endif
        io_uring_sqe_set_data64(sqe, poll_tag);
        poll_armed = true;
        readable = true; // whatever arrived before the poll was armed: read until EAGAIN once
    }

    /// Multishot read: one request that reads every frame into a provided buffer (buffer group 0).
    void arm_mshot() {
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) { // armed again at the next receive()
            rearm_at = instant{};
            return;
        }
        io_uring_prep_rw(op_read_multishot, sqe, fd.get(), nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = rx_buffer_group;
        io_uring_sqe_set_data64(sqe, mshot_tag);
        mshot_armed = true;
    }

    /// Multishot read refused by the kernel: from now on the multishot poll + read() drain.
    void fall_back_to_poll(int err) {
        log("multishot read refused (" + std::system_category().message(err) +
            "): multishot poll + read() instead");
        mshot_mode = false;
        poll_mode = true;
        scratch.resize(buf_size);
        arm_poll();
    }

    /// Poll mode: reads what the device holds, at most rx_batch frames (the rest on the next call).
    void drain(packet_batch& out) {
        const auto r = drain_frames(fd.get(), scratch, std::max(opt.rx_batch, 1u),
                                    [&](const std::uint8_t* b, std::size_t n) { deliver(b, n, out); });
        if (r.error != 0) ++stats.rx_errors; // the poll says when to try again
        readable = !r.empty && r.error == 0;
    }

    /// Handles every completion that is ready (no system call).
    /// A multishot read keeps the kernel filling buffers while we reap, so one call stops after
    /// about max(rx_batch, rx_buffers) frames; poll_at() then says to call again at once.
    void reap(instant now, packet_batch& out, bool rearm = true) {
        io_uring_cqe* cqes[64];
        const std::size_t first = out.size();
        const std::size_t budget = std::max<std::size_t>({opt.rx_batch, br_entries, 1});
        for (;;) {
            const unsigned n = io_uring_peek_batch_cqe(&ring, cqes, 64);
            if (n == 0) break;
            for (unsigned k = 0; k < n; ++k) complete(now, *cqes[k], out, rearm);
            io_uring_cq_advance(&ring, n);
            if (out.size() - first >= budget) break;
        }
        if (rearm && rearm_at <= now) {
            rearm_at = instant::never();
            for (unsigned i = 0; i < rx_armed.size(); ++i)
                if (!rx_armed[i]) arm_read(i);
            if (poll_mode && !poll_armed) arm_poll();
            if (mshot_mode && !mshot_armed) arm_mshot();
        }
        if (rearm && readable) drain(out);
    }

    void complete(instant now, const io_uring_cqe& cqe, packet_batch& out, bool rearm) {
        const std::uint64_t tag = cqe.user_data;
        if (tag == LIBURING_UDATA_TIMEOUT || tag == cancel_tag) return;
        if (tag == poll_tag) {
            if (cqe.res > 0 && (cqe.res & (POLLIN | POLLERR | POLLHUP)) != 0) readable = true;
            if ((cqe.flags & IORING_CQE_F_MORE) == 0) { // the (multishot) poll ended: arm a new one
                poll_armed = false;
                const bool refused_multi = cqe.res == -EINVAL && !poll_oneshot;
                if (refused_multi) poll_oneshot = true;
                else if (cqe.res < 0 && cqe.res != -ECANCELED) ++stats.rx_errors;
                if (rearm)
                    rearm_at = earliest(rearm_at, cqe.res < 0 && !refused_multi ? now + duration::millis(100) : now);
            }
            return;
        }
        if (tag == mshot_tag) {
            complete_mshot(now, cqe, out, rearm);
            return;
        }
        if ((tag & tx_tag) != 0) {
            const auto slot = static_cast<std::uint32_t>(tag & 0xFFFF'FFFFu);
            if (slot >= tx.size()) return;
            if (cqe.res < 0) ++stats.tx_errors;
            else {
                ++stats.tx_packets;
                stats.tx_bytes += static_cast<std::uint64_t>(cqe.res);
            }
            recycle(std::move(tx[slot].p));
            tx_free.push_back(slot);
            --tx_in_flight;
            return;
        }
        const auto i = static_cast<unsigned>(tag);
        if (i >= rx_armed.size() || !rx_armed[i]) return;
        rx_armed[i] = false;
        --rx_armed_count;
        if (cqe.res > 0) {
            deliver(rx_mem.get() + std::size_t{i} * buf_size, static_cast<std::size_t>(cqe.res), out);
        } else if (cqe.res != -EAGAIN && cqe.res != -EINTR && cqe.res != -ECANCELED) {
            ++stats.rx_errors; // e.g. the device went away: retry later, do not spin
            if (rearm) {
                rearm_at = earliest(rearm_at, now + duration::millis(100));
                return;
            }
        }
        if (rearm) arm_read(i);
    }

    void complete_mshot(instant now, const io_uring_cqe& cqe, packet_batch& out, bool rearm) {
        if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
            const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
            if (bid < br_entries) {
                if (cqe.res > 0 && rearm)
                    deliver(rx_mem.get() + std::size_t{bid} * buf_size, static_cast<std::size_t>(cqe.res), out);
                give_buffer(bid, 0); // copied out: the kernel may fill it again
                io_uring_buf_ring_advance(br, 1);
            }
        }
        if (cqe.res > 0) mshot_proven = true;
        if ((cqe.flags & IORING_CQE_F_MORE) != 0) return;
        mshot_armed = false; // the multishot read ended
        if (!rearm || cqe.res == -ECANCELED) return;
        if (cqe.res == -ENOBUFS || cqe.res >= 0 || cqe.res == -EINTR || cqe.res == -EAGAIN) {
            ++stats.rx_rearms;
            rearm_at = earliest(rearm_at, now);
            return;
        }
        if (!mshot_proven && (cqe.res == -EINVAL || cqe.res == -EBADFD || cqe.res == -EOPNOTSUPP)) {
            fall_back_to_poll(-cqe.res);
            return;
        }
        ++stats.rx_errors; // e.g. the device went away: retry later, do not spin
        rearm_at = earliest(rearm_at, now + duration::millis(100));
    }

    // ---------------------------------------------------------------- packets

    packet take_packet(std::size_t n) {
        if (pool.empty()) {
            packet p;
            p.reserve(std::max<std::size_t>(n, 2048));
            p.resize(n);
            return p;
        }
        packet p = std::move(pool.back());
        pool.pop_back();
        p.resize(n);
        return p;
    }

    void recycle(packet&& p) {
        if (pool.size() < 1024 && p.capacity() > 0) {
            p.clear();
            pool.push_back(std::move(p));
        }
    }

    /// One frame read from the device becomes one or more packets for the stack.
    void deliver(const std::uint8_t* buf, std::size_t n, packet_batch& out) {
        ++stats.rx_packets;
        stats.rx_bytes += n;
        if (!vnet) {
            packet p = take_packet(n);
            std::memcpy(p.data(), buf, n);
            out.push_back(std::move(p));
            ++stats.rx_delivered;
            return;
        }
        if (n < vnet_hdr_len) {
            ++stats.rx_errors;
            return;
        }
        virtio_net_hdr h;
        std::memcpy(&h, buf, vnet_hdr_len); // host byte order: no TUNSETVNETBE
        buf += vnet_hdr_len;
        n -= vnet_hdr_len;
        const unsigned gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
        if (gso != VIRTIO_NET_HDR_GSO_NONE) ++stats.rx_gso;
        if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && opt.split_gso && h.gso_size > 0 && split(buf, n, h.gso_size, out))
            return;
        if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0) {
            const std::size_t start = h.csum_start;
            const std::size_t field = start + h.csum_offset;
            if (start > n || field + 2 > n) {
                ++stats.rx_errors;
                return;
            }
            packet p = take_packet(n);
            std::memcpy(p.data(), buf, start);
            wire::checksum_accumulator acc; // the field holds the pseudo-header sum: sum over it all
            acc.add_copy(p.data() + start, {buf + start, n - start});
            wire::store_be16(p.data() + field, acc.finish());
            ++stats.rx_csum;
            out.push_back(std::move(p));
            ++stats.rx_delivered;
            return;
        }
        packet p = take_packet(n);
        std::memcpy(p.data(), buf, n);
        out.push_back(std::move(p));
        ++stats.rx_delivered;
    }

    /// Cuts a TCP/IPv4 GSO frame into segments of `mss` payload bytes, each with its own IP header
    /// (id incremented, checksum), sequence number, flags (FIN and PSH on the last only, CWR on the
    /// first only) and complete TCP checksum. False if the frame is not a sane TCP/IPv4 frame.
    bool split(const std::uint8_t* buf, std::size_t n, std::size_t mss, packet_batch& out) {
        if (n < 20 || (buf[0] >> 4) != 4 || buf[9] != 6) return false;
        const std::size_t ihl = std::size_t{buf[0] & 0x0Fu} * 4;
        if (ihl < 20 || n < ihl + 20) return false;
        const std::size_t thl = std::size_t{buf[ihl + 12]} / 16 * 4;
        const std::size_t hdrs = ihl + thl;
        if (thl < 20 || n < hdrs) return false;
        const std::size_t payload = n - hdrs;
        const std::uint32_t seq0 = wire::load_be32(buf + ihl + 4);
        const std::uint16_t id0 = wire::load_be16(buf + 4);
        const std::uint8_t flags0 = buf[ihl + 13];
        const std::uint32_t src = wire::load_be32(buf + 12);
        const std::uint32_t dst = wire::load_be32(buf + 16);
        std::size_t k = 0;
        for (std::size_t off = 0; off < payload || (payload == 0 && k == 0); off += mss, ++k) {
            const std::size_t len = std::min(mss, payload - off);
            const bool last = off + len >= payload;
            packet p = take_packet(hdrs + len);
            std::uint8_t* q = p.data();
            std::memcpy(q, buf, hdrs);
            wire::store_be16(q + 2, static_cast<std::uint16_t>(hdrs + len));
            wire::store_be16(q + 4, static_cast<std::uint16_t>(id0 + k));
            wire::store_be16(q + 10, 0);
            wire::store_be16(q + 10, wire::internet_checksum({q, ihl}));
            std::uint8_t* t = q + ihl;
            wire::store_be32(t + 4, seq0 + static_cast<std::uint32_t>(off));
            std::uint8_t f = flags0;
            if (!last) f &= static_cast<std::uint8_t>(~0x09u); // FIN, PSH
            if (k > 0) f &= static_cast<std::uint8_t>(~0x80u);  // CWR
            t[13] = f;
            wire::store_be16(t + 16, 0);
            wire::checksum_accumulator acc;
            acc.add_u16(wire::ipv4_pseudo_header_sum(src, dst, 6, static_cast<std::uint16_t>(thl + len)));
            acc.add({t, thl});
            acc.add_copy(q + hdrs, {buf + hdrs + off, len});
            wire::store_be16(t + 16, acc.finish());
            out.push_back(std::move(p));
            ++stats.rx_delivered;
            if (payload == 0) break;
        }
        return true;
    }

    // ---------------------------------------------------------------- the link operations

    void transmit(instant now, packet&& p) {
        virtio_net_hdr h{};
        if (p.size() > max_frame() || p.empty() || (vnet && !prepare_vnet_tx(p, h))) {
            ++stats.tx_dropped;
            recycle(std::move(p));
            return;
        }
        if (!uring) return write_plain(std::move(p), h);
        if (broken) {
            ++stats.tx_dropped;
            recycle(std::move(p));
            return;
        }
        if (tx_free.empty()) { // make room: finished writes come back
            submit();
            reap(now, pending_rx);
        }
        if (tx_free.empty()) {
            ++stats.tx_dropped;
            recycle(std::move(p));
            return;
        }
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) {
            ++stats.tx_dropped;
            recycle(std::move(p));
            return;
        }
        const std::uint32_t slot = tx_free.back();
        tx_free.pop_back();
        tx_slot& s = tx[slot];
        s.p = std::move(p);
        if (vnet) {
            s.hdr = h;
            s.iov[0] = {&s.hdr, vnet_hdr_len};
            s.iov[1] = {s.p.data(), s.p.size()};
            io_uring_prep_writev(sqe, fd.get(), s.iov, 2, 0);
        } else {
            io_uring_prep_write(sqe, fd.get(), s.p.data(), static_cast<unsigned>(s.p.size()), 0);
        }
        io_uring_sqe_set_data64(sqe, tx_tag | slot);
        ++tx_in_flight;
        if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) ++stats.tx_gso;
    }

    void write_plain(packet&& p, virtio_net_hdr& h) {
        ssize_t r;
        if (vnet) {
            iovec iov[2] = {{&h, vnet_hdr_len}, {p.data(), p.size()}};
            r = ::writev(fd.get(), iov, 2);
            if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) ++stats.tx_gso;
        } else {
            r = ::write(fd.get(), p.data(), p.size());
        }
        if (r < 0) ++stats.tx_errors;
        else {
            ++stats.tx_packets;
            stats.tx_bytes += static_cast<std::uint64_t>(r);
        }
        recycle(std::move(p));
    }

    std::size_t receive(instant now, packet_batch& out) {
        const std::size_t first = out.size();
        if (!pending_rx.empty()) {
            for (auto& p : pending_rx) out.push_back(std::move(p));
            pending_rx.clear();
        }
        if (uring) {
            activate();
            if (broken) return out.size() - first;
            reap(now, out);
            submit(); // queued writes + re-armed reads: one system call, only if anything is queued
        } else {
            const auto r = drain_frames(fd.get(), scratch, std::max(opt.rx_batch, 1u),
                                        [&](const std::uint8_t* b, std::size_t n) { deliver(b, n, out); });
            if (r.error != 0) ++stats.rx_errors;
            readable = !r.empty && r.error == 0; // the budget ran out: call again without waiting
        }
        return out.size() - first;
    }

    [[nodiscard]] instant poll_at() const {
        if (!pending_rx.empty() || readable) return instant{};
        if (uring && !broken && (io_uring_cq_ready(&ring) > 0 || io_uring_sq_ready(&ring) > 0 || task_work_pending()))
            return instant{};
        return rearm_at;
    }

    /// TASKRUN_FLAG: completions are waiting to be posted (the next peek or submit posts them).
    [[nodiscard]] bool task_work_pending() const noexcept {
        return (__atomic_load_n(ring.sq.kflags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN) != 0;
    }

    /// Busy polling: before blocking, watch for work for up to `us` microseconds (io_uring: the
    /// completion ring and the task-work flag, no system call; plain: ppoll() with a zero timeout).
    /// True if work arrived (the wait is over without sleeping).
    bool spin_for(std::int64_t us) {
        if (us <= 0) return false;
        if (uring) submit();
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
        for (unsigned i = 1;; ++i) {
            bool ready;
            if (uring) {
                ready = io_uring_cq_ready(&ring) > 0 || task_work_pending();
            } else {
                pollfd pfd{fd.get(), POLLIN, 0};
                ready = ::poll(&pfd, 1, 0) > 0;
            }
            if (ready) {
                ++stats.busy_polled;
                return true;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            if ((i % 64) == 0 && std::chrono::steady_clock::now() >= until) return false;
        }
    }

    bool wait(instant deadline) {
        if (!pending_rx.empty() || readable) return true;
        const instant now{std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now().time_since_epoch())
                              .count()};
        const std::int64_t cap = std::int64_t{3600} * 1'000'000;
        const std::int64_t us = std::clamp<std::int64_t>((earliest(deadline, rearm_at) - now).us, 0, cap);
        ++stats.waits;
        if (uring) activate();
        if (broken) { // nothing will arrive: sleep until the stack's next deadline
            const timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>((us % 1'000'000) * 1000)};
            ::ppoll(nullptr, 0, &ts, nullptr);
            return true;
        }
        if (uring) {
            if (io_uring_cq_ready(&ring) > 0) return true;
            if (us == 0) {
                submit();
                return true;
            }
            if (spin_for(std::min<std::int64_t>(us, opt.busy_poll_us))) return true;
            __kernel_timespec ts{us / 1'000'000, (us % 1'000'000) * 1000};
            io_uring_cqe* cqe = nullptr;
            if (io_uring_sq_ready(&ring) > 0) ++stats.submits;
            const int r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr);
            return r >= 0 || r == -ETIME || r == -EINTR || r == -EAGAIN || r == -EBUSY;
        }
        if (spin_for(std::min<std::int64_t>(us, opt.busy_poll_us))) return true;
        pollfd pfd{fd.get(), POLLIN, 0};
        timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>((us % 1'000'000) * 1000)};
        const int r = ::ppoll(&pfd, 1, &ts, nullptr);
        return r >= 0 || errno == EINTR;
    }
};

} // namespace detail

/// A TUN device as a corotcp link (and a blocking one: see wait()). Move-only.
class tun_link {
public:
    /// Opens (attaches to or creates) the device and sets up its I/O.
    [[nodiscard]] static expected<tun_link> open(tun_options options = {}) {
        auto impl = std::make_unique<detail::tun_impl>();
        impl->opt = std::move(options);
        if (auto ec = impl->open_device()) return ec;
        if (auto ec = impl->setup_io()) return ec;
        return tun_link(std::move(impl));
    }

    tun_link(tun_link&&) noexcept = default;
    tun_link& operator=(tun_link&&) noexcept = default;
    ~tun_link() = default;

    // --- corotcp::link
    [[nodiscard]] std::size_t mtu() const noexcept { return impl_->mtu; }
    /// TSO (tso_link): with IFF_VNET_HDR and TUN_F_TSO4 accepted, the TCP payload one super-segment
    /// may carry (the stack then emits them; the kernel cuts them into MSS segments); else 0.
    [[nodiscard]] std::size_t tso_max() const noexcept { return impl_->tso_max(); }
    void transmit(instant now, packet&& p) { impl_->transmit(now, std::move(p)); }
    std::size_t receive(instant now, packet_batch& out) { return impl_->receive(now, out); }
    [[nodiscard]] instant poll_at() const { return impl_->poll_at(); }

    // --- blocking link
    /// Blocks until a completion (a packet, usually) is ready, a signal arrives, or `deadline` (a
    /// steady_clock instant, as real_clock keeps them) passes. Submits queued writes on the way.
    bool wait(instant deadline) { return impl_->wait(deadline); }

    // --- inspection
    [[nodiscard]] const std::string& name() const noexcept { return impl_->name; }
    [[nodiscard]] int fd() const noexcept { return impl_->fd.get(); }
    [[nodiscard]] bool uses_io_uring() const noexcept { return impl_->uring; }
    [[nodiscard]] bool registered_buffers() const noexcept { return impl_->fixed_buffers; }
    /// Receiving with one IORING_OP_READ_MULTISHOT into provided buffers (no system call per frame).
    [[nodiscard]] bool multishot_read() const noexcept { return impl_->mshot_mode; }
    [[nodiscard]] bool vnet_header() const noexcept { return impl_->vnet; }
    /// TUN_F_* flags the kernel accepted (0 without offload).
    [[nodiscard]] unsigned offloads() const noexcept { return impl_->offloads; }
    [[nodiscard]] const tun_stats& stats() const noexcept { return impl_->stats; }

    /// One line describing the I/O path, e.g. "tun0: mtu 1500, io_uring, multishot read, 64 provided
    /// buffers, deferred task work", "..., io_uring, multishot poll + read() (64 per receive), ..." or
    /// "..., io_uring, 4 reads in flight, registered buffers, ...".
    [[nodiscard]] std::string describe() const {
        const auto& i = *impl_;
        std::string s = i.name + ": mtu " + std::to_string(i.mtu) + ", ";
        if (i.uring) {
            if (i.mshot_mode)
                s += "io_uring, multishot read, " + std::to_string(i.br_entries) + " provided buffers";
            else if (i.poll_mode)
                s += "io_uring, multishot poll + read() (" + std::to_string(std::max(i.opt.rx_batch, 1u)) +
                     " per receive)";
            else
                s += "io_uring, " + std::to_string(i.rx_armed.size()) + " reads in flight, " +
                     (i.fixed_buffers ? "registered buffers" : "plain buffers");
            s += std::string(", ") + i.completions;
        } else {
            s += "read()/write() + ppoll()";
        }
        if (i.opt.busy_poll_us > 0) s += ", busy polling " + std::to_string(i.opt.busy_poll_us) + " us";
        if (i.vnet) {
            s += ", vnet header, offloads:";
            if (i.offloads == 0) s += " none";
            if ((i.offloads & TUN_F_CSUM) != 0) s += " csum";
            if ((i.offloads & TUN_F_TSO4) != 0) s += i.opt.split_gso ? " tso4 (split)" : " tso4";
        }
        return s;
    }

private:
    explicit tun_link(std::unique_ptr<detail::tun_impl> impl) noexcept : impl_(std::move(impl)) {}
    std::unique_ptr<detail::tun_impl> impl_;
};

static_assert(link<tun_link>);
static_assert(tso_link<tun_link>);

} // namespace corotcp
