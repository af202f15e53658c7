// Tests for corotcp/tcp/rtt.hpp: RFC 6298 retransmission timeout arithmetic.
#include "corotcp/tcp/rtt.hpp"

#include <catch2/catch.hpp>

using namespace corotcp;
using namespace corotcp::time_literals;
using corotcp::tcp::rtt_estimator;

TEST_CASE("before any sample the RTO is the initial 1 second") {
    rtt_estimator e;
    CHECK_FALSE(e.has_sample());
    CHECK(e.rto() == 1_s);
    CHECK(e.srtt() == 0_us);
    CHECK(e.rttvar() == 0_us);
    CHECK(e.backoffs() == 0);
}

TEST_CASE("the first sample sets SRTT to R and RTTVAR to R/2") {
    rtt_estimator e;
    e.sample(100_ms);
    CHECK(e.has_sample());
    CHECK(e.srtt() == 100_ms);
    CHECK(e.rttvar() == 50_ms);
    CHECK(e.rto() == 300_ms); // 100 + max(1 ms, 4 * 50)
}

TEST_CASE("later samples update RTTVAR before SRTT exactly as RFC 6298 2.3 says") {
    rtt_estimator e;
    e.sample(100_ms);
    // R = 200: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms
    e.sample(200_ms);
    CHECK(e.rttvar() == 62500_us);
    CHECK(e.srtt() == 112500_us);
    CHECK(e.rto() == 362500_us); // 112.5 + 4 * 62.5
    // R = 50: RTTVAR = 3/4 * 62.5 + 1/4 * |112.5 - 50| = 62.5 ms;
    //         SRTT = 7/8 * 112.5 + 1/8 * 50 = 104.6875 ms, truncated to whole microseconds
    e.sample(50_ms);
    CHECK(e.rttvar() == 62500_us);
    CHECK(e.srtt() == 104687_us);
    CHECK(e.rto() == 354687_us);
}

TEST_CASE("the RTO never goes below the 200 ms minimum") {
    rtt_estimator e;
    e.sample(10_ms); // 10 + 4 * 5 = 30 ms
    CHECK(e.rto() == 200_ms);
}

TEST_CASE("the clock granularity bounds the variance term from below") {
    rtt_estimator e({.initial_rto = 1_s, .min_rto = 0_us, .max_rto = 60_s, .granularity = 5_ms});
    e.sample(0_us);
    CHECK(e.rto() == 5_ms); // 0 + max(G, 0)
}

TEST_CASE("a negative sample counts as zero") {
    rtt_estimator e;
    e.sample(duration::micros(-5));
    CHECK(e.srtt() == 0_us);
    CHECK(e.rttvar() == 0_us);
}

TEST_CASE("each backoff doubles the RTO until it is clamped to the maximum") {
    rtt_estimator e;
    const duration expected[] = {1_s, 2_s, 4_s, 8_s, 16_s, 32_s, 64_s, 120_s, 120_s, 120_s};
    for (unsigned i = 0; i < std::size(expected); ++i) {
        CAPTURE(i);
        CHECK(e.backoffs() == i);
        CHECK(e.rto() == expected[i]);
        e.backoff();
    }
}

TEST_CASE("many backoffs never overflow the RTO") {
    rtt_estimator e;
    for (int i = 0; i < 1000; ++i) e.backoff();
    CHECK(e.backoffs() == 1000);
    CHECK(e.rto() == 120_s);
}

TEST_CASE("a measured RTO is clamped to the maximum too") {
    rtt_estimator e;
    e.sample(100_s); // 100 + 4 * 50 = 300 s
    CHECK(e.rto() == 120_s);
}

TEST_CASE("a new sample after backoff collapses the RTO back to the estimate") {
    rtt_estimator e;
    e.sample(100_ms);
    e.backoff();
    e.backoff();
    CHECK(e.rto() == 1200_ms);
    e.sample(100_ms); // RTTVAR = 3/4 * 50 + 0 = 37.5 ms; SRTT = 100 ms
    CHECK(e.backoffs() == 0);
    CHECK(e.rto() == 250_ms);
}

TEST_CASE("reset_backoff restores the base RTO without touching the estimate") {
    rtt_estimator e;
    e.sample(100_ms);
    e.backoff();
    CHECK(e.rto() == 600_ms);
    e.reset_backoff();
    CHECK(e.backoffs() == 0);
    CHECK(e.rto() == 300_ms);
    CHECK(e.srtt() == 100_ms);
}
