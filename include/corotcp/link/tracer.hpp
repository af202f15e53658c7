// corotcp/link/tracer.hpp: a link wrapper that prints one tcpdump-style line per packet.
//
//   stack ──transmit──► tracer ──► inner link        every packet, either way, becomes a line:
//   stack ◄──receive─── tracer ◄── inner link        "0.000123 client > IP 10.0.0.1.35646 > ..."
//
// A line is `<seconds>.<micros> [<name> ]<dir> <wire::format_tcpdump(packet)>`, where `<dir>` is '>'
// for a packet this side transmits and '<' for one it receives, and the time is the `now` passed to
// transmit()/receive(). The tracer is itself a link, so it composes with other wrappers. Disabled, it
// forwards with one predictable branch per call and formats nothing.
#pragma once

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "corotcp/link/concept.hpp"
#include "corotcp/link/packet.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/wire/print.hpp"

namespace corotcp {

/// Receives each trace line, without a trailing newline.
using trace_sink = std::function<void(std::string_view line)>;

struct tracer_options {
    std::string name{};   ///< label printed after the timestamp, e.g. "client"; empty: none
    trace_sink sink{};    ///< empty: one line per packet to stdout
    bool enabled = true;
};

namespace detail {
/// "12.000345": seconds with six decimals, as tcpdump -ttt style relative times.
inline void append_timestamp(std::string& out, instant t) {
    char buf[32];
    const std::int64_t us = t.us;
    const std::uint64_t mag = us < 0 ? 0 - static_cast<std::uint64_t>(us) : static_cast<std::uint64_t>(us);
    const int n = std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%06" PRIu64, us < 0 ? "-" : "", mag / 1000000,
                                mag % 1000000);
    out.append(buf, static_cast<std::size_t>(n));
}

inline void print_line_to_stdout(std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
}
} // namespace detail

template <link L>
class tracer {
public:
    /// L may be a reference type to trace a link owned elsewhere.
    explicit tracer(L inner, tracer_options options = {})
        : inner_(std::forward<L>(inner)), name_(std::move(options.name)), sink_(std::move(options.sink)),
          enabled_(options.enabled) {
        if (!sink_) sink_ = &detail::print_line_to_stdout;
    }

    [[nodiscard]] std::size_t mtu() const { return inner_.mtu(); }

    void transmit(instant now, packet&& p) {
        if (enabled_) trace(now, '>', std::as_const(p).bytes());
        inner_.transmit(now, std::move(p));
    }

    std::size_t receive(instant now, packet_batch& out) {
        const std::size_t first = out.size();
        const std::size_t n = inner_.receive(now, out);
        if (enabled_) {
            for (std::size_t i = first; i < out.size(); ++i) trace(now, '<', std::as_const(out[i]).bytes());
        }
        return n;
    }

    [[nodiscard]] instant poll_at() const { return inner_.poll_at(); }

    /// Only when the inner link can block (a TUN device): blocks in it.
    bool wait(instant deadline)
        requires detail::waitable_link<L>
    {
        return inner_.wait(deadline);
    }

    [[nodiscard]] L& inner() noexcept { return inner_; }
    [[nodiscard]] const L& inner() const noexcept { return inner_; }
    [[nodiscard]] bool enabled() const noexcept { return enabled_; }
    void enable(bool on = true) noexcept { enabled_ = on; }
    void disable() noexcept { enabled_ = false; }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    void set_sink(trace_sink sink) { sink_ = sink ? std::move(sink) : trace_sink(&detail::print_line_to_stdout); }

private:
    void trace(instant now, char dir, std::span<const std::uint8_t> bytes) {
        line_.clear();
        detail::append_timestamp(line_, now);
        line_ += ' ';
        if (!name_.empty()) {
            line_ += name_;
            line_ += ' ';
        }
        line_ += dir;
        line_ += ' ';
        line_ += wire::format_tcpdump(bytes);
        sink_(line_);
    }

    L inner_;
    std::string name_;
    trace_sink sink_;
    bool enabled_;
    std::string line_; // reused between lines
};

static_assert(link<tracer<detail::link_archetype>>);
static_assert(link<tracer<detail::link_archetype&>>);

} // namespace corotcp
