// Tests for corotcp/tcp/scoreboard.hpp: the sender's SACK scoreboard (RFC 6675 section 3 and 4).
#include "corotcp/tcp/scoreboard.hpp"

#include <catch2/catch.hpp>

using corotcp::tcp::sack_scoreboard;
using corotcp::tcp::seq_range;
using corotcp::wire::seq32;

namespace {
seq_range r(std::uint32_t b, std::uint32_t e) { return {seq32(b), seq32(e)}; }
const seq32 una(1000);
const seq32 snd_max(20000);
} // namespace

TEST_CASE("scoreboard: blocks merge when they overlap or touch, add() reports only newly SACKed octets") {
    sack_scoreboard b;
    CHECK(b.add(seq32(3000), seq32(4000), una, snd_max));
    CHECK(b.add(seq32(5000), seq32(6000), una, snd_max));
    CHECK_FALSE(b.add(seq32(3000), seq32(4000), una, snd_max)); // nothing new
    CHECK(b.add(seq32(4000), seq32(5000), una, snd_max));       // fills the gap: one range
    REQUIRE(b.ranges().size() == 1);
    CHECK(b.ranges()[0] == r(3000, 6000));
    CHECK(b.sacked_bytes() == 3000);
    CHECK(b.highest() == seq32(6000));
}

TEST_CASE("scoreboard: invalid blocks and D-SACKs are not recorded, a block straddling SND.UNA is clamped") {
    sack_scoreboard b;
    CHECK_FALSE(b.add(seq32(500), seq32(900), una, snd_max));     // below SND.UNA: a D-SACK
    CHECK_FALSE(b.add(seq32(19000), seq32(21000), una, snd_max)); // beyond SND.MAX
    CHECK_FALSE(b.add(seq32(4000), seq32(4000), una, snd_max));   // empty
    CHECK(b.empty());
    CHECK(b.add(seq32(500), seq32(1500), una, snd_max));
    CHECK(b.ranges()[0] == r(1000, 1500));
}

TEST_CASE("scoreboard: advance() forgets what SND.UNA passed and trims a range it cuts") {
    sack_scoreboard b;
    b.add(seq32(2000), seq32(3000), una, snd_max);
    b.add(seq32(4000), seq32(6000), una, snd_max);
    b.advance(seq32(5000));
    REQUIRE(b.ranges().size() == 1);
    CHECK(b.ranges()[0] == r(5000, 6000));
    b.advance(seq32(6000));
    CHECK(b.empty());
}

TEST_CASE("scoreboard: IsLost: 3 discontiguous SACKed ranges above, or more than 2 SMSS SACKed above") {
    sack_scoreboard b;
    b.add(seq32(2000), seq32(3000), una, snd_max);
    b.add(seq32(4000), seq32(5000), una, snd_max);
    CHECK_FALSE(b.is_lost(seq32(1000), 1000)); // 2 ranges, 2000 bytes: not more than 2 SMSS
    b.add(seq32(6000), seq32(6100), una, snd_max);
    CHECK(b.is_lost(seq32(1000), 1000)); // 3 ranges above
    CHECK_FALSE(b.is_lost(seq32(3000), 1000));
    sack_scoreboard c;
    c.add(seq32(2000), seq32(4001), una, snd_max);
    CHECK(c.is_lost(seq32(1000), 1000)); // 2001 bytes above
}

TEST_CASE("scoreboard: sacked_below, containing and next_sacked_after answer for go-back-N and NextSeg") {
    sack_scoreboard b;
    b.add(seq32(2000), seq32(3000), una, snd_max);
    b.add(seq32(4000), seq32(6000), una, snd_max);
    CHECK(b.sacked_below(seq32(5000)) == 2000);
    CHECK(b.containing(seq32(4500)) == r(4000, 6000));
    CHECK_FALSE(b.containing(seq32(3000)));
    CHECK(b.next_sacked_after(seq32(3000), snd_max) == seq32(4000));
    CHECK(b.next_sacked_after(seq32(6000), snd_max) == snd_max);
}

TEST_CASE("scoreboard: bounded: a full board forgets its highest range, never allocates") {
    sack_scoreboard b;
    for (std::uint32_t k = 0; k < sack_scoreboard::max_ranges; ++k)
        b.add(seq32(2000 + 200 * k), seq32(2100 + 200 * k), una, snd_max);
    CHECK(b.ranges().size() == sack_scoreboard::max_ranges);
    CHECK_FALSE(b.add(seq32(9000), seq32(9100), una, snd_max)); // above everything: dropped
    CHECK(b.add(seq32(1500), seq32(1600), una, snd_max));       // below: the highest goes
    CHECK(b.ranges().size() == sack_scoreboard::max_ranges);
    CHECK(b.ranges().front() == r(1500, 1600));
    CHECK(b.highest() == seq32(2100 + 200 * (sack_scoreboard::max_ranges - 2)));
}

TEST_CASE("scoreboard: no storage until the first SACK block is recorded, so a connection without loss pays 16 bytes") {
    sack_scoreboard b;
    CHECK(sizeof(sack_scoreboard) <= 16);
    CHECK_FALSE(b.allocated());
    CHECK(b.ranges().empty());
    CHECK(b.sacked_bytes() == 0);
    CHECK_FALSE(b.add(seq32(500), seq32(900), una, snd_max)); // a D-SACK below SND.UNA records nothing
    CHECK_FALSE(b.allocated());
    CHECK(b.add(seq32(2000), seq32(3000), una, snd_max));
    CHECK(b.allocated());
    b.advance(seq32(3000));
    CHECK(b.empty());
}
