// corotcp/link/memory_pipe.hpp: two links joined back to back, with seeded fault injection.
//
//        end_a()                                             end_b()
//   transmit ──► [ channel a_to_b: faults, bottleneck, delay ] ──► receive
//   receive  ◄── [ channel b_to_a: faults, bottleneck, delay ] ◄── transmit
//
// Each direction is a `pipe_channel` with its own fault configuration, random generator and
// counters. Packets travel by move: the bytes a stack transmits are the bytes the other receives,
// never copied (a duplicated packet is the one exception: the duplicate is a copy).
//
// What happens to a transmitted packet, in this order:
//   1. larger than the MTU                      -> dropped (dropped.mtu)
//   2. channel partitioned                      -> dropped (dropped.partition)
//   3. drop_next(n) budget left, or the filter
//      hook returns true                        -> dropped (dropped.filter)
//   4. uniform loss                             -> dropped (dropped.loss)
//   5. Gilbert-Elliott burst loss               -> dropped (dropped.burst_loss)
//   6. bandwidth limit: the packet joins the bottleneck queue; when the queue's bytes would exceed
//      queue_bytes it is tail-dropped (dropped.queue_full), otherwise it departs when its
//      serialization (size * 8 / bandwidth) ends, after everything queued before it
//   7. corruption: one random bit of the packet is flipped (corrupted)
//   8. duplication: a copy follows the packet (duplicated)
//   9. each copy becomes deliverable at departure + delay + jitter (jitter uniform in [0, jitter]);
//      unless jitter_may_reorder is set, a packet never becomes deliverable before one sent earlier
//  10. reordering: the packet is held back (reordered) until reorder_gap later packets have been
//      scheduled, then delivered right after the last of them; or, at the latest, reorder_hold after
//      it would have been delivered. reorder_gap = 0 makes reordering a pure extra delay.
//
// With the default configuration every step is a no-op, no random number is drawn, and a packet
// transmitted at `now` is received at the same `now`, in FIFO order.
//
// Determinism: all randomness comes from one xoshiro256** per direction, seeded from
// memory_pipe_config::seed; a draw is made only for a probability strictly between 0 and 1. The same
// seed, configuration and call sequence give the same delivery trace on every platform.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "corotcp/link/concept.hpp"
#include "corotcp/link/packet.hpp"
#include "corotcp/link/prng.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {

/// Returns true to drop the packet it is shown (the bytes as transmitted).
using packet_filter = std::function<bool(std::span<const std::uint8_t>)>;

/// Two-state Markov loss model. Before each packet the state may change (good->bad with
/// p_good_to_bad, bad->good with p_bad_to_good); the packet is then lost with the loss probability
/// of the current state. Mean burst length is 1 / p_bad_to_good; the long-run share of packets sent
/// in the bad state is p_good_to_bad / (p_good_to_bad + p_bad_to_good). Off by default.
struct gilbert_elliott {
    double p_good_to_bad = 0.0;
    double p_bad_to_good = 1.0;
    double loss_in_bad = 1.0;
    double loss_in_good = 0.0;

    [[nodiscard]] constexpr bool enabled() const noexcept { return p_good_to_bad > 0.0 || loss_in_good > 0.0; }
};

/// Faults applied to one direction of a pipe, in the order the pipeline applies them (see the top
/// of this header). Probabilities are per packet, in [0, 1]. The default is a perfect wire.
struct fault_config {
    double loss = 0.0;                   ///< uniform loss
    gilbert_elliott burst{};             ///< burst loss
    std::uint64_t bandwidth_bps = 0;     ///< bottleneck rate in bits per second; 0: unlimited
    std::size_t queue_bytes = 64 * 1024; ///< bottleneck queue, counting the packet being serialized
    double corrupt = 0.0;                ///< one random bit of the packet is flipped
    double duplicate = 0.0;              ///< the packet is delivered twice
    duration delay{};                    ///< fixed one-way propagation delay
    duration jitter{};                   ///< extra delay, uniform in [0, jitter] µs
    bool jitter_may_reorder = false;     ///< false: jitter never lets a packet overtake an earlier one
    double reorder = 0.0;                ///< the packet is held back behind later ones
    std::size_t reorder_gap = 1;         ///< how many later packets overtake a held one (0: only reorder_hold)
    duration reorder_hold = duration::millis(1); ///< longest a held packet waits beyond its time
};

struct memory_pipe_config {
    std::size_t mtu = 1500;     ///< both directions; larger packets are dropped
    std::uint64_t seed = 1;     ///< one seed for both directions (each gets its own stream)
    fault_config a_to_b{};
    fault_config b_to_a{};

    /// The same faults in both directions.
    [[nodiscard]] static memory_pipe_config symmetric(const fault_config& f, std::uint64_t seed = 1,
                                                      std::size_t mtu = 1500) {
        return memory_pipe_config{mtu, seed, f, f};
    }
};

struct pipe_drop_counters {
    std::uint64_t mtu = 0;
    std::uint64_t partition = 0;  ///< transmitted while partitioned, or in flight when partitioned
    std::uint64_t filter = 0;     ///< drop_next() and the filter hook
    std::uint64_t loss = 0;
    std::uint64_t burst_loss = 0;
    std::uint64_t queue_full = 0; ///< tail drop at the bandwidth bottleneck

    [[nodiscard]] constexpr std::uint64_t total() const noexcept {
        return mtu + partition + filter + loss + burst_loss + queue_full;
    }
    friend constexpr bool operator==(const pipe_drop_counters&, const pipe_drop_counters&) = default;
};

/// Per direction. sent + duplicated == delivered + dropped.total() + in_flight() at any time.
struct pipe_counters {
    std::uint64_t sent = 0;       ///< transmit() calls
    std::uint64_t delivered = 0;  ///< packets handed out by receive(), duplicates included
    std::uint64_t duplicated = 0; ///< extra copies made
    std::uint64_t corrupted = 0;  ///< packets with a flipped bit (a duplicate shares its original's)
    std::uint64_t reordered = 0;  ///< packets held back behind later ones
    pipe_drop_counters dropped{};

    friend constexpr bool operator==(const pipe_counters&, const pipe_counters&) = default;
};

/// One direction of a memory pipe. Tests reach it through memory_pipe::a_to_b()/b_to_a() or an
/// endpoint's tx()/rx() to change faults, read counters, partition, or drop chosen packets.
class pipe_channel {
public:
    pipe_channel(std::size_t mtu, const fault_config& faults, detail::splitmix64& seeder)
        : mtu_(mtu), faults_(faults), rng_(seeder) {}
    pipe_channel(const pipe_channel&) = delete;
    pipe_channel& operator=(const pipe_channel&) = delete;

    // --- control -------------------------------------------------------------------------------
    [[nodiscard]] std::size_t mtu() const noexcept { return mtu_; }
    /// Live configuration: changes apply to packets transmitted afterwards.
    [[nodiscard]] fault_config& faults() noexcept { return faults_; }
    [[nodiscard]] const fault_config& faults() const noexcept { return faults_; }
    [[nodiscard]] const pipe_counters& counters() const noexcept { return counters_; }
    /// Packets transmitted but not yet received (scheduled or held back).
    [[nodiscard]] std::size_t in_flight() const noexcept {
        return (fifo_.size() - fifo_head_) + queue_.size() + held_.size();
    }

    /// Drops the next `n` packets that reach step 3 (adds to any budget left).
    void drop_next(std::size_t n) noexcept { drop_next_ += n; }
    [[nodiscard]] std::size_t drops_pending() const noexcept { return drop_next_; }
    /// Installs (or, with an empty function, removes) the drop filter.
    void set_filter(packet_filter f) { filter_ = std::move(f); }

    /// Cuts the wire: what is in flight is lost, and everything transmitted until heal() is dropped.
    void partition() {
        partitioned_ = true;
        counters_.dropped.partition += in_flight();
        queue_.clear();
        fifo_.clear();
        fifo_head_ = 0;
        held_.clear();
        backlog_.clear();
        backlog_bytes_ = 0;
        busy_until_ = long_ago();
        last_at_ = long_ago();
    }
    void heal() noexcept { partitioned_ = false; }
    [[nodiscard]] bool partitioned() const noexcept { return partitioned_; }

    // --- data path (what the endpoints forward to) ------------------------------------------------
    void transmit(instant now, packet&& p) {
        ++counters_.sent;
        if (is_plain()) { // no fault of any kind configured: only the delay applies
            if (p.size() > mtu_) { ++counters_.dropped.mtu; return; }
            return schedule(now, std::move(p));
        }
        release_expired(now);
        auto& drops = counters_.dropped;
        if (p.size() > mtu_) { ++drops.mtu; return; }
        if (partitioned_) { ++drops.partition; return; }
        if (drop_next_ > 0) { --drop_next_; ++drops.filter; return; }
        if (filter_ && filter_(std::as_const(p).bytes())) { ++drops.filter; return; }
        if (rng_.chance(faults_.loss)) { ++drops.loss; return; }
        if (burst_loses()) { ++drops.burst_loss; return; }

        instant departs = now;
        if (faults_.bandwidth_bps > 0) {
            const auto done = serialize(now, p.size());
            if (!done) { ++drops.queue_full; return; }
            departs = *done;
        }
        if (!p.empty() && rng_.chance(faults_.corrupt)) {
            flip_random_bit(p);
            ++counters_.corrupted;
        }
        if (rng_.chance(faults_.duplicate)) {
            ++counters_.duplicated;
            packet copy = p;
            schedule(departs, std::move(p));
            schedule(departs, std::move(copy));
            return;
        }
        schedule(departs, std::move(p));
    }

    std::size_t receive(instant now, packet_batch& out) {
        release_expired(now);
        std::size_t n = 0;
        if (queue_.empty()) { // the usual case: everything in order
            while (fifo_head_ < fifo_.size() && fifo_[fifo_head_].at <= now) {
                out.push_back(std::move(fifo_[fifo_head_++].pkt));
                ++n;
            }
        } else {
            n = receive_merged(now, out);
        }
        if (fifo_head_ == fifo_.size()) { // drained: reuse the storage from the start
            fifo_.clear();
            fifo_head_ = 0;
        } else if (fifo_head_ >= 64 && fifo_head_ * 2 >= fifo_.size()) {
            fifo_.erase(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_head_));
            fifo_head_ = 0;
        }
        counters_.delivered += n;
        return n;
    }

    [[nodiscard]] instant poll_at() const noexcept {
        instant t = queue_.empty() ? instant::never() : queue_.front().at;
        if (fifo_head_ < fifo_.size()) t = earliest(t, fifo_[fifo_head_].at);
        for (const auto& h : held_) t = earliest(t, h.deadline);
        return t;
    }

private:
    // Delivers from the FIFO and the heap in (at, order) order.
    [[gnu::noinline]] std::size_t receive_merged(instant now, packet_batch& out) {
        std::size_t n = 0;
        for (;;) {
            const scheduled* f = fifo_head_ < fifo_.size() ? &fifo_[fifo_head_] : nullptr;
            const scheduled* h = queue_.empty() ? nullptr : &queue_.front();
            if (h != nullptr && (f == nullptr || later(*f, *h))) { // the heap holds the earliest
                if (h->at > now) break;
                std::pop_heap(queue_.begin(), queue_.end(), later);
                out.push_back(std::move(queue_.back().pkt));
                queue_.pop_back();
            } else if (f != nullptr) {
                if (f->at > now) break;
                out.push_back(std::move(fifo_[fifo_head_++].pkt));
            } else {
                break;
            }
            ++n;
        }
        return n;
    }

    struct scheduled {
        instant at;
        std::uint64_t order; // FIFO among packets deliverable at the same instant
        packet pkt;
    };
    struct held_back {
        packet pkt;
        instant at;       // when it would have been delivered
        instant deadline; // released at the latest then
        std::size_t overtakers_left;
    };

    // No loss, bottleneck, corruption, duplication, jitter or reordering, nothing held back, no
    // filter or partition: transmit() then only delays the packet (the same outcome as the full path,
    // which would find every one of these off).
    [[nodiscard]] bool is_plain() const noexcept {
        const fault_config& f = faults_;
        return f.loss <= 0.0 && f.bandwidth_bps == 0 && f.corrupt <= 0.0 && f.duplicate <= 0.0 && f.reorder <= 0.0 &&
               f.jitter.us == 0 && !f.burst.enabled() && held_.empty() && drop_next_ == 0 && !partitioned_ && !filter_;
    }

    // Min-heap order on (at, order).
    static bool later(const scheduled& x, const scheduled& y) noexcept {
        return x.at != y.at ? x.at > y.at : x.order > y.order;
    }
    static constexpr instant long_ago() noexcept { return instant{-instant::never().us}; }

    bool burst_loses() noexcept {
        const auto& g = faults_.burst;
        if (!g.enabled()) return false;
        if (bad_state_) {
            if (rng_.chance(g.p_bad_to_good)) bad_state_ = false;
        } else if (rng_.chance(g.p_good_to_bad)) {
            bad_state_ = true;
        }
        return rng_.chance(bad_state_ ? g.loss_in_bad : g.loss_in_good);
    }

    // The bottleneck: returns when the packet's last bit leaves, or nothing if the queue is full.
    std::optional<instant> serialize(instant now, std::size_t size) {
        while (!backlog_.empty() && backlog_.front().first <= now) {
            backlog_bytes_ -= backlog_.front().second;
            backlog_.pop_front();
        }
        if (backlog_bytes_ + size > faults_.queue_bytes) return std::nullopt;
        // Exact rational arithmetic: the remainder carries over so that rounding never drifts.
        const std::uint64_t bps = faults_.bandwidth_bps;
        const std::uint64_t numerator = static_cast<std::uint64_t>(size) * 8 * 1'000'000 + carry_;
        carry_ = numerator % bps;
        const instant start = std::max(now, busy_until_);
        busy_until_ = start + duration::micros(static_cast<std::int64_t>(numerator / bps));
        backlog_.emplace_back(busy_until_, size);
        backlog_bytes_ += size;
        return busy_until_;
    }

    void flip_random_bit(packet& p) noexcept {
        const std::uint64_t bit = rng_.below(static_cast<std::uint64_t>(p.size()) * 8);
        p.data()[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    }

    void schedule(instant departs, packet&& p) {
        instant at = departs + faults_.delay;
        if (faults_.jitter.us > 0) {
            at += duration::micros(static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(faults_.jitter.us) + 1)));
        }
        if (!faults_.jitter_may_reorder) at = std::max(at, last_at_);
        last_at_ = std::max(last_at_, at);
        if (rng_.chance(faults_.reorder)) {
            ++counters_.reordered;
            held_.push_back({std::move(p), at, at + faults_.reorder_hold, faults_.reorder_gap});
            return;
        }
        enqueue(at, std::move(p));
        release_overtaken(at);
    }

    // In order of delivery time (no jitter or reordering: every packet), a FIFO; else the heap.
    void enqueue(instant at, packet&& p) {
        if (fifo_head_ == fifo_.size() || fifo_.back().at <= at) {
            fifo_.push_back({at, next_order_++, std::move(p)});
            return;
        }
        queue_.push_back({at, next_order_++, std::move(p)});
        std::push_heap(queue_.begin(), queue_.end(), later);
    }

    // A packet was just scheduled at `at`: held packets it completes are released right behind it.
    void release_overtaken(instant at) {
        if (held_.empty()) return;
        auto keep = held_.begin();
        for (auto it = held_.begin(); it != held_.end(); ++it) {
            if (it->overtakers_left > 0 && --it->overtakers_left == 0) {
                enqueue(std::max(at, it->at), std::move(it->pkt));
            } else {
                if (keep != it) *keep = std::move(*it);
                ++keep;
            }
        }
        held_.erase(keep, held_.end());
    }

    void release_expired(instant now) {
        if (held_.empty()) return;
        auto keep = held_.begin();
        for (auto it = held_.begin(); it != held_.end(); ++it) {
            if (it->deadline <= now) {
                enqueue(it->deadline, std::move(it->pkt));
            } else {
                if (keep != it) *keep = std::move(*it);
                ++keep;
            }
        }
        held_.erase(keep, held_.end());
    }

    std::size_t mtu_;
    fault_config faults_;
    detail::xoshiro256ss rng_;
    pipe_counters counters_{};
    packet_filter filter_;
    std::size_t drop_next_ = 0;
    bool partitioned_ = false;
    bool bad_state_ = false;

    std::vector<scheduled> queue_; // heap: packets scheduled earlier than the FIFO's last
    std::vector<scheduled> fifo_;  // from fifo_head_ on: packets in order of (at, order)
    std::size_t fifo_head_ = 0;
    std::vector<held_back> held_;  // in hold order
    std::uint64_t next_order_ = 0;
    instant last_at_ = long_ago();

    std::deque<std::pair<instant, std::size_t>> backlog_; // (serialization end, bytes), in order
    std::size_t backlog_bytes_ = 0;
    instant busy_until_ = long_ago();
    std::uint64_t carry_ = 0;
};

namespace detail {
struct pipe_state {
    explicit pipe_state(const memory_pipe_config& c) : pipe_state(c, splitmix64(c.seed)) {}

private:
    pipe_state(const memory_pipe_config& c, splitmix64&& seeder)
        : a_to_b(c.mtu, c.a_to_b, seeder), b_to_a(c.mtu, c.b_to_a, seeder) {}

public:
    pipe_channel a_to_b; // seeded first: the first four splitmix64 outputs
    pipe_channel b_to_a; // the next four
};
} // namespace detail

/// One end of a memory pipe; models `link`. Cheap to move; both ends share the pipe's state.
class memory_pipe_end {
public:
    [[nodiscard]] std::size_t mtu() const noexcept { return tx().mtu(); }
    void transmit(instant now, packet&& p) { tx().transmit(now, std::move(p)); }
    std::size_t receive(instant now, packet_batch& out) { return rx().receive(now, out); }
    [[nodiscard]] instant poll_at() const noexcept { return rx().poll_at(); }

    /// The direction this end transmits into / receives from.
    [[nodiscard]] pipe_channel& tx() noexcept { return is_a_ ? state_->a_to_b : state_->b_to_a; }
    [[nodiscard]] const pipe_channel& tx() const noexcept { return is_a_ ? state_->a_to_b : state_->b_to_a; }
    [[nodiscard]] pipe_channel& rx() noexcept { return is_a_ ? state_->b_to_a : state_->a_to_b; }
    [[nodiscard]] const pipe_channel& rx() const noexcept { return is_a_ ? state_->b_to_a : state_->a_to_b; }

private:
    friend class memory_pipe;
    friend std::pair<memory_pipe_end, memory_pipe_end> make_memory_pipe(const memory_pipe_config&);
    memory_pipe_end(std::shared_ptr<detail::pipe_state> s, bool is_a) noexcept : state_(std::move(s)), is_a_(is_a) {}

    std::shared_ptr<detail::pipe_state> state_;
    bool is_a_;
};

static_assert(link<memory_pipe_end>);

/// A pipe as one object: owns both ends and offers whole-pipe controls.
class memory_pipe {
public:
    explicit memory_pipe(const memory_pipe_config& config = memory_pipe_config{})
        : a_(std::make_shared<detail::pipe_state>(config), true), b_(a_.state_, false) {}
    memory_pipe(const memory_pipe&) = delete; // one pipe, one owner; ends may be copied freely
    memory_pipe& operator=(const memory_pipe&) = delete;
    memory_pipe(memory_pipe&&) noexcept = default;
    memory_pipe& operator=(memory_pipe&&) noexcept = default;

    [[nodiscard]] memory_pipe_end& end_a() noexcept { return a_; }
    [[nodiscard]] memory_pipe_end& end_b() noexcept { return b_; }
    [[nodiscard]] pipe_channel& a_to_b() noexcept { return a_.state_->a_to_b; }
    [[nodiscard]] pipe_channel& b_to_a() noexcept { return a_.state_->b_to_a; }

    /// Both directions.
    void partition() { a_to_b().partition(); b_to_a().partition(); }
    void heal() noexcept { a_to_b().heal(); b_to_a().heal(); }
    [[nodiscard]] bool partitioned() const noexcept {
        return a_.state_->a_to_b.partitioned() || a_.state_->b_to_a.partitioned();
    }

    /// Earliest poll_at() of the two ends.
    [[nodiscard]] instant poll_at() const noexcept { return earliest(a_.poll_at(), b_.poll_at()); }

private:
    memory_pipe_end a_;
    memory_pipe_end b_;
};

/// `auto [a, b] = make_memory_pipe(config);` what a transmits b receives, and vice versa.
[[nodiscard]] inline std::pair<memory_pipe_end, memory_pipe_end> make_memory_pipe(
    const memory_pipe_config& config = memory_pipe_config{}) {
    auto state = std::make_shared<detail::pipe_state>(config);
    return {memory_pipe_end(state, true), memory_pipe_end(state, false)};
}

} // namespace corotcp
