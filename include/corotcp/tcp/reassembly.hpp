// corotcp/tcp/reassembly.hpp: which bytes beyond rcv.nxt have already arrived.
//
// RFC 9293 3.10.7.4 lets a receiver keep segments that arrive in the window but beyond rcv.nxt and
// deliver them once the gap is filled. The bytes themselves are stored in the receive ring at their
// offset (ring_buffer::write_at); this queue only remembers *which* ranges are present, as offsets
// relative to rcv.nxt. The same ranges are what the receiver reports in SACK blocks (RFC 2018).
//
// Bounded: at most `max_ranges` disjoint ranges, kept in a fixed-size block that is allocated the first
// time a segment arrives out of order (one allocation per connection at most, kept until the
// connection ends), so a connection that never sees reordering or loss pays 24 bytes, not 400. A
// segment that would need one more range is refused and the caller drops it (it will be retransmitted).
//
// Intended use with the receive ring, whose tail is rcv.nxt (text = segment data starting `off`
// bytes past rcv.nxt, already trimmed to the window):
//
//   n = rcv_buf.write_at(off, text);            // bytes go to their final place
//   if (!ooo.add(off, n)) { /* drop segment */ }
//   if (auto k = ooo.contiguous_at_start()) {   // the hole at rcv.nxt is filled
//       rcv_buf.commit(k); ooo.advance(k); rcv.nxt += k;
//   }
//
// rcv_buf.release_if_empty() must not be called while this queue is non-empty.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

namespace corotcp::tcp {

/// A half-open byte range [begin, end) relative to rcv.nxt.
struct byte_range {
    std::uint32_t begin = 0;
    std::uint32_t end = 0;

    [[nodiscard]] constexpr std::uint32_t len() const noexcept { return end - begin; }
    friend constexpr bool operator==(byte_range, byte_range) noexcept = default;
};

class reassembly_queue {
public:
    static constexpr std::size_t max_ranges = 32;

    /// Records that [offset, offset + len) has arrived. Overlapping and adjacent ranges are merged,
    /// and the resulting range becomes the most recently touched one (first SACK block, RFC 2018
    /// section 4). Returns false and changes nothing if a new disjoint range is needed while
    /// `max_ranges` are already held. `len == 0` is accepted and changes nothing. A range reaching
    /// past 2^32 - 1 is truncated there (receive windows are at most 2^30, RFC 7323 2.3).
    bool add(std::uint32_t offset, std::uint32_t len) noexcept {
        len = std::min(len, std::numeric_limits<std::uint32_t>::max() - offset);
        if (len == 0) return true;
        const std::uint32_t b = offset;
        const std::uint32_t e = offset + len;

        // [first, last) = the ranges that overlap or touch [b, e]; they are consecutive because
        // the stored ranges are sorted, disjoint and never adjacent.
        std::size_t first = 0;
        while (first < count_ && slots_->ranges[first].end < b) ++first;
        std::size_t last = first;
        while (last < count_ && slots_->ranges[last].begin <= e) ++last;

        if (first == last) { // disjoint from everything: insert at `first`
            if (count_ == max_ranges) return false;
            if (!slots_) slots_ = std::make_unique<slots>();
            auto& r = slots_->ranges;
            auto& st = slots_->stamps;
            for (std::size_t i = count_; i > first; --i) {
                r[i] = r[i - 1];
                st[i] = st[i - 1];
            }
            r[first] = {b, e};
            st[first] = ++clock_;
            ++count_;
            return true;
        }
        auto& r = slots_->ranges;
        r[first] = byte_range{std::min(b, r[first].begin), std::max(e, r[last - 1].end)};
        slots_->stamps[first] = ++clock_;
        erase(first + 1, last);
        return true;
    }

    /// Length of the range starting at offset 0 (the bytes that can now be delivered), or 0.
    [[nodiscard]] std::uint32_t contiguous_at_start() const noexcept {
        return (count_ != 0 && slots_->ranges[0].begin == 0) ? slots_->ranges[0].end : 0;
    }

    /// rcv.nxt advanced by `n`: forgets everything below `n` and rebases the rest onto the new rcv.nxt.
    void advance(std::uint32_t n) noexcept {
        if (count_ == 0) return;
        auto& r = slots_->ranges;
        std::size_t dropped = 0;
        while (dropped < count_ && r[dropped].end <= n) ++dropped;
        erase(0, dropped);
        for (std::size_t i = 0; i < count_; ++i) {
            r[i].begin = std::max(r[i].begin, n) - n;
            r[i].end -= n;
        }
    }

    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::size_t count() const noexcept { return count_; }
    void clear() noexcept { count_ = 0; }

    /// The ranges in increasing offset order.
    [[nodiscard]] std::span<const byte_range> ranges() const noexcept { return {begin(), count_}; }
    [[nodiscard]] const byte_range* begin() const noexcept { return slots_ ? slots_->ranges.data() : nullptr; }
    [[nodiscard]] const byte_range* end() const noexcept { return begin() + count_; }

    /// True once the range storage has been allocated (the first out-of-order segment).
    [[nodiscard]] bool allocated() const noexcept { return slots_ != nullptr; }

    /// Calls `f(byte_range)` for every range, most recently added-to first. The TCB takes the first
    /// three or four for SACK blocks: RFC 2018 section 4 requires the first block to hold the segment
    /// that triggered the ACK, and recommends repeating the most recently reported ones after it.
    template <class F>
    void for_each_most_recent_first(F f) const {
        std::array<std::uint8_t, max_ranges> order{};
        for (std::size_t i = 0; i < count_; ++i) order[i] = static_cast<std::uint8_t>(i);
        if (count_ == 0) return;
        const auto& st = slots_->stamps;
        std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count_),
                  [&st](std::uint8_t a, std::uint8_t b) { return st[a] > st[b]; });
        for (std::size_t i = 0; i < count_; ++i) f(slots_->ranges[order[i]]);
    }

private:
    /// Removes slots [from, to).
    void erase(std::size_t from, std::size_t to) noexcept {
        if (from >= to) return;
        auto& r = slots_->ranges;
        auto& st = slots_->stamps;
        const std::size_t gone = to - from;
        for (std::size_t i = to; i < count_; ++i) {
            r[i - gone] = r[i];
            st[i - gone] = st[i];
        }
        count_ -= gone;
    }

    struct slots {
        std::array<byte_range, max_ranges> ranges{};     // sorted, disjoint, non-adjacent, non-empty
        std::array<std::uint64_t, max_ranges> stamps{};  // recency: larger = touched later
    };
    std::unique_ptr<slots> slots_;                       // allocated by the first disjoint add()
    std::uint64_t clock_ = 0;                            // last stamp handed out
    std::size_t count_ = 0;                              // slots_->ranges[0, count_) are valid
};

} // namespace corotcp::tcp
