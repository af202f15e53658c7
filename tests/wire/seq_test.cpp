#include "corotcp/wire/seq.hpp"

#include <catch2/catch.hpp>

using corotcp::wire::in_window;
using corotcp::wire::seq32;

TEST_CASE("sequence numbers compare correctly across the 2^32 wrap") {
    const seq32 before(0xFFFF'FFF0u);
    const seq32 after = before + 0x20u;
    CHECK(after.value() == 0x10u);
    CHECK(before < after);
    CHECK(after > before);
    CHECK(after - before == 0x20);
    CHECK(before - after == -0x20);
    CHECK(before + 0x10u == seq32(0));
    CHECK(seq32(0) - 1u == seq32(0xFFFF'FFFFu));
    CHECK(corotcp::wire::seq_max(before, after) == after);
    CHECK(corotcp::wire::seq_min(before, after) == before);
}

TEST_CASE("in_window accepts exactly start up to but excluding start plus length across the wrap") {
    const seq32 start(0xFFFF'FFFEu);
    CHECK(in_window(start, start, 4));
    CHECK(in_window(seq32(1), start, 4));
    CHECK_FALSE(in_window(seq32(2), start, 4));
    CHECK_FALSE(in_window(start - 1u, start, 4));
    CHECK_FALSE(in_window(start, start, 0));
}
