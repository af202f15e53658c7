// sim_bench: goodput of one bulk TCP flow through a simulated bottleneck, in virtual time.
//
//   client 10.0.0.1 ──► [ random loss p │ 100 Mbit/s, tail-drop queue ≈ 1 BDP │ RTT/2 ] ──► server 10.0.0.2
//     (sender)      ◄── [               │ 100 Mbit/s, same queue             │ RTT/2 ] ◄──  (receiver, ACKs)
//
// Two stacks in one memory_pair<virtual_clock>: the clock jumps from event to event, so a simulated
// minute costs what its packets cost to process. The client writes 64 KiB blocks forever; the server
// reads and checks every byte against a pattern that depends on the byte's offset in the stream
// (a table of prime length, so misplaced or corrupted data cannot match). Goodput = application
// bytes read by the server during a measuring interval that follows a warm-up, divided by the
// interval, printed as a fraction of the link rate.
//
// The grid (issue 4, section 2): RTT ∈ {1, 10, 100} ms × loss ∈ {0, 0.1, 1, 5} % × congestion control
// ∈ {NewReno, CUBIC} × SACK on/off. Loss is uniform, on the data direction only (ACKs are not lost,
// as in the model behind the Mathis bound). For every cell the program also prints the Mathis et al.
// (1997) bound MSS/RTT × 1.22/√p and the ratio of the goodput to it, the bound capped at what the
// link can carry (100 Mbit/s × 1448/1500 × (1 − p): headers and lost packets use link time too), and
// for context the PFTK model (Padhye et al. 1998), which also counts retransmission timeouts. The
// target of a cell is the Mathis bound, or 90 % of the link rate where the bound is higher (and at 0 %).
//
// Output, one line per cell, `name value unit  # details`:
//   goodput cc=cubic sack=on rtt=10ms loss=1% 0.152 link  # mathis 0.141 link (pftk 0.098), x1.08 of ...
// A lossy cell is run with several seeds and the median is printed. --quick runs a few short cells
// (the ctest smoke run) and exits non-zero if a cell moved no data or a byte failed verification.
// Options: --quick, --seeds N, --time-scale F (multiplies every duration), --cc newreno|cubic,
// --sack on|off, --rtt MS, --loss PERCENT (each restricts the grid), --buffer-kib N (socket buffers,
// default 8 MiB), --trace (tcpdump-style lines of the first run of each cell on stdout; use with one
// cell), --timeline MS (print the sender's cwnd, ssthresh, flight, SACKed segments, recovery and RTO
// backoff every MS ms of virtual time, warm-up included, for diagnosis), --watchdog S (fail when
// virtual time stops moving for S s of wall time, default 60; 0: off), --hystart BITS (CUBIC's
// HyStart signals, config::hystart_detect: 1 ACK train, 2 delay, 3 both (the default), 0 off),
// --prr 0|1 (config::prr: Proportional Rate Reduction in SACK recovery, default 1).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "corotcp/corotcp.hpp"

namespace {

using pair_type = corotcp::memory_pair<corotcp::virtual_clock>;
using corotcp::duration;
using cc_kind = corotcp::tcp::congestion_control;

// --- the setup ----------------------------------------------------------------------------------
// 100 Mbit/s: a common access/LAN bottleneck, and slow enough that a 100 ms path still needs window
// scaling (BDP 1.25 MB) while the whole grid costs about a minute of CPU: the cost of a simulated
// second is proportional to the packets it carries.
constexpr std::uint64_t link_bps = 100'000'000;
constexpr std::size_t mtu = 1500;
constexpr std::size_t payload_per_segment = mtu - 20 - 20 - 12; // IPv4 + TCP + timestamps option = 1448
constexpr std::size_t min_queue_packets = 16;
constexpr std::size_t default_socket_buffer = 8 * 1024 * 1024; // > BDP + queue at 100 ms (2.5 MB); wscale 8

// --- the watchdog ----------------------------------------------------------------------------------
// Virtual time only moves when the stacks go idle, so an engine that keeps emitting at one instant (a
// livelock) would hang the program, and ctest would only say "Timeout". The runs publish their
// virtual time after every step; a thread checks it once a second and, when it has not moved for
// --watchdog seconds of wall time, prints the cell and the instant and exits with status 3.
struct watchdog_state {
    std::atomic<std::int64_t> virtual_us{0};
    std::atomic<std::uint64_t> steps{0};
    std::atomic<int> rtt_ms{0}, loss_basis_points{0}, cubic{0}, sack{0};
};
watchdog_state progress;

void publish(corotcp::instant now) {
    progress.virtual_us.store(now.us, std::memory_order_relaxed);
    progress.steps.fetch_add(1, std::memory_order_relaxed);
}

void watch(std::stop_token stop, int stall_seconds) {
    std::mutex m;
    std::condition_variable_any cv; // only to sleep until the next second or until stop is requested
    std::unique_lock lock(m);
    std::uint64_t last = progress.steps.load();
    int still = 0;
    while (!stop.stop_requested()) {
        if (cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; })) break;
        const std::uint64_t now = progress.steps.load();
        still = now == last ? still + 1 : 0;
        last = now;
        if (still < stall_seconds) continue;
        std::printf("sim_bench: FAILED: no progress for %d s of wall time in cc=%s sack=%s rtt=%dms loss=%g%%, "
                    "virtual time stuck at %.6f s (the engine keeps working at one instant: a livelock)\n",
                    stall_seconds, progress.cubic.load() ? "cubic" : "newreno", progress.sack.load() ? "on" : "off",
                    progress.rtt_ms.load(), progress.loss_basis_points.load() / 100.0,
                    static_cast<double>(progress.virtual_us.load()) / 1e6);
        std::fflush(stdout);
        std::_Exit(3);
    }
}

struct options {
    bool quick = false;
    int watchdog_seconds = 60;
    int seeds = 3;
    double time_scale = 1.0;
    bool trace = false;
    int timeline_ms = 0;
    std::size_t socket_buffer = default_socket_buffer;
    std::uint8_t hystart_detect = corotcp::tcp::hystart_ack_train | corotcp::tcp::hystart_delay;
    bool prr = true; // --prr 0: RFC 6675 recovery without Proportional Rate Reduction
    std::vector<cc_kind> ccs{cc_kind::newreno, cc_kind::cubic};
    std::vector<bool> sacks{false, true};
    std::vector<int> rtts{1, 10, 100};
    std::vector<double> losses{0, 0.001, 0.01, 0.05};
};

struct cell {
    cc_kind cc;
    bool sack;
    int rtt_ms;
    double loss; // fraction, not percent
};

struct run_result {
    std::uint64_t bytes = 0;     // verified application bytes read during the measuring interval
    double seconds = 0;          // the measuring interval (virtual)
    bool corrupt = false;
    bool connected = false;
    std::uint64_t retransmits = 0, fast_recoveries = 0, tail_loss_probes = 0, rtos = 0;
    std::uint64_t lost = 0, queue_drops = 0;
    double mean_cwnd_segments = 0;
    double recovery_share = 0;   // share of samples taken in fast recovery
    double backoff_share = 0;    // share of samples taken while an RTO backoff was in effect
    [[nodiscard]] double goodput_fraction() const {
        return seconds > 0 ? static_cast<double>(bytes) * 8 / seconds / static_cast<double>(link_bps) : 0;
    }
};

[[nodiscard]] const char* name(cc_kind c) { return c == cc_kind::cubic ? "cubic" : "newreno"; }

[[nodiscard]] std::size_t bdp_bytes(int rtt_ms) {
    return static_cast<std::size_t>(link_bps / 8 * static_cast<std::uint64_t>(rtt_ms) / 1000);
}
[[nodiscard]] std::size_t queue_bytes(int rtt_ms) { return std::max(bdp_bytes(rtt_ms), min_queue_packets * mtu); }

/// Mathis, Semke, Mahdavi, Ott (1997): the steady-state rate of a Reno flow with random loss p,
/// MSS/RTT × sqrt(3/2)/sqrt(p) ≈ MSS/RTT × 1.22/√p, as a fraction of the link rate.
[[nodiscard]] double mathis_fraction(const cell& c) {
    if (c.loss <= 0) return INFINITY;
    const double bps = static_cast<double>(payload_per_segment) * 8 / (c.rtt_ms / 1000.0) * 1.22 / std::sqrt(c.loss);
    return bps / static_cast<double>(link_bps);
}
/// Padhye, Firoiu, Towsley, Kurose (1998), the model with retransmission timeouts, which Mathis's
/// omits: MSS / (RTT·sqrt(2bp/3) + T0·min(1, 3·sqrt(3bp/8))·p·(1 + 32p²)), with b = 1 (the window grows
/// by one segment per RTT: byte counting) and T0 = max(200 ms, 2 RTT) (RTO_min, or SRTT + 4 RTTVAR).
[[nodiscard]] double pftk_fraction(const cell& c) {
    if (c.loss <= 0) return INFINITY;
    const double p = c.loss;
    const double rtt = c.rtt_ms / 1000.0;
    const double t0 = std::max(0.2, 2 * rtt);
    const double denom = rtt * std::sqrt(2 * p / 3) + t0 * std::min(1.0, 3 * std::sqrt(3 * p / 8)) * p * (1 + 32 * p * p);
    return static_cast<double>(payload_per_segment) * 8 / denom / static_cast<double>(link_bps);
}
/// The most the link can deliver as goodput: every packet carries 1448 of its 1500 bytes as payload,
/// and a lost packet's link time is spent for nothing.
[[nodiscard]] double ceiling_fraction(const cell& c) {
    return static_cast<double>(payload_per_segment) / static_cast<double>(mtu) * (1 - c.loss);
}

// --- the stream pattern --------------------------------------------------------------------------
// Byte i of the stream is table[i % period]. The period is prime, so no segment (≤ 1448 bytes) or
// write (64 KiB) size divides it: data delivered at the wrong offset fails the comparison. The table
// is stored period + block long so that any block-sized window is one contiguous span.
constexpr std::size_t block = 64 * 1024;
constexpr std::size_t period = 65'521;

struct pattern {
    std::vector<std::uint8_t> bytes;
    pattern() : bytes(period + block) {
        std::uint64_t x = 0x9E3779B97F4A7C15ull;
        for (std::size_t i = 0; i < period; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes[i] = static_cast<std::uint8_t>(x >> 56);
        }
        for (std::size_t i = period; i < bytes.size(); ++i) bytes[i] = bytes[i - period]; // block > period: overlaps
    }
    [[nodiscard]] std::span<const std::uint8_t> at(std::uint64_t offset, std::size_t n) const {
        return {bytes.data() + offset % period, n};
    }
};

// --- the flow ------------------------------------------------------------------------------------

struct flow_state {
    const pattern* pat = nullptr;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    bool corrupt = false;
    bool connected = false;
    const corotcp::tcp::tcb<>* sender = nullptr; // the client's engine, for sampling
};

corotcp::task<void> sink(pair_type::listener l, flow_state& f) {
    auto c = co_await l.accept();
    if (!c) co_return;
    std::vector<std::uint8_t> buf(block);
    for (;;) {
        auto n = co_await c->read(buf);
        if (!n || *n == 0) break;
        if (!f.corrupt && std::memcmp(buf.data(), f.pat->at(f.received, *n).data(), *n) != 0) {
            f.corrupt = true;
            std::fprintf(stderr, "sim_bench: corrupt data at stream offset %llu (read of %zu)\n",
                         static_cast<unsigned long long>(f.received), *n);
        }
        f.received += *n;
    }
}

corotcp::task<void> source(pair_type& net, flow_state& f) {
    auto c = co_await net.client().connect(net.server_address(), 5001);
    if (!c) co_return;
    f.connected = true;
    f.sender = c->tcb();
    for (;;) {
        const auto data = f.pat->at(f.sent, block);
        if (co_await c->write(data)) break;
        f.sent += block;
    }
    f.sender = nullptr;
}

corotcp::memory_pair_options pair_options(const cell& c, std::uint64_t seed, const options& o, bool trace) {
    corotcp::fault_config data;
    data.loss = c.loss;
    data.bandwidth_bps = link_bps;
    data.queue_bytes = queue_bytes(c.rtt_ms);
    data.delay = duration::micros(c.rtt_ms * 1000 / 2);
    corotcp::fault_config acks = data;
    acks.loss = 0;

    corotcp::memory_pair_options p;
    p.pipe.mtu = mtu;
    p.pipe.seed = seed;
    p.pipe.a_to_b = data;
    p.pipe.b_to_a = acks;
    p.trace = trace;
    for (auto* s : {&p.client, &p.server}) {
        s->mtu = mtu;
        s->tcp.send_buffer = o.socket_buffer;
        s->tcp.recv_buffer = o.socket_buffer;
        s->tcp.congestion = c.cc;
        s->tcp.sack = c.sack;
        s->tcp.hystart_detect = o.hystart_detect;
        s->tcp.prr = o.prr;
    }
    return p;
}

struct timings {
    duration warmup;
    duration measure;
};

/// Warm-up: slow start and the first overshoot are over, and CUBIC's first epoch has had time to
/// settle. Measure: at least 200 RTTs and 10 s, and long enough for ~300 loss events at the rate
/// the Mathis bound predicts (fewer leave a noisy number at 100 ms and low loss); at most 600 s.
[[nodiscard]] timings timings_for(const cell& c, double scale) {
    const double rtt = c.rtt_ms / 1000.0;
    double warm = std::max(3.0, 50 * rtt);
    double meas = std::max(10.0, 200 * rtt);
    if (c.loss > 0) {
        const double rate_pps =
            std::min(mathis_fraction(c), ceiling_fraction(c)) * static_cast<double>(link_bps) / 8 / payload_per_segment;
        meas = std::max(meas, 300 / c.loss / rate_pps);
    }
    meas = std::min(meas, 600.0);
    auto us = [&](double s) { return duration::micros(static_cast<std::int64_t>(s * scale * 1e6)); };
    return {us(warm), us(meas)};
}

run_result run_cell(const cell& c, std::uint64_t seed, const timings& t, const pattern& pat, const options& o,
                    bool trace) {
    const int timeline_ms = o.timeline_ms;
    pair_type net(pair_options(c, seed, o, trace));
    flow_state f;
    f.pat = &pat;
    net.spawn(sink(std::move(*net.server().listen(5001)), f));
    net.spawn(source(net, f));
    // Sampling the sender every `step`: an increase of its RTO backoff counter is a retransmission
    // timeout (RTOs are >= 200 ms apart, the steps 5 ms or less). With --timeline every sample is
    // printed, from the start (the warm-up too).
    const duration step = duration::micros(timeline_ms > 0 ? timeline_ms * 1000 : std::min(5000, c.rtt_ms * 500));
    auto print_sample = [&](const corotcp::tcp::tcb<>& s) {
        const auto mss = s.send_mss();
        std::printf("t %.3f cwnd %u ssthresh %u flight %u sacked %u recovery %d backoffs %u srtt_ms %.1f "
                    "delivered %llu queue_drops %llu\n",
                    static_cast<double>(net.now().us) / 1e6, s.cwnd() / mss, s.ssthresh() / mss,
                    static_cast<std::uint32_t>(s.snd_nxt() - s.snd_una()) / mss, s.scoreboard().sacked_bytes() / mss,
                    s.in_recovery() ? 1 : 0, s.rtt().backoffs(), static_cast<double>(s.rtt().srtt().us) / 1e3,
                    static_cast<unsigned long long>(f.received),
                    static_cast<unsigned long long>(net.pipe().a_to_b().counters().dropped.queue_full));
    };
    progress.rtt_ms = c.rtt_ms;
    progress.loss_basis_points = static_cast<int>(std::lround(c.loss * 10000));
    progress.cubic = c.cc == cc_kind::cubic;
    progress.sack = c.sack;
    const corotcp::instant warm_end = net.now() + t.warmup;
    while (net.now() < warm_end) {
        net.run_for(std::min(step, warm_end - net.now()));
        publish(net.now());
        if (timeline_ms > 0 && f.sender != nullptr) print_sample(*f.sender);
    }

    run_result r;
    const std::uint64_t bytes0 = f.received;
    const auto tx0 = net.pipe().a_to_b().counters();
    const corotcp::tcp::tcb_stats st0 = f.sender ? f.sender->stats() : corotcp::tcp::tcb_stats{};
    const corotcp::instant end = net.now() + t.measure;
    unsigned last_backoffs = f.sender ? f.sender->rtt().backoffs() : 0;
    std::uint64_t samples = 0, in_recovery = 0, in_backoff = 0;
    double cwnd_sum = 0;
    while (net.now() < end) {
        net.run_for(std::min(step, end - net.now()));
        publish(net.now());
        if (f.sender == nullptr) break;
        const auto& s = *f.sender;
        const unsigned b = s.rtt().backoffs();
        if (b > last_backoffs) r.rtos += b - last_backoffs;
        last_backoffs = b;
        ++samples;
        in_recovery += s.in_recovery() ? 1 : 0;
        in_backoff += b > 0 ? 1 : 0;
        cwnd_sum += static_cast<double>(s.cwnd()) / static_cast<double>(s.send_mss());
        if (timeline_ms > 0) print_sample(s);
    }
    r.bytes = f.received - bytes0;
    r.seconds = t.measure.seconds_f();
    r.corrupt = f.corrupt;
    r.connected = f.connected;
    const auto tx1 = net.pipe().a_to_b().counters();
    r.lost = tx1.dropped.loss - tx0.dropped.loss;
    r.queue_drops = tx1.dropped.queue_full - tx0.dropped.queue_full;
    if (f.sender != nullptr) {
        const auto& st1 = f.sender->stats();
        r.retransmits = st1.retransmits - st0.retransmits;
        r.fast_recoveries = st1.fast_retransmits - st0.fast_retransmits;
        r.tail_loss_probes = st1.tail_loss_probes - st0.tail_loss_probes;
    }
    if (samples > 0) {
        r.mean_cwnd_segments = cwnd_sum / static_cast<double>(samples);
        r.recovery_share = static_cast<double>(in_recovery) / static_cast<double>(samples);
        r.backoff_share = static_cast<double>(in_backoff) / static_cast<double>(samples);
    }
    return r;
}

// --- the grid -------------------------------------------------------------------------------------

/// A fraction of the link with three significant digits, in fixed notation (0.965, 0.0443, 0.00512).
[[nodiscard]] std::string fraction(double v) {
    char buf[32];
    const int decimals = v >= 0.1 ? 3 : v >= 0.01 ? 4 : v >= 0.001 ? 5 : 6;
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

[[nodiscard]] std::string percent(double loss) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%g%%", loss * 100);
    return buf;
}

/// Runs one cell (several seeds if lossy), prints its line; false if it moved nothing or corrupted data.
bool report_cell(const cell& c, const options& o, const pattern& pat) {
    const timings t = timings_for(c, o.time_scale);
    const int seeds = c.loss > 0 ? std::max(1, o.seeds) : 1;
    std::vector<run_result> runs;
    const auto wall0 = std::chrono::steady_clock::now();
    for (int s = 0; s < seeds; ++s)
        runs.push_back(run_cell(c, 1 + static_cast<std::uint64_t>(s), t, pat, o, o.trace && s == 0));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::sort(runs.begin(), runs.end(),
              [](const run_result& a, const run_result& b) { return a.goodput_fraction() < b.goodput_fraction(); });
    const run_result& m = runs[runs.size() / 2];
    bool ok = true;
    for (const auto& r : runs) ok = ok && r.connected && r.bytes > 0 && !r.corrupt;

    const double g = m.goodput_fraction();
    const double mathis = mathis_fraction(c);
    const double bound = std::min(mathis, ceiling_fraction(c));
    // The target: the Mathis bound where the link can carry it, else (as at 0 % loss) 90 % of the link.
    const double target = std::min(mathis, 0.90);
    char mathis_text[96];
    if (std::isinf(mathis)) std::snprintf(mathis_text, sizeof mathis_text, "mathis inf");
    else
        std::snprintf(mathis_text, sizeof mathis_text, "mathis %s link (pftk %s)", fraction(mathis).c_str(),
                      fraction(pftk_fraction(c)).c_str());
    std::printf("goodput cc=%s sack=%s rtt=%dms loss=%s %s link  # %s, x%.2f of the bound capped at %s, "
                "target %s %s; median of %d (%s..%s), %.3g s after %.3g s warm-up; per run: %llu lost, "
                "%llu queue drops, %llu retransmits, %llu fast recoveries, %llu RTOs, %llu TLPs, mean cwnd %.0f seg, "
                "%.0f%% in recovery, %.0f%% in RTO backoff; %.1f s wall%s\n",
                name(c.cc), c.sack ? "on" : "off", c.rtt_ms, percent(c.loss).c_str(), fraction(g).c_str(), mathis_text,
                g / bound, fraction(bound).c_str(), fraction(target).c_str(), g >= target ? "met" : "MISSED", seeds,
                fraction(runs.front().goodput_fraction()).c_str(), fraction(runs.back().goodput_fraction()).c_str(),
                t.measure.seconds_f(), t.warmup.seconds_f(),
                static_cast<unsigned long long>(m.lost), static_cast<unsigned long long>(m.queue_drops),
                static_cast<unsigned long long>(m.retransmits), static_cast<unsigned long long>(m.fast_recoveries),
                static_cast<unsigned long long>(m.rtos), static_cast<unsigned long long>(m.tail_loss_probes),
                m.mean_cwnd_segments, m.recovery_share * 100, m.backoff_share * 100, wall,
                ok ? ", every byte verified" : ", VERIFY FAILED or no data");
    std::fflush(stdout);
    return ok;
}

[[nodiscard]] cc_kind parse_cc(const char* s) {
    if (std::strcmp(s, "newreno") == 0) return cc_kind::newreno;
    if (std::strcmp(s, "cubic") == 0) return cc_kind::cubic;
    std::fprintf(stderr, "unknown congestion control %s\n", s);
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const bool has_arg = i + 1 < argc;
        if (std::strcmp(argv[i], "--quick") == 0) o.quick = true;
        else if (std::strcmp(argv[i], "--seeds") == 0 && has_arg) o.seeds = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--time-scale") == 0 && has_arg) o.time_scale = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--trace") == 0) o.trace = true;
        else if (std::strcmp(argv[i], "--timeline") == 0 && has_arg) o.timeline_ms = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--cc") == 0 && has_arg) o.ccs = {parse_cc(argv[++i])};
        else if (std::strcmp(argv[i], "--sack") == 0 && has_arg) o.sacks = {std::strcmp(argv[++i], "on") == 0};
        else if (std::strcmp(argv[i], "--rtt") == 0 && has_arg) o.rtts = {std::atoi(argv[++i])};
        else if (std::strcmp(argv[i], "--loss") == 0 && has_arg) o.losses = {std::atof(argv[++i]) / 100};
        else if (std::strcmp(argv[i], "--hystart") == 0 && has_arg)
            o.hystart_detect = static_cast<std::uint8_t>(std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--prr") == 0 && has_arg)
            o.prr = std::atoi(argv[++i]) != 0;
        else if (std::strcmp(argv[i], "--watchdog") == 0 && has_arg) o.watchdog_seconds = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--buffer-kib") == 0 && has_arg)
            o.socket_buffer = static_cast<std::size_t>(std::atol(argv[++i])) * 1024;
        else {
            std::fprintf(stderr,
                         "usage: %s [--quick] [--seeds N] [--time-scale F] [--cc newreno|cubic] [--sack on|off]\n"
                         "          [--rtt MS] [--loss PERCENT] [--buffer-kib N] [--hystart 0-3] [--prr 0|1] [--trace] [--timeline MS]\n"
                         "          [--watchdog S]\n",
                         argv[0]);
            return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (o.quick) { // the smoke run: both algorithms, both SACK settings, 1 % loss at 1 and 10 ms, briefly
        o.seeds = 1;
        o.time_scale = std::min(o.time_scale, 0.05);
        o.rtts = {1, 10};
        o.losses = {0.01};
    }
    const pattern pat;
    std::printf("# sim_bench: one bulk flow, %llu Mbit/s bottleneck, MTU %zu (%zu B payload per segment), "
                "queue max(BDP, %zu packets), %zu KiB socket buffers, loss on the data direction only\n",
                static_cast<unsigned long long>(link_bps / 1'000'000), mtu, payload_per_segment, min_queue_packets,
                o.socket_buffer >> 10);
    std::jthread guard;
    if (o.watchdog_seconds > 0) guard = std::jthread(watch, o.watchdog_seconds);
    bool ok = true;
    for (const int rtt : o.rtts)
        for (const double loss : o.losses)
            for (const cc_kind cc : o.ccs)
                for (const bool sack : o.sacks) ok = report_cell(cell{cc, sack, rtt, loss}, o, pat) && ok;
    if (!ok) std::printf("sim_bench: FAILED (a cell moved no data or delivered corrupt data)\n");
    return ok ? 0 : 1;
}
