// corotcp/link/tun_drain.hpp: reading the frames a non-blocking packet descriptor holds, boundedly.
//
//     std::vector<std::uint8_t> buf(max_frame);
//     const auto r = corotcp::detail::drain_frames(fd, buf, 64, [&](const std::uint8_t* p, std::size_t n) { ... });
//     // r.empty: read() said EAGAIN, wait for readiness; else more may be waiting (call again later)
//
// The TUN link (tun.hpp) waits for its device to become readable (one io_uring multishot POLL_ADD,
// or ppoll() in plain mode) and then empties it with plain read() calls through this function. The
// contract: at most `budget` successful reads per call (so one busy device cannot starve the run loop:
// the caller returns to the stack and calls again), each frame handed to `on_frame` before the next
// read; the call stops early at the first EAGAIN (`empty`), at EINTR (not empty: call again), or at any
// other error (`error` = errno, not empty). A zero-length read counts against the budget and is not
// handed on. The descriptor must be non-blocking (O_NONBLOCK), or a read on an empty device blocks.
// Separate from tun.hpp so that it compiles, and is tested, without liburing.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

#include <unistd.h>

namespace corotcp::detail {

struct drain_result {
    unsigned reads = 0;  ///< successful read() calls (frames, including zero-length ones)
    bool empty = false;  ///< the last read() said EAGAIN: nothing is left
    int error = 0;       ///< errno of a failed read() other than EAGAIN/EINTR, else 0
};

template <class OnFrame>
drain_result drain_frames(int fd, std::span<std::uint8_t> buf, unsigned budget, OnFrame&& on_frame) {
    drain_result r;
    while (r.reads < budget) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            const int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) r.empty = true;
            else if (e != EINTR) r.error = e;
            break;
        }
        ++r.reads;
        if (n > 0) on_frame(static_cast<const std::uint8_t*>(buf.data()), static_cast<std::size_t>(n));
    }
    return r;
}

} // namespace corotcp::detail
