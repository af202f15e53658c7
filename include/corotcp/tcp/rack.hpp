// corotcp/tcp/rack.hpp: RACK loss detection (RFC 8985 6): when each range of the send sequence space
// was last transmitted, and what the most recent delivery says about the ranges sent before it.
//
// Two parts, both sans-IO and allocation-free:
//
//  * `xmit_log`: [SND.UNA, SND.MAX) as a run-length list of records {end, xmit time, flags}. A record
//    is a run of sequence space sent at one instant in sequence order (a burst from one poll is one
//    record; a retransmission is its own record), so the RFC's per-segment Segment.xmit_ts,
//    Segment.retransmitted and Segment.lost (RFC 8985 5.2) cost 12 bytes per run, not per segment.
//    Times are the low 32 bits of the microsecond clock, read back relative to `now` (exact while a
//    record is younger than 71 minutes; an older one only looks younger, which delays detection and
//    never causes a spurious one). At most `capacity` records: when one more is needed, the two
//    adjacent records closest in time merge (later time, flags combined), so the log degrades to
//    coarser runs instead of allocating; with the default buffers a flight rarely needs half of it.
//
//  * `rack`: the per-connection variables of RFC 8985 5.3 and the steps of 6.2 (upon an ACK) and
//    6.3 (upon the RTO). The TCB feeds it transmissions, newly delivered ranges (cumulatively or
//    selectively acknowledged), RTT samples and D-SACKs, and asks it to mark losses; what is SACKed is
//    always read from the scoreboard (scoreboard.hpp), never copied.
//
// Time ties: segments of one record left in sequence order, so within a record "sent after"
// compares end sequence numbers, as RACK_sent_after() does (RFC 8985 6.2 step 2). Across records,
// stamps follow transmission order strictly: a record started at the same microsecond as the
// previous one is stamped one microsecond later (with a virtual clock many polls share an instant,
// and a retransmission sent after new data must not look older than it by its lower sequence
// number). Stamps thus run at most a few microseconds ahead of the clock; a stamp ahead of `now`
// reads as age zero.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

#include "corotcp/tcp/scoreboard.hpp"
#include "corotcp/util/recycle.hpp"
#include "corotcp/util/time.hpp"
#include "corotcp/wire/seq.hpp"

namespace corotcp::tcp {

/// When each run of [SND.UNA, SND.MAX) was last sent (RFC 8985 6.1), and whether it was
/// retransmitted or is deemed lost. Records are contiguous: record i covers [end(i-1), end(i)).
class xmit_log {
public:
    static constexpr std::size_t capacity = 64;
    static constexpr std::uint8_t retransmitted = 1; ///< Segment.retransmitted
    static constexpr std::uint8_t lost = 2;          ///< Segment.lost: needs a retransmission

    /// A record as the TCB sees it.
    struct entry {
        wire::seq32 begin;
        wire::seq32 end;
        std::uint32_t sent = 0; ///< low 32 bits of the microsecond clock at its latest transmission
        std::uint8_t flags = 0;
        [[nodiscard]] bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
    };

    [[nodiscard]] static std::uint32_t stamp(instant t) noexcept { return static_cast<std::uint32_t>(t.us); }
    /// How long ago `sent` was, seen from `now` (zero for a stamp ahead of the clock).
    [[nodiscard]] static duration age(std::uint32_t sent, instant now) noexcept {
        const std::uint32_t d = stamp(now) - sent;
        return duration::micros(d > 0x7FFFFFFFu ? 0 : d);
    }

    /// Empties the log; the next transmission starts at `first`.
    void reset(wire::seq32 first) noexcept {
        begin_ = first;
        count_ = 0;
        issued_ = false;
    }

    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] wire::seq32 begin() const noexcept { return begin_; }
    [[nodiscard]] wire::seq32 end() const noexcept { return count_ == 0 ? begin_ : store_[count_ - 1].end; }
    [[nodiscard]] entry at(std::size_t i) const noexcept {
        return {i == 0 ? begin_ : store_[i - 1].end, store_[i].end, store_[i].sent, store_[i].flags};
    }

    /// [b, e) was transmitted at `now`. Beyond end() it is new data (joining the last record if that
    /// one left at the same instant and is an original transmission); below end() it is a
    /// retransmission: the range becomes one record, retransmitted and no longer lost.
    void on_send(wire::seq32 b, wire::seq32 e, instant now) {
        if (b < begin_) b = begin_;
        if (!(b < e)) return;
        // still the instant of the latest stamp: a transmission continuing that record's run joins it
        const bool same_instant = issued_ && static_cast<std::int32_t>(stamp(now) - last_) <= 0;
        const wire::seq32 old_end = end();
        if (b < old_end) {
            const wire::seq32 re = wire::seq_min(e, old_end);
            reserve(2);
            split(b);
            split(re);
            std::size_t i = index_starting_at(b);
            std::size_t j = i;
            while (j + 1 < count_ && store_[j].end < re) ++j;
            if (i > 0 && same_instant && store_[i - 1].sent == last_ && store_[i - 1].flags == retransmitted) {
                store_[i - 1].end = re; // the next piece of a run of retransmissions
                erase(i, j + 1);
            } else {
                store_[i] = {re, next_stamp(now), retransmitted};
                erase(i + 1, j + 1);
            }
            if (!(old_end < e)) return;
            b = old_end;
        }
        if (count_ > 0 && same_instant && store_[count_ - 1].sent == last_ && store_[count_ - 1].flags == 0) {
            store_[count_ - 1].end = e;
            return;
        }
        reserve(1);
        store_[count_] = {e, next_stamp(now), 0};
        ++count_;
    }

    /// SND.UNA moved to `una`: forgets everything below it.
    void advance(wire::seq32 una) noexcept {
        if (!(begin_ < una)) return;
        std::size_t gone = 0;
        while (gone < count_ && !(una < store_[gone].end)) ++gone;
        erase(0, gone);
        begin_ = una;
    }

    /// Makes `at` a record boundary (a free slot must exist: see reserve()).
    void split(wire::seq32 at) noexcept {
        for (std::size_t i = 0; i < count_; ++i) {
            const wire::seq32 b = i == 0 ? begin_ : store_[i - 1].end;
            if (!(at < store_[i].end)) continue;
            if (!(b < at) || count_ == capacity) return;
            for (std::size_t k = count_; k > i; --k) store_[k] = store_[k - 1];
            ++count_;
            store_[i].end = at;
            return;
        }
    }

    void set_flags(std::size_t i, std::uint8_t f) noexcept { store_[i].flags = f; }

    /// Frees slots until `n` more records fit, merging the adjacent pair closest in time (preferring
    /// pairs with equal flags); the merged record takes the later time, so nothing in it is ever
    /// taken as sent earlier than it was (RACK then errs toward later detection), and is lost only
    /// if both parts were.
    void reserve(std::size_t n) {
        if (store_ && count_ + n <= capacity) return; // the usual case, inline
        make_room(n);
    }

private:
    [[gnu::noinline]] void make_room(std::size_t n) {
        if (!store_) { // first transmission: see store_
            // No initialization: a record at or beyond count_ is written whole before it is read
            // (zeroing all 64 cost 1 % of a short connection). Starting a byte array's lifetime
            // creates the records, an implicit-lifetime type, in the (possibly recycled) block.
            constexpr std::size_t bytes = sizeof(record) * capacity;
            auto* p = std::launder(reinterpret_cast<record*>(new (store_pool::allocate(bytes)) std::byte[bytes]));
            store_.reset(p);
        }
        while (count_ + n > capacity && count_ >= 2) {
            std::size_t best = 0;
            std::uint64_t best_cost = ~std::uint64_t{0};
            for (std::size_t i = 0; i + 1 < count_; ++i) {
                const auto d = static_cast<std::int32_t>(store_[i + 1].sent - store_[i].sent);
                std::uint64_t cost = d < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(d)) : static_cast<std::uint64_t>(d);
                if (store_[i].flags != store_[i + 1].flags) cost += std::uint64_t{1} << 33;
                if (cost < best_cost) {
                    best_cost = cost;
                    best = i;
                }
            }
            record& a = store_[best];
            const record& b = store_[best + 1];
            if (static_cast<std::int32_t>(b.sent - a.sent) > 0) a.sent = b.sent;
            // Retransmitted if either part was; lost only if both were. Marking the merged whole
            // lost would resend its good part, and after that resend the next merge could mark it
            // lost again: with a full log that repeated forever at one instant (a livelock found by
            // sim_bench). A lost part merged into a good one waits for RACK's next verdict or the RTO.
            const bool both_lost = (a.flags & lost) != 0 && (b.flags & lost) != 0;
            a.flags = static_cast<std::uint8_t>(((a.flags | b.flags) & ~lost) | (both_lost ? lost : 0));
            a.end = b.end;
            erase(best + 1, best + 2);
        }
    }

    struct record {
        wire::seq32 end;
        std::uint32_t sent = 0;
        std::uint8_t flags = 0;
    };
    static_assert(std::is_aggregate_v<record> && std::is_trivially_destructible_v<record>); // implicit-lifetime

    /// A stamp for a new record: the clock, or one past the latest stamp if the clock has not
    /// moved past it (so stamps follow transmission order).
    std::uint32_t next_stamp(instant now) noexcept {
        const std::uint32_t t = stamp(now);
        last_ = issued_ && static_cast<std::int32_t>(t - last_) <= 0 ? last_ + 1 : t;
        issued_ = true;
        return last_;
    }

    [[nodiscard]] std::size_t index_starting_at(wire::seq32 s) const noexcept {
        if (s == begin_) return 0;
        for (std::size_t i = 0; i + 1 < count_; ++i)
            if (store_[i].end == s) return i + 1;
        return count_;
    }

    void erase(std::size_t from, std::size_t to) noexcept {
        if (from >= to) return;
        const std::size_t gone = to - from;
        for (std::size_t i = to; i < count_; ++i) store_[i - gone] = store_[i];
        count_ -= gone;
    }

    /// The records, allocated by the first transmission (reserve()) and kept for the connection's
    /// life: a connection that never sends data holds a null pointer, not 768 bytes.
    struct store_tag {};
    using store_pool = corotcp::detail::block_pool<store_tag>;
    struct store_release {
        void operator()(record* p) const noexcept { store_pool::deallocate(p, sizeof(record) * capacity); }
    };
    std::unique_ptr<record[], store_release> store_;
    std::size_t count_ = 0;
    wire::seq32 begin_;
    std::uint32_t last_ = 0; ///< the latest stamp issued
    bool issued_ = false;
};

/// RACK (RFC 8985 6): the most recently sent delivered segment, the reordering window, and the loss
/// marks it puts on the transmission log.
class rack {
public:
    /// RFC 8985 6.2 step 4: a D-SACK raises the window for this many recoveries.
    static constexpr int reo_wnd_persist_max = 16;
    /// The span of the windowed minimum RTT filter (Linux's tcp_min_rtt_wlen: 300 s).
    static constexpr duration min_rtt_window = duration::seconds(300);

    /// Forgets everything; the first data byte will be `first`.
    void reset(wire::seq32 first) noexcept {
        *this = rack{};
        log_.reset(first);
        fack_ = fack_before_ = first;
    }

    // ------------------------------------------------------------------ transmissions (6.1)

    void on_send(wire::seq32 b, wire::seq32 e, instant now) { log_.on_send(b, e, now); }
    /// SND.UNA advanced; also ends the D-SACK round it reaches (6.2 step 4).
    void on_una(wire::seq32 una) noexcept {
        log_.advance(una);
        if (dsack_round_ && !(una < *dsack_round_)) dsack_round_.reset();
    }

    // ------------------------------------------------------------------ an ACK (6.2)

    /// Step 1: RACK.min_RTT, a windowed minimum of the RFC 6298 / RFC 7323 samples.
    void on_rtt_sample(duration r, instant now) noexcept {
        if (!min_rtt_ || r <= *min_rtt_ || now - min_rtt_stamp_ > min_rtt_window) {
            min_rtt_ = r;
            min_rtt_stamp_ = now;
        }
    }

    /// Call once per ACK, before its newly delivered ranges: step 3 compares each of them with the
    /// highest sequence delivered before this ACK (which equals the RFC's per-segment loop in
    /// ascending order).
    void begin_ack() noexcept {
        fack_before_ = fack_;
        ack_newest_valid_ = false;
    }

    /// After the ACK's deliveries: the age of the most recently sent, never retransmitted segment
    /// it newly delivered (Linux's ca_rtt_us, the RTT sample congestion control gets), if any.
    [[nodiscard]] std::optional<duration> ack_rtt(instant now) const noexcept {
        if (!ack_newest_valid_) return std::nullopt;
        return xmit_log::age(ack_newest_, now);
    }

    /// Steps 2 and 3 for [b, e), newly delivered (cumulatively or selectively). `echo_ms` is the
    /// ACK's TSecr mapped onto our millisecond clock (nullopt without timestamps): it tells an ACK of
    /// an original transmission from one of its retransmission (step 2).
    [[gnu::always_inline]] void on_delivered(wire::seq32 b, wire::seq32 e, instant now, std::optional<std::uint32_t> echo_ms) noexcept {
        for (std::size_t i = 0; i < log_.size(); ++i) {
            const auto r = log_.at(i);
            if (!(b < r.end)) continue;
            if (!(r.begin < e)) break;
            const wire::seq32 piece_end = wire::seq_min(r.end, e);
            note_delivered(r, piece_end, now, echo_ms);
        }
    }

    /// Step 4, first half: a D-SACK (RFC 2883) on this ACK widens the window once per round trip.
    /// A D-SACK also means an original arrived after its retransmission was sent: reordering (the
    /// retransmission hid it from step 3), so the window stops being zero (Linux likewise counts a
    /// D-SACKed retransmission as reordering).
    void on_dsack(wire::seq32 snd_max) noexcept {
        reordering_seen_ = true;
        if (dsack_round_) return;
        dsack_round_ = snd_max;
        if (reo_wnd_mult_ < 255) ++reo_wnd_mult_;
        reo_wnd_persist_ = reo_wnd_persist_max;
    }
    /// Step 4: leaving fast or RTO recovery counts down the D-SACK widening.
    void on_recovery_exit() noexcept {
        if (--reo_wnd_persist_ <= 0) {
            reo_wnd_persist_ = 0;
            reo_wnd_mult_ = 1;
        }
    }

    /// Step 4, RACK_update_reo_wnd(): zero while no reordering was seen and the sender is in
    /// recovery or DupThresh segments are SACKed (so RACK starts recovery as quickly as the DupAck
    /// rule would); otherwise reo_wnd_mult * min_RTT / 4, at most SRTT.
    [[nodiscard]] duration reo_wnd(bool in_recovery, bool dupthresh_sacked, duration srtt) const noexcept {
        if (!reordering_seen_ && (in_recovery || dupthresh_sacked)) return duration::zero();
        const duration base = min_rtt_.value_or(duration::zero());
        return std::min(duration::micros(base.us * reo_wnd_mult_ / 4), srtt);
    }

    /// What a loss detection pass found.
    struct detection {
        unsigned newly_lost = 0;      ///< records marked lost by this pass
        std::optional<duration> wait; ///< arm the RACK reorder timer this far ahead
    };

    /// Step 5, RACK_detect_loss(): every range sent before the RACK segment, not SACKed, and older
    /// than RACK.rtt + reo_wnd is lost; for the younger ones, how long until they would be.
    detection detect_loss(instant now, duration reo_wnd, const sack_scoreboard& board) noexcept {
        detection d;
        if (!delivered_ || log_.empty()) return d; // nothing outstanding: nothing to find
        log_.reserve(1); // at most one record straddles RACK.end_seq and must be split
        for (std::size_t i = 0; i < log_.size(); ++i) {
            const auto r = log_.at(i);
            if (r.has(xmit_log::lost)) continue;
            const auto later = static_cast<std::int32_t>(xmit_ts_ - r.sent); // > 0: r left before RACK's
            wire::seq32 cand = r.end;
            if (later < 0 || (later == 0 && !(r.begin < end_seq_))) continue;
            if (later == 0) cand = wire::seq_min(r.end, end_seq_);
            if (board.sacked_in(r.begin, cand) == static_cast<std::uint32_t>(cand - r.begin)) continue;
            const std::int64_t remaining = rtt_.us + reo_wnd.us - xmit_log::age(r.sent, now).us;
            if (remaining > 0) {
                d.wait = duration::micros(std::max(remaining, d.wait.value_or(duration::zero()).us));
                continue;
            }
            if (cand < r.end) log_.split(cand);
            if (log_.at(i).end == cand) {
                log_.set_flags(i, static_cast<std::uint8_t>(r.flags | xmit_log::lost));
                ++d.newly_lost;
            }
        }
        return d;
    }

    /// RFC 8985 6.3, RACK_mark_losses_on_RTO(): the segment at SND.UNA and every range older than
    /// RACK.rtt + reo_wnd (unless wholly SACKed) are lost.
    void mark_lost_on_rto(instant now, duration reo_wnd, const sack_scoreboard& board) noexcept {
        for (std::size_t i = 0; i < log_.size(); ++i) {
            const auto r = log_.at(i);
            if (board.sacked_in(r.begin, r.end) == static_cast<std::uint32_t>(r.end - r.begin)) continue;
            const bool expired = xmit_log::age(r.sent, now).us >= rtt_.us + reo_wnd.us;
            if (i == 0 || expired) log_.set_flags(i, static_cast<std::uint8_t>(r.flags | xmit_log::lost));
        }
    }

    // ------------------------------------------------------------------ what is lost, what is in flight

    /// The first range marked lost and not SACKed, at most `max_len` long (RFC 6675 NextSeg rule 1
    /// with RACK's marks as IsLost).
    [[nodiscard]] std::optional<seq_range> first_lost(const sack_scoreboard& board, std::uint32_t max_len) const noexcept {
        for (std::size_t i = 0; i < log_.size(); ++i) {
            const auto r = log_.at(i);
            if (!r.has(xmit_log::lost)) continue;
            wire::seq32 s = r.begin;
            while (s < r.end) {
                if (const auto sacked = board.containing(s)) {
                    s = sacked->end;
                    continue;
                }
                const wire::seq32 stop = board.next_sacked_after(s, r.end);
                return seq_range{s, s + std::min(max_len, static_cast<std::uint32_t>(stop - s))};
            }
        }
        return std::nullopt;
    }

    [[nodiscard]] bool any_lost(const sack_scoreboard& board) const noexcept {
        return first_lost(board, 1).has_value();
    }

    /// RFC 6675 SetPipe with RACK's marks: the unSACKed octets whose latest transmission is not
    /// deemed lost (each counted once: the latest copy is the one in flight).
    [[nodiscard]] std::uint32_t pipe(const sack_scoreboard& board) const noexcept {
        std::uint32_t n = 0;
        for (std::size_t i = 0; i < log_.size(); ++i) {
            const auto r = log_.at(i);
            if (r.has(xmit_log::lost)) continue;
            n += static_cast<std::uint32_t>(r.end - r.begin) - board.sacked_in(r.begin, r.end);
        }
        return n;
    }

    // ------------------------------------------------------------------ observers

    [[nodiscard]] const xmit_log& log() const noexcept { return log_; }
    [[nodiscard]] bool reordering_seen() const noexcept { return reordering_seen_; }
    [[nodiscard]] unsigned reo_wnd_mult() const noexcept { return reo_wnd_mult_; }
    [[nodiscard]] std::optional<duration> min_rtt() const noexcept { return min_rtt_; }
    /// RACK.rtt: the RTT of the most recently sent delivered segment.
    [[nodiscard]] duration rtt() const noexcept { return rtt_; }
    /// RACK.end_seq, once something was delivered.
    [[nodiscard]] std::optional<wire::seq32> end_seq() const noexcept {
        return delivered_ ? std::optional<wire::seq32>(end_seq_) : std::nullopt;
    }
    /// RACK.fack: the highest sequence number delivered.
    [[nodiscard]] wire::seq32 fack() const noexcept { return fack_; }

private:
    /// Steps 2 and 3 for one newly delivered piece of record `r`, ending at `piece_end`.
    void note_delivered(const xmit_log::entry& r, wire::seq32 piece_end, instant now,
                        std::optional<std::uint32_t> echo_ms) noexcept {
        // step 3: delivered below what was delivered before, and never retransmitted: reordering
        if (fack_ < piece_end) fack_ = piece_end;
        if (piece_end < fack_before_ && !r.has(xmit_log::retransmitted)) reordering_seen_ = true;
        // step 2: an ACK of a retransmitted range may be for the original (RFC 8985 6.2: skip it
        // if the echoed timestamp predates the retransmission, or the RTT is implausibly short)
        const duration rtt = xmit_log::age(r.sent, now);
        if (r.has(xmit_log::retransmitted)) {
            const auto sent_ms = static_cast<std::uint32_t>((now - rtt).us / 1000);
            if (echo_ms && static_cast<std::int32_t>(*echo_ms - sent_ms) < 0) return;
            if (min_rtt_ && rtt < *min_rtt_) return;
        } else if (!ack_newest_valid_ || static_cast<std::int32_t>(r.sent - ack_newest_) > 0) {
            ack_newest_valid_ = true; // (ack_rtt: only never-retransmitted ranges give a sample)
            ack_newest_ = r.sent;
        }
        const auto later = static_cast<std::int32_t>(r.sent - xmit_ts_);
        if (delivered_ && (later < 0 || (later == 0 && !(end_seq_ < piece_end)))) return;
        delivered_ = true;
        xmit_ts_ = r.sent;
        end_seq_ = piece_end;
        rtt_ = rtt;
    }

    xmit_log log_;
    // RFC 8985 5.3
    bool delivered_ = false;        ///< RACK.xmit_ts / end_seq / rtt are set
    bool ack_newest_valid_ = false; ///< this ACK delivered a never-retransmitted range
    std::uint32_t xmit_ts_ = 0;     ///< RACK.xmit_ts (low 32 bits of the microsecond clock)
    wire::seq32 end_seq_;           ///< RACK.end_seq
    std::uint32_t ack_newest_ = 0;  ///< the latest send time among those (as xmit_ts_)
    duration rtt_ = duration::zero(); ///< RACK.rtt
    wire::seq32 fack_;              ///< RACK.fack: the highest sequence number delivered
    wire::seq32 fack_before_;       ///< RACK.fack before the ACK being processed
    std::optional<duration> min_rtt_; ///< RACK.min_RTT
    instant min_rtt_stamp_;
    bool reordering_seen_ = false;  ///< RACK.reordering_seen
    std::optional<wire::seq32> dsack_round_; ///< RACK.dsack_round
    unsigned reo_wnd_mult_ = 1;     ///< RACK.reo_wnd_mult
    int reo_wnd_persist_ = 0;       ///< RACK.reo_wnd_persist
};

} // namespace corotcp::tcp
