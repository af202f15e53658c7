// micro_bench: Google Benchmark micro-benchmarks of the data path's building blocks:
// the ones'-complement checksum, the fused copy + checksum, plain memcpy (the machine's ceiling),
// and TCP segment parse and emit. Run: build/release/benchmarks/micro_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "corotcp/wire/checksum.hpp"
#include "corotcp/wire/ipv4.hpp"
#include "corotcp/wire/tcp.hpp"

namespace {

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 131 + 7);
    return v;
}

void bm_checksum(benchmark::State& state) {
    const auto data = pattern(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(corotcp::wire::internet_checksum(data));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_checksum)->Arg(64)->Arg(1460)->Arg(64 * 1024);

void bm_copy_and_checksum(benchmark::State& state) {
    const auto src = pattern(static_cast<std::size_t>(state.range(0)));
    std::vector<std::uint8_t> dst(src.size());
    for (auto _ : state) {
        benchmark::DoNotOptimize(corotcp::wire::copy_and_checksum(dst.data(), src.data(), src.size()));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_copy_and_checksum)->Arg(1460)->Arg(64 * 1024);

void bm_memcpy(benchmark::State& state) {
    const auto src = pattern(static_cast<std::size_t>(state.range(0)));
    std::vector<std::uint8_t> dst(src.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_memcpy)->Arg(1460)->Arg(64 * 1024);

const auto src_ip = corotcp::wire::ipv4_address::from_octets(10, 0, 0, 1);
const auto dst_ip = corotcp::wire::ipv4_address::from_octets(10, 0, 0, 2);

corotcp::wire::tcp_repr sample_segment(std::span<const std::uint8_t> payload) {
    corotcp::wire::tcp_repr r{};
    r.src_port = 49152;
    r.dst_port = 80;
    r.seq = corotcp::wire::seq32(1000);
    r.ack = corotcp::wire::seq32(2000);
    r.flags = corotcp::wire::tcp_flags::ack | corotcp::wire::tcp_flags::psh;
    r.window = 1024;
    r.payload = payload;
    return r;
}

void bm_tcp_emit(benchmark::State& state) {
    const auto payload = pattern(static_cast<std::size_t>(state.range(0)));
    const auto seg = sample_segment(payload);
    std::vector<std::uint8_t> out(seg.buffer_len());
    for (auto _ : state) {
        benchmark::DoNotOptimize(seg.emit(out, src_ip, dst_ip));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_tcp_emit)->Arg(0)->Arg(64)->Arg(1460);

void bm_tcp_parse(benchmark::State& state) {
    const auto payload = pattern(static_cast<std::size_t>(state.range(0)));
    const auto seg = sample_segment(payload);
    std::vector<std::uint8_t> bytes(seg.buffer_len());
    seg.emit(bytes, src_ip, dst_ip);
    for (auto _ : state) benchmark::DoNotOptimize(corotcp::wire::tcp_repr::parse(bytes, src_ip, dst_ip));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_tcp_parse)->Arg(0)->Arg(64)->Arg(1460);

} // namespace

BENCHMARK_MAIN();
