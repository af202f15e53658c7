// TSO through the whole stack: a link that says it takes super-segments (tso_max(), as the TUN link
// with offloads does) gets them from basic_stack, marked with gso_size = MSS; a link that does not
// never sees a packet beyond the MTU. Here the "link" is a memory pipe whose far end, like the
// kernel's receive path with GRO, takes the super-segments whole.
#include "harness.hpp"

using namespace integ;

namespace {

/// What a TSO-capable link was handed.
struct tso_seen {
    std::size_t packets = 0;
    std::size_t super_segments = 0;
    std::size_t super_bytes = 0;        ///< bytes sent in super-segments
    std::size_t largest = 0;            ///< bytes, IP header included
    std::size_t largest_ordinary = 0;   ///< the same, packets without gso_size
    bool bad_gso = false;               ///< a gso_size other than the MSS, or on a packet that fits one MSS
};

/// One end of a memory pipe that claims TSO: tso_max() > 0. It checks what it is handed and passes
/// it on unchanged.
class tso_pipe_end {
public:
    tso_pipe_end(memory_pipe_end end, std::size_t tso_max, std::uint16_t mss, tso_seen& seen)
        : end_(std::move(end)), tso_max_(tso_max), mss_(mss), seen_(&seen) {}

    [[nodiscard]] std::size_t mtu() const noexcept { return 1500; }
    [[nodiscard]] std::size_t tso_max() const noexcept { return tso_max_; }
    void transmit(instant now, packet p) {
        ++seen_->packets;
        seen_->largest = std::max(seen_->largest, p.size());
        if (p.gso_size() > 0) {
            ++seen_->super_segments;
            seen_->super_bytes += p.size();
            const auto ip = wire::ipv4_view::from_bytes(std::as_const(p).bytes());
            const auto seg = ip ? wire::tcp_view::from_bytes(ip->payload()) : std::nullopt;
            if (!seg || p.gso_size() != mss_ || seg->payload().size() <= mss_) seen_->bad_gso = true;
        } else {
            seen_->largest_ordinary = std::max(seen_->largest_ordinary, p.size());
        }
        end_.transmit(now, std::move(p));
    }
    std::size_t receive(instant now, packet_batch& out) { return end_.receive(now, out); }
    [[nodiscard]] instant poll_at() const noexcept { return end_.poll_at(); }

private:
    memory_pipe_end end_;
    std::size_t tso_max_;
    std::uint16_t mss_;
    tso_seen* seen_;
};
static_assert(corotcp::link<tso_pipe_end>); // qualified: POSIX declares a function link()
static_assert(tso_link<tso_pipe_end>);
static_assert(!tso_link<memory_pipe_end>);

iface::settings at(std::uint8_t last_octet) {
    iface::settings s;
    s.address = wire::ipv4_address::from_octets(10, 0, 0, last_octet);
    return s;
}

/// Sends `n` random bytes from a stack on a tso_pipe_end (tso_max as given) to a plain one, and
/// returns what the sender's link saw; the bytes must arrive exactly.
tso_seen bulk_over(std::size_t tso_max, std::size_t n) {
    tso_seen seen;
    run_loop<virtual_clock> loop;
    memory_pipe pipe(memory_pipe_config{.mtu = 65535});
    basic_stack<tso_pipe_end> sender(loop, tso_pipe_end(pipe.end_a(), tso_max, 1460 - 12, seen), at(1));
    basic_stack<memory_pipe_end> receiver(loop, pipe.end_b(), at(2));
    auto l = receiver.listen(80);
    REQUIRE(l);
    const auto data = random_bytes(tso_max + n, n);
    std::vector<std::uint8_t> got;
    std::optional<std::error_code> read_done;
    using rconn = basic_stack<memory_pipe_end>::connection;
    std::optional<rconn> accepted;
    auto server = [&]() -> task<void> {
        auto c = co_await l->accept();
        if (!c) co_return;
        accepted.emplace(std::move(*c));
        std::vector<std::uint8_t> buf(64 * 1024);
        for (;;) {
            auto r = co_await accepted->read(buf);
            if (!r || *r == 0) {
                read_done = r ? std::error_code{} : r.error();
                co_return;
            }
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
        }
    };
    std::optional<std::error_code> sent;
    auto client = [&]() -> task<void> {
        auto c = co_await sender.connect(receiver.address(), 80);
        if (!c) {
            sent = c.error();
            co_return;
        }
        sent = co_await c->write(data);
        if (!*sent) sent = co_await c->shutdown();
    };
    {
        spawn_guard g{loop};
        loop.spawn(owned(server));
        loop.spawn(owned(client));
        REQUIRE(loop.run_until([&] { return read_done.has_value() && sent.has_value(); }, 60_s));
    }
    CHECK(!*sent);
    CHECK(!*read_done);
    CHECK(got == data);
    return seen;
}

} // namespace

TEST_CASE("a stack on a TSO link sends bulk data as super-segments of whole MSS pieces, gso_size = MSS") {
    const tso_seen seen = bulk_over(65535 - 20 - 60, 4 << 20);
    INFO(seen.packets << " packets, " << seen.super_segments << " super-segments, largest " << seen.largest);
    CHECK(seen.super_segments > 0);
    CHECK_FALSE(seen.bad_gso);
    CHECK(seen.largest > 1500);
    CHECK(seen.largest <= 65535);
    CHECK(seen.largest_ordinary <= 1500);
    CHECK(seen.super_bytes * 2 > std::size_t{4 << 20}); // the bulk of the bytes went as super-segments
}

TEST_CASE("a link without TSO (tso_max 0) never gets a packet beyond its MTU") {
    const tso_seen seen = bulk_over(0, 1 << 20);
    CHECK(seen.super_segments == 0);
    CHECK(seen.largest <= 1500);
}
