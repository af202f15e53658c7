// Tests for corotcp/tcp/reassembly.hpp: out-of-order ranges beyond rcv.nxt and their SACK order.
#include "corotcp/tcp/reassembly.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace corotcp::tcp;

namespace {

std::vector<byte_range> ranges_of(const reassembly_queue& q) { return {q.begin(), q.end()}; }

std::vector<byte_range> most_recent_first(const reassembly_queue& q) {
    std::vector<byte_range> v;
    q.for_each_most_recent_first([&](byte_range r) { v.push_back(r); });
    return v;
}

using R = std::vector<byte_range>;

} // namespace

TEST_CASE("a new reassembly queue is empty and has nothing to deliver") {
    reassembly_queue q;
    CHECK(q.empty());
    CHECK(q.count() == 0);
    CHECK(q.contiguous_at_start() == 0);
    CHECK(most_recent_first(q).empty());
}

TEST_CASE("disjoint ranges are kept sorted by offset whatever the arrival order") {
    reassembly_queue q;
    CHECK(q.add(300, 100));
    CHECK(q.add(100, 50));
    CHECK(q.add(600, 10));
    CHECK(q.add(200, 10));
    CHECK(ranges_of(q) == R{{100, 150}, {200, 210}, {300, 400}, {600, 610}});
    CHECK(q.count() == 4);
    CHECK(q.contiguous_at_start() == 0);
}

TEST_CASE("an overlapping range merges with its neighbour") {
    reassembly_queue q;
    q.add(100, 100);
    q.add(150, 100); // overlaps the end
    CHECK(ranges_of(q) == R{{100, 250}});
    q.add(50, 60); // overlaps the start
    CHECK(ranges_of(q) == R{{50, 250}});
}

TEST_CASE("adjacent ranges merge into one") {
    reassembly_queue q;
    q.add(100, 100);
    q.add(200, 50); // touches the end
    q.add(80, 20);  // touches the start
    CHECK(ranges_of(q) == R{{80, 250}});
}

TEST_CASE("a range contained in an existing one changes nothing but its recency") {
    reassembly_queue q;
    q.add(100, 100);
    q.add(500, 10);
    q.add(120, 10);
    CHECK(ranges_of(q) == R{{100, 200}, {500, 510}});
    CHECK(most_recent_first(q).front() == byte_range{100, 200});
}

TEST_CASE("a range containing several existing ones swallows them all") {
    reassembly_queue q;
    q.add(100, 10);
    q.add(200, 10);
    q.add(300, 10);
    q.add(1000, 10);
    CHECK(q.add(50, 300));
    CHECK(ranges_of(q) == R{{50, 350}, {1000, 1010}});
}

TEST_CASE("a range filling the gap between two joins them") {
    reassembly_queue q;
    q.add(100, 100);
    q.add(300, 100);
    q.add(200, 100);
    CHECK(ranges_of(q) == R{{100, 400}});
}

TEST_CASE("an empty range is accepted and changes nothing") {
    reassembly_queue q;
    q.add(10, 5);
    CHECK(q.add(100, 0));
    CHECK(ranges_of(q) == R{{10, 15}});
}

TEST_CASE("data at offset zero becomes deliverable together with what follows it") {
    reassembly_queue q;
    q.add(100, 50);
    q.add(0, 100);
    CHECK(q.contiguous_at_start() == 150);
}

TEST_CASE("the queue refuses a range that would exceed max_ranges and stays unchanged") {
    reassembly_queue q;
    for (std::uint32_t i = 0; i < reassembly_queue::max_ranges; ++i) REQUIRE(q.add(100 + 20 * i, 10));
    CHECK(q.count() == reassembly_queue::max_ranges);
    const auto before = ranges_of(q);
    const auto order_before = most_recent_first(q);

    CHECK_FALSE(q.add(5, 1));        // new disjoint range below everything
    CHECK_FALSE(q.add(10000, 1));    // new disjoint range above everything
    CHECK_FALSE(q.add(112, 4));      // new disjoint range between two
    CHECK(ranges_of(q) == before);
    CHECK(most_recent_first(q) == order_before);

    CHECK(q.add(110, 10));           // merging two ranges is always possible
    CHECK(q.count() == reassembly_queue::max_ranges - 1);
    CHECK(q.add(5, 1));              // and frees a slot
    CHECK(q.count() == reassembly_queue::max_ranges);
}

TEST_CASE("advance drops ranges below the new rcv.nxt, trims a straddling one and rebases the rest") {
    reassembly_queue q;
    q.add(10, 10);  // [10,20)  dropped
    q.add(30, 20);  // [30,50)  straddles 40 -> [0,10)
    q.add(60, 10);  // [60,70)  -> [20,30)
    q.advance(40);
    CHECK(ranges_of(q) == R{{0, 10}, {20, 30}});
    CHECK(q.contiguous_at_start() == 10);
}

TEST_CASE("advancing by exactly the deliverable length leaves the later ranges relative to the new rcv.nxt") {
    reassembly_queue q;
    q.add(0, 100);
    q.add(200, 50);
    q.advance(q.contiguous_at_start());
    CHECK(ranges_of(q) == R{{100, 150}});
    q.advance(1000);
    CHECK(q.empty());
}

TEST_CASE("advancing by zero changes nothing") {
    reassembly_queue q;
    q.add(5, 5);
    q.advance(0);
    CHECK(ranges_of(q) == R{{5, 10}});
}

TEST_CASE("clear forgets all ranges") {
    reassembly_queue q;
    q.add(5, 5);
    q.add(50, 5);
    q.clear();
    CHECK(q.empty());
    CHECK(q.ranges().empty());
}

TEST_CASE("ranges are reported most recently touched first for SACK") {
    reassembly_queue q;
    q.add(100, 10);
    q.add(300, 10);
    q.add(200, 10);
    CHECK(most_recent_first(q) == R{{200, 210}, {300, 310}, {100, 110}});

    q.add(110, 5); // extends the oldest range: it becomes the newest
    CHECK(most_recent_first(q) == R{{100, 115}, {200, 210}, {300, 310}});

    q.add(210, 90); // joins [200,210) and [300,310): the merged range is the newest
    CHECK(most_recent_first(q) == R{{200, 310}, {100, 115}});

    q.advance(105); // trimming keeps the order
    CHECK(most_recent_first(q) == R{{95, 205}, {0, 10}});
}

TEST_CASE("a range ending past 2^32 - 1 is truncated rather than wrapping") {
    reassembly_queue q;
    CHECK(q.add(0xFFFFFFF0u, 0x100));
    CHECK(ranges_of(q) == R{{0xFFFFFFF0u, 0xFFFFFFFFu}});
}

TEST_CASE("the range storage is allocated only when a segment first arrives out of order") {
    reassembly_queue q;
    CHECK_FALSE(q.allocated());
    CHECK(q.ranges().empty());
    CHECK(q.contiguous_at_start() == 0);
    q.advance(100); // in-order delivery on an empty queue touches nothing
    CHECK_FALSE(q.allocated());
    CHECK(sizeof(reassembly_queue) <= 32); // an idle connection pays for a pointer and two counters
    CHECK(q.add(10, 5));
    CHECK(q.allocated());
    q.advance(15);
    CHECK(q.empty());
    CHECK(q.allocated()); // kept for the rest of the connection: loss tends to come again
}
