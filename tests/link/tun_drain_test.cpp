// The TUN link's receive drain (link/tun_drain.hpp): bounded reads of a non-blocking packet descriptor.
// A SOCK_SEQPACKET socketpair stands in for the TUN device (one read = one frame), so no root is needed.
#include <corotcp/link/tun_drain.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
struct frame_pair {
    int fd[2] = {-1, -1};
    frame_pair() {
        REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0);
    }
    ~frame_pair() {
        ::close(fd[0]);
        ::close(fd[1]);
    }
    frame_pair(const frame_pair&) = delete;
    frame_pair& operator=(const frame_pair&) = delete;
    void send(std::uint8_t tag, std::size_t n) const {
        std::vector<std::uint8_t> b(n, tag);
        REQUIRE(::write(fd[1], b.data(), b.size()) == static_cast<ssize_t>(n));
    }
};
} // namespace

TEST_CASE("drain_frames stops after its budget of frames and leaves the rest for the next call") {
    frame_pair p;
    for (std::uint8_t i = 0; i < 10; ++i) p.send(i, 100 + i);
    std::vector<std::uint8_t> buf(2048);
    std::vector<std::size_t> sizes;
    std::vector<std::uint8_t> tags;
    const auto on = [&](const std::uint8_t* b, std::size_t n) {
        sizes.push_back(n);
        tags.push_back(b[0]);
    };
    auto r = corotcp::detail::drain_frames(p.fd[0], buf, 4, on);
    CHECK(r.reads == 4);
    CHECK_FALSE(r.empty); // the budget ran out, not the frames: the caller must come back
    CHECK(r.error == 0);
    REQUIRE(sizes.size() == 4);
    CHECK(sizes[3] == 103);

    r = corotcp::detail::drain_frames(p.fd[0], buf, 4, on);
    CHECK(r.reads == 4);
    CHECK_FALSE(r.empty);
    r = corotcp::detail::drain_frames(p.fd[0], buf, 4, on);
    CHECK(r.reads == 2);
    CHECK(r.empty); // EAGAIN: wait for readiness
    REQUIRE(tags.size() == 10);
    for (std::uint8_t i = 0; i < 10; ++i) {
        CHECK(tags[i] == i); // every frame once, in order, whole
        CHECK(sizes[i] == 100u + i);
    }
}

TEST_CASE("drain_frames on an empty non-blocking descriptor returns at once, empty") {
    frame_pair p;
    std::vector<std::uint8_t> buf(2048);
    unsigned frames = 0;
    const auto r = corotcp::detail::drain_frames(p.fd[0], buf, 64, [&](const std::uint8_t*, std::size_t) { ++frames; });
    CHECK(r.reads == 0);
    CHECK(r.empty);
    CHECK(r.error == 0);
    CHECK(frames == 0);
}

TEST_CASE("drain_frames reports a failed read as an error, not as empty, and stops") {
    std::vector<std::uint8_t> buf(64);
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    ::close(fds[0]);
    const int write_only = fds[1]; // read() on a write end fails with EBADF
    const auto r = corotcp::detail::drain_frames(write_only, buf, 64, [](const std::uint8_t*, std::size_t) {});
    ::close(write_only);
    CHECK(r.reads == 0);
    CHECK_FALSE(r.empty);
    CHECK(r.error == EBADF);
}
