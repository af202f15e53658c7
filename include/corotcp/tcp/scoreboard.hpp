// corotcp/tcp/scoreboard.hpp: what the peer has SACKed, for loss recovery (RFC 6675 section 3).
//
// The sender's view of the SACK blocks it received: which sequence ranges above SND.UNA have
// arrived at the peer. The TCB asks it the questions of RFC 6675 section 4: IsLost(SeqNum) and the
// pieces of SetPipe and NextSeg (holes and the octets SACKed above a number).
//
// Bounded: at most `max_ranges` disjoint ranges in a fixed-size block, allocated by the first SACK
// block recorded and kept for the connection's life (a connection that never sees loss holds a null
// pointer, not 128 bytes). When a new range
// would need one more slot, the highest range is forgotten (the holes at the bottom are the ones
// recovery repairs first; forgetting a SACK only makes the sender resend more, never less).
//
// Validity of blocks (RFC 2018 section 3, RFC 2883 section 4): a block must lie inside
// [SND.UNA, SND.MAX] and have left < right; a block below SND.UNA is a D-SACK and is not recorded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "corotcp/wire/seq.hpp"

namespace corotcp::tcp {

/// A half-open sequence range [begin, end).
struct seq_range {
    wire::seq32 begin;
    wire::seq32 end;
    [[nodiscard]] constexpr std::uint32_t len() const noexcept { return static_cast<std::uint32_t>(end - begin); }
    friend constexpr bool operator==(seq_range, seq_range) noexcept = default;
};

class sack_scoreboard {
public:
    static constexpr std::size_t max_ranges = 16;
    /// RFC 6675 section 2: DupThresh, the number of duplicate ACKs (or SACKed segments) that
    /// mean loss.
    static constexpr unsigned dup_thresh = 3;

    /// Records one SACK block, clamped to [una, snd_max). Returns true if it SACKed octets not
    /// SACKed before (RFC 6675's condition for a duplicate ACK to count).
    bool add(wire::seq32 left, wire::seq32 right, wire::seq32 una, wire::seq32 snd_max) {
        if (!(left < right) || right > snd_max || !(una < right)) return false; // invalid or D-SACK
        if (left < una) left = una;
        const std::uint32_t before = sacked_bytes();
        std::size_t first = 0; // the first range ending at or after left
        while (first < count_ && ranges_[first].end < left) ++first;
        std::size_t last = first; // one past the last range starting at or before right
        while (last < count_ && !(right < ranges_[last].begin)) ++last;
        if (first == last) { // disjoint: insert at `first`
            if (count_ == max_ranges) {
                if (first == count_) return false; // above everything held: forget it
                --count_;                             // forget the highest range
            }
            if (!ranges_) ranges_ = std::make_unique<seq_range[]>(max_ranges);
            for (std::size_t i = count_; i > first; --i) ranges_[i] = ranges_[i - 1];
            ranges_[first] = {left, right};
            ++count_;
            return true;
        } else {
            ranges_[first] = {wire::seq_min(left, ranges_[first].begin), wire::seq_max(right, ranges_[last - 1].end)};
            erase(first + 1, last);
        }
        return sacked_bytes() != before;
    }

    /// SND.UNA moved to `una`: forgets everything below it.
    void advance(wire::seq32 una) noexcept {
        std::size_t gone = 0;
        while (gone < count_ && !(una < ranges_[gone].end)) ++gone;
        erase(0, gone);
        if (count_ > 0 && ranges_[0].begin < una) ranges_[0].begin = una;
    }

    void clear() noexcept { count_ = 0; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::span<const seq_range> ranges() const noexcept { return {ranges_.get(), count_}; }
    /// True once a SACK block was recorded (the range storage is allocated then, not before).
    [[nodiscard]] bool allocated() const noexcept { return ranges_ != nullptr; }

    /// One past the highest SACKed octet (HighSACK + 1); only meaningful when not empty().
    [[nodiscard]] wire::seq32 highest() const noexcept { return ranges_[count_ - 1].end; }

    [[nodiscard]] std::uint32_t sacked_bytes() const noexcept {
        std::uint32_t n = 0;
        for (std::size_t i = 0; i < count_; ++i) n += ranges_[i].len();
        return n;
    }

    /// The octets SACKed below `s`.
    [[nodiscard]] std::uint32_t sacked_below(wire::seq32 s) const noexcept {
        std::uint32_t n = 0;
        for (std::size_t i = 0; i < count_ && ranges_[i].begin < s; ++i)
            n += static_cast<std::uint32_t>(wire::seq_min(ranges_[i].end, s) - ranges_[i].begin);
        return n;
    }

    /// The octets SACKed inside [b, e).
    [[nodiscard]] std::uint32_t sacked_in(wire::seq32 b, wire::seq32 e) const noexcept {
        std::uint32_t n = 0;
        for (std::size_t i = 0; i < count_ && ranges_[i].begin < e; ++i) {
            const wire::seq32 lo = wire::seq_max(ranges_[i].begin, b);
            const wire::seq32 hi = wire::seq_min(ranges_[i].end, e);
            if (lo < hi) n += static_cast<std::uint32_t>(hi - lo);
        }
        return n;
    }

    /// Calls fn(begin, end) for each maximal part of [b, e) that is not SACKed, in ascending order
    /// (RFC 8985 needs "newly delivered" ranges: what a new ACK or SACK block covers minus these).
    template <class Fn>
    void for_each_unsacked(wire::seq32 b, wire::seq32 e, Fn&& fn) const {
        for (std::size_t i = 0; i < count_ && b < e; ++i) {
            if (!(b < ranges_[i].end)) continue;
            if (!(ranges_[i].begin < e)) break;
            if (b < ranges_[i].begin) fn(b, ranges_[i].begin);
            b = ranges_[i].end;
        }
        if (b < e) fn(b, e);
    }

    /// The SACKed range holding `s`, if any.
    [[nodiscard]] std::optional<seq_range> containing(wire::seq32 s) const noexcept {
        for (std::size_t i = 0; i < count_; ++i)
            if (!(s < ranges_[i].begin) && s < ranges_[i].end) return ranges_[i];
        return std::nullopt;
    }

    /// The start of the first SACKed range beginning after `s`, or `limit` if none does.
    [[nodiscard]] wire::seq32 next_sacked_after(wire::seq32 s, wire::seq32 limit) const noexcept {
        for (std::size_t i = 0; i < count_; ++i)
            if (s < ranges_[i].begin) return wire::seq_min(ranges_[i].begin, limit);
        return limit;
    }

    /// RFC 6675 section 4, IsLost(SeqNum): DupThresh discontiguous SACKed ranges lie above `s`,
    /// or more than (DupThresh - 1) * SMSS octets above it are SACKed.
    [[nodiscard]] bool is_lost(wire::seq32 s, std::uint32_t smss) const noexcept {
        std::uint32_t bytes = 0;
        unsigned above = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            if (!(s < ranges_[i].end)) continue;
            ++above;
            bytes += static_cast<std::uint32_t>(ranges_[i].end - wire::seq_max(ranges_[i].begin, s + 1));
        }
        return above >= dup_thresh || bytes > (dup_thresh - 1) * smss;
    }

private:
    void erase(std::size_t from, std::size_t to) noexcept {
        if (from >= to) return;
        const std::size_t gone = to - from;
        for (std::size_t i = to; i < count_; ++i) ranges_[i - gone] = ranges_[i];
        count_ -= gone;
    }

    std::unique_ptr<seq_range[]> ranges_; // max_ranges slots once allocated; sorted, disjoint, non-adjacent, non-empty
    std::size_t count_ = 0;
};

} // namespace corotcp::tcp
