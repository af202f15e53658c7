// Tests for corotcp/tcp/buffer.hpp: storage models, buffer policies and the ring buffer.
#include "corotcp/tcp/buffer.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>
#include <numeric>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

using namespace corotcp::tcp;

namespace {

std::vector<std::uint8_t> iota_bytes(std::size_t n, std::uint8_t first = 0) {
    std::vector<std::uint8_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

std::vector<std::uint8_t> join(const std::array<std::span<const std::uint8_t>, 2>& pieces) {
    std::vector<std::uint8_t> v(pieces[0].begin(), pieces[0].end());
    v.insert(v.end(), pieces[1].begin(), pieces[1].end());
    return v;
}

std::vector<std::uint8_t> read_all(auto& ring) {
    std::vector<std::uint8_t> v(ring.size());
    REQUIRE(ring.read(v) == v.size());
    return v;
}

// Moves head to `head` on an empty ring by writing and reading junk.
template <class Ring>
void place_head(Ring& ring, std::size_t head) {
    REQUIRE(ring.empty());
    std::vector<std::uint8_t> junk(head, 0xEE);
    REQUIRE(ring.write(junk) == head);
    ring.consume(head);
    REQUIRE(ring.empty());
}

using fixed_ring = ring_buffer<fixed_storage<10>>;
using heap_ring = ring_buffer<heap_storage>;

} // namespace

// ---- storage models and policies ------------------------------------------------------------

static_assert(byte_storage<fixed_storage<1>>);
static_assert(byte_storage<heap_storage>);
static_assert(!byte_storage<int>);
static_assert(buffer_policy<heap_buffers>);
static_assert(buffer_policy<static_buffers<1460, 65535>>);
static_assert(!buffer_policy<int>);
static_assert(std::is_same_v<static_buffers<100, 200>::send_storage, fixed_storage<100>>);
static_assert(std::is_same_v<static_buffers<100, 200>::recv_storage, fixed_storage<200>>);
// fixed_storage holds its bytes in the object: the ring is its array plus two indices, no pointer.
static_assert(sizeof(fixed_storage<4096>) == 4096);
static_assert(sizeof(ring_buffer<fixed_storage<4096>>) == 4096 + 2 * sizeof(std::size_t));
static_assert(sizeof(ring_buffer<heap_storage>) <= 4 * sizeof(void*), "an idle heap ring is a few words");

TEST_CASE("fixed storage ignores the requested capacity and keeps its own size") {
    fixed_storage<16> s(100000);
    CHECK(s.capacity() == 16);
    CHECK(s.data() != nullptr);
    s.release();
    CHECK(s.data() != nullptr);
}

TEST_CASE("heap storage allocates on the first data() call and frees on release") {
    heap_storage s(4096);
    CHECK(s.capacity() == 4096);
    CHECK_FALSE(s.allocated());
    CHECK(std::as_const(s).data() == nullptr);
    CHECK(s.data() != nullptr);
    CHECK(s.allocated());
    s.release();
    CHECK_FALSE(s.allocated());
    CHECK(s.capacity() == 4096);
}

TEST_CASE("released heap storage is reused by the next storage of the same capacity on this thread") {
    constexpr std::size_t cap = 12345; // a capacity no other test uses
    const unsigned kept_before = heap_storage::recycled(cap);
    const std::uint8_t* first = nullptr;
    {
        heap_storage a(cap);
        first = a.data();
        a.data()[cap - 1] = 7;
    } // destroyed: its block goes to this thread's list
    CHECK(heap_storage::recycled(cap) == kept_before + 1);
    heap_storage b(cap);
    CHECK_FALSE(b.allocated());
    CHECK(b.data() == first); // the same block, no trip to malloc (or the kernel)
    CHECK(heap_storage::recycled(cap) == kept_before);
    b.release();
    CHECK(heap_storage::recycled(cap) == kept_before + 1);

    heap_storage moved_from(cap);
    (void)moved_from.data();
    heap_storage moved_to(std::move(moved_from));
    CHECK(moved_to.allocated());
    CHECK_FALSE(moved_from.allocated()); // NOLINT(bugprone-use-after-move): moving leaves it empty
}

TEST_CASE("at most 8 MiB of one capacity is kept, the rest goes back to the allocator") {
    constexpr std::size_t cap = std::size_t{3} << 20; // 3 MiB: two fit under the limit, not three
    std::vector<heap_storage> v;
    for (int i = 0; i < 4; ++i) {
        v.emplace_back(cap);
        (void)v.back().data();
    }
    const unsigned before = heap_storage::recycled(cap);
    v.clear();
    CHECK(heap_storage::recycled(cap) == 2);
    CHECK(before == 0);
}

TEST_CASE("a heap ring allocates nothing until data is written and frees it when emptied") {
    heap_ring r(1024);
    CHECK(r.capacity() == 1024);
    CHECK_FALSE(r.storage().allocated());
    CHECK(join(r.peek(0, 100)).empty());
    std::uint8_t out[4];
    CHECK(r.read(out) == 0);
    CHECK_FALSE(r.storage().allocated());

    const auto data = iota_bytes(10);
    CHECK(r.write(data) == 10);
    CHECK(r.storage().allocated());
    CHECK_FALSE(r.release_if_empty());
    CHECK(r.storage().allocated());

    r.consume(10);
    CHECK(r.release_if_empty());
    CHECK_FALSE(r.storage().allocated());
    CHECK(r.write(data) == 10);
    CHECK(read_all(r) == data);
}

TEST_CASE("a zero-capacity ring accepts nothing and does not crash") {
    heap_ring r(0);
    const auto data = iota_bytes(3);
    CHECK(r.write(data) == 0);
    CHECK(r.write_at(0, data) == 0);
    CHECK(r.empty());
    CHECK(r.full());
    CHECK(r.write_spans()[0].empty());
}

// ---- ring operations, including wrap-around -------------------------------------------------

TEMPLATE_TEST_CASE("write appends only as much as fits", "", fixed_ring, heap_ring) {
    TestType r(10);
    CHECK(r.empty());
    CHECK(r.free_space() == 10);
    CHECK(r.write(iota_bytes(6)) == 6);
    CHECK(r.write(iota_bytes(6, 6)) == 4);
    CHECK(r.full());
    CHECK(r.free_space() == 0);
    CHECK(r.write(iota_bytes(1)) == 0);
    CHECK(read_all(r) == iota_bytes(10));
}

TEMPLATE_TEST_CASE("write and read wrap around the end of the storage", "", fixed_ring, heap_ring) {
    for (std::size_t head = 0; head < 10; ++head) {
        CAPTURE(head);
        TestType r(10);
        place_head(r, head);
        const auto data = iota_bytes(10, 100);
        REQUIRE(r.write(data) == 10);
        CHECK(r.full());
        std::vector<std::uint8_t> first(3);
        CHECK(r.read(first) == 3);
        CHECK(first == std::vector<std::uint8_t>{100, 101, 102});
        CHECK(r.write(iota_bytes(3, 110)) == 3);
        CHECK(read_all(r) == iota_bytes(10, 103));
    }
}

TEMPLATE_TEST_CASE("read into a larger buffer returns only what is there", "", fixed_ring, heap_ring) {
    TestType r(10);
    place_head(r, 8);
    r.write(iota_bytes(5));
    std::vector<std::uint8_t> out(20, 0xAA);
    CHECK(r.read(out) == 5);
    CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + 5) == iota_bytes(5));
    CHECK(out[5] == 0xAA);
    CHECK(r.empty());
}

TEMPLATE_TEST_CASE("peek returns two pieces exactly when the range crosses the wrap", "", fixed_ring, heap_ring) {
    TestType r(10);
    place_head(r, 7);
    r.write(iota_bytes(8)); // storage indices 7,8,9,0,1,2,3,4 hold 0..7

    auto p = r.peek(0, 8);
    CHECK(p[0].size() == 3);
    CHECK(p[1].size() == 5);
    CHECK(join(p) == iota_bytes(8));

    p = r.peek(1, 2); // entirely before the wrap
    CHECK(p[0].size() == 2);
    CHECK(p[1].empty());
    CHECK(join(p) == std::vector<std::uint8_t>{1, 2});

    p = r.peek(4, 3); // entirely after the wrap
    CHECK(p[0].size() == 3);
    CHECK(p[1].empty());
    CHECK(join(p) == std::vector<std::uint8_t>{4, 5, 6});

    p = r.peek(2, 100); // clamped to size
    CHECK(join(p) == std::vector<std::uint8_t>{2, 3, 4, 5, 6, 7});

    CHECK(join(r.peek(8, 1)).empty());
    CHECK(join(r.peek(50, 1)).empty());
    CHECK(r.size() == 8); // peek consumes nothing
}

TEMPLATE_TEST_CASE("consume drops bytes from the front across the wrap and clamps to size", "", fixed_ring, heap_ring) {
    TestType r(10);
    place_head(r, 9);
    r.write(iota_bytes(6));
    r.consume(2);
    CHECK(r.size() == 4);
    CHECK(join(r.peek(0, 4)) == std::vector<std::uint8_t>{2, 3, 4, 5});
    r.consume(100);
    CHECK(r.empty());
}

TEMPLATE_TEST_CASE("write_at places bytes beyond the tail without making them readable", "", fixed_ring, heap_ring) {
    for (std::size_t head = 0; head < 10; ++head) {
        CAPTURE(head);
        TestType r(10);
        place_head(r, head);
        r.write(iota_bytes(2));                          // readable: 0 1
        CHECK(r.write_at(3, iota_bytes(3, 5)) == 3);     // out of order: 5 6 7 at stream offsets 5..7
        CHECK(r.size() == 2);
        CHECK(r.free_space() == 8);
        CHECK(r.write_at(0, iota_bytes(3, 2)) == 3);     // the hole: 2 3 4
        r.commit(6);
        CHECK(r.size() == 8);
        CHECK(read_all(r) == iota_bytes(8));
    }
}

TEMPLATE_TEST_CASE("write_at clamps to the free space", "", fixed_ring, heap_ring) {
    TestType r(10);
    place_head(r, 6);
    r.write(iota_bytes(4));
    CHECK(r.write_at(4, iota_bytes(5)) == 2);   // only offsets 4,5 of 6 free bytes remain
    CHECK(r.write_at(6, iota_bytes(1)) == 0);   // at the end of the free space
    CHECK(r.write_at(100, iota_bytes(1)) == 0);
    CHECK(r.write_at(0, {}) == 0);
    CHECK(r.size() == 4);
}

TEMPLATE_TEST_CASE("bytes placed by write_at survive the front being read", "", fixed_ring, heap_ring) {
    TestType r(10);
    r.write(iota_bytes(5));
    CHECK(r.write_at(2, iota_bytes(2, 7)) == 2); // stream bytes 7 8
    std::vector<std::uint8_t> out(5);
    CHECK(r.read(out) == 5);
    CHECK(r.empty());
    CHECK(r.write(iota_bytes(2, 5)) == 2);        // the hole 5 6 arrives; written at the tail
    r.commit(2);
    CHECK(read_all(r) == iota_bytes(4, 5));
}

TEMPLATE_TEST_CASE("write_spans exposes the free space in up to two pieces for commit", "", fixed_ring, heap_ring) {
    TestType r(10);
    place_head(r, 4);
    r.write(iota_bytes(3)); // storage 4,5,6
    auto spans = r.write_spans();
    CHECK(spans[0].size() == 3); // storage 7,8,9
    CHECK(spans[1].size() == 4); // storage 0..3
    std::uint8_t v = 3;
    for (auto s : spans)
        for (auto& b : s) b = v++;
    r.commit(7);
    CHECK(r.full());
    CHECK(r.write_spans()[0].empty());
    CHECK(read_all(r) == iota_bytes(10));
}

TEMPLATE_TEST_CASE("clear empties the ring", "", fixed_ring, heap_ring) {
    TestType r(10);
    r.write(iota_bytes(7));
    r.clear();
    CHECK(r.empty());
    CHECK(r.free_space() == 10);
}

TEST_CASE("a moved-from heap ring is empty and the destination keeps the bytes") {
    heap_ring a(16);
    a.write(iota_bytes(5));
    heap_ring b(std::move(a));
    CHECK(a.empty()); // NOLINT(bugprone-use-after-move): documented state
    CHECK(read_all(b) == iota_bytes(5));
}

// ---- randomized comparison against std::deque ----------------------------------------------

TEMPLATE_TEST_CASE("the ring behaves like a deque under random operations", "", ring_buffer<fixed_storage<37>>,
                   ring_buffer<heap_storage>) {
    constexpr std::size_t cap = 37; // deliberately not a power of two
    std::mt19937 rng(20240611u);
    auto pick = [&](std::size_t hi) { return std::uniform_int_distribution<std::size_t>(0, hi)(rng); };

    TestType r(cap);
    std::deque<std::uint8_t> model;
    std::uint8_t next = 0;

    for (int step = 0; step < 20000; ++step) {
        CAPTURE(step);
        switch (pick(5)) {
        case 0: { // write
            std::vector<std::uint8_t> in(pick(cap + 5));
            for (auto& b : in) b = next++;
            const std::size_t n = r.write(in);
            REQUIRE(n == std::min(in.size(), cap - model.size()));
            model.insert(model.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
            next = static_cast<std::uint8_t>(next - (in.size() - n));
            break;
        }
        case 1: { // read
            std::vector<std::uint8_t> out(pick(cap + 5));
            const std::size_t n = r.read(out);
            REQUIRE(n == std::min(out.size(), model.size()));
            for (std::size_t i = 0; i < n; ++i) {
                REQUIRE(out[i] == model.front());
                model.pop_front();
            }
            break;
        }
        case 2: { // peek
            const std::size_t off = pick(cap + 2), len = pick(cap + 2);
            const auto got = join(r.peek(off, len));
            std::vector<std::uint8_t> want;
            for (std::size_t i = off; i < model.size() && i < off + len; ++i) want.push_back(model[i]);
            REQUIRE(got == want);
            break;
        }
        case 3: { // consume
            const std::size_t n = pick(cap / 2);
            r.consume(n);
            model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(std::min(n, model.size())));
            break;
        }
        case 4: { // out-of-order arrival: the later part first, then the hole, then commit
            const std::size_t room = cap - model.size();
            const std::size_t total = pick(room), split = pick(total);
            std::vector<std::uint8_t> in(total);
            for (auto& b : in) b = next++;
            const std::span<const std::uint8_t> all(in);
            REQUIRE(r.write_at(split, all.subspan(split)) == total - split);
            REQUIRE(r.write_at(0, all.first(split)) == split);
            r.commit(total);
            model.insert(model.end(), in.begin(), in.end());
            break;
        }
        default: // release when empty
            REQUIRE(r.release_if_empty() == model.empty());
            break;
        }
        REQUIRE(r.size() == model.size());
        REQUIRE(r.free_space() == cap - model.size());
    }
    CHECK(read_all(r) == std::vector<std::uint8_t>(model.begin(), model.end()));
}
