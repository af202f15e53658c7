// corotcp/async/timer_wheel.hpp: a hierarchical timer wheel with O(1) insert and cancel.
//
// Time is counted in ticks of one microsecond. The wheel has 11 levels of 64 slots; level L slot s
// covers 64^L ticks. A node lives at the level of the highest base-64 digit in which its deadline
// differs from the wheel's position `current_`, in the slot named by that digit:
//
//     deadline = ...|d3|d2|d1|d0     current = ...|d3|c2|c1|c0    (d2 > c2)  =>  level 2, slot d2
//
// so every node at level L is later than every node at a level below L, and within a level the
// lowest occupied slot (a 64-bit bitmap per level, found with countr_zero) is the earliest. Advancing
// moves the position to the start of the earliest due slot and either fires it (level 0: all its
// nodes are due at exactly that tick) or re-inserts its nodes, which land on lower levels
// ("cascading"). A node is cascaded at most once per level. Nodes are appended to slot lists and
// cascaded in list order, so nodes with equal deadlines fire in the order they were inserted.
//
// next_expiry() is exact when the earliest node is at level 0 or sits in a short slot; otherwise it
// is the start of the earliest slot, a lower bound: waiting until then and advancing cascades that
// slot, after which the next answer is closer. Waking up early is harmless, never late.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "corotcp/async/timer_node.hpp"
#include "corotcp/util/time.hpp"

namespace corotcp {

class timer_wheel {
public:
    static constexpr unsigned slot_bits = 6;
    static constexpr unsigned slots_per_level = 1U << slot_bits;
    static constexpr unsigned levels = 11; // 11 * 6 = 66 bits >= 64-bit ticks
    /// Slots longer than this make next_expiry() answer with the slot start instead of scanning.
    static constexpr unsigned exact_scan_limit = 8;

    explicit timer_wheel(instant start = instant{}) noexcept : current_(to_tick(start)) {
        for (auto& head : heads_) head.prev = head.next = &head;
        due_.prev = due_.next = &due_;
    }
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;
    ~timer_wheel() { clear(); }

    /// Arms `node` for `deadline` (re-arms it if it was linked). A deadline in the past fires at the
    /// next advance(). A deadline of instant::never() is recorded but not linked: it never fires.
    void insert(timer_node& node, instant deadline) noexcept {
        erase(node);
        node.deadline = deadline;
        if (deadline.is_never()) return;
        link(node, slot_for(to_tick(deadline)));
        ++size_;
    }

    /// Disarms `node`; a no-op if it is not linked.
    void erase(timer_node& node) noexcept {
        if (!node.linked()) return;
        unlink(node);
        if (node.slot != due_slot) {
            detail::timer_link& head = heads_[node.slot];
            if (head.next == &head) occupied_[node.slot / slots_per_level] &= ~bit(node.slot % slots_per_level);
        }
        --size_;
    }

    /// The earliest deadline, or a lower bound of it (see the header comment); never() if empty.
    [[nodiscard]] instant next_expiry() const noexcept {
        if (size_ == 0) return instant::never(); // the usual case between packets: nothing armed
        for (unsigned level = 0; level < levels; ++level) {
            if (occupied_[level] == 0) continue;
            const auto slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
            const std::uint64_t start = slot_start(level, slot);
            if (level == 0) return from_tick(start);
            return exact_or(heads_[level * slots_per_level + slot], from_tick(start));
        }
        return instant::never();
    }

    /// Moves the position to `now` and fires (unlinks, then calls on_expire of) every node due at or
    /// before it, earliest first, equal deadlines in insertion order. Returns how many fired.
    std::size_t advance(instant now) {
        const std::uint64_t target = to_tick(now);
        if (size_ == 0) { // nothing armed (nor due): just move
            if (target > current_) current_ = target;
            return 0;
        }
        for (;;) {
            unsigned level = 0;
            while (level < levels && occupied_[level] == 0) ++level;
            if (level == levels) break;
            const auto slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
            const std::uint64_t start = slot_start(level, slot);
            if (start > target) break;
            current_ = start;
            take_slot(level, slot);
        }
        if (target > current_) current_ = target;
        return fire_due();
    }

    /// Number of linked nodes.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// The wheel's position: everything before it has fired.
    [[nodiscard]] instant position() const noexcept { return from_tick(current_); }

    /// Unlinks every node without firing it.
    void clear() noexcept {
        for (auto& head : heads_) drop_all(head);
        drop_all(due_);
        occupied_ = {};
        size_ = 0;
    }

private:
    static constexpr std::uint16_t due_slot = 0xffff;
    static constexpr std::uint64_t sign_flip = std::uint64_t{1} << 63;

    // Order-preserving map from signed microseconds to unsigned ticks.
    [[nodiscard]] static constexpr std::uint64_t to_tick(instant t) noexcept {
        return static_cast<std::uint64_t>(t.us) ^ sign_flip;
    }
    [[nodiscard]] static constexpr instant from_tick(std::uint64_t tick) noexcept {
        return instant{static_cast<std::int64_t>(tick ^ sign_flip)};
    }
    [[nodiscard]] static constexpr std::uint64_t bit(unsigned slot) noexcept { return std::uint64_t{1} << slot; }

    // First tick covered by `slot` of `level`, given the current position.
    [[nodiscard]] std::uint64_t slot_start(unsigned level, unsigned slot) const noexcept {
        const unsigned above = slot_bits * (level + 1);
        const std::uint64_t prefix = above >= 64 ? 0 : (current_ >> above) << above;
        return prefix | (std::uint64_t{slot} << (slot_bits * level));
    }

    // Index (level * 64 + slot) for a deadline, relative to the current position.
    [[nodiscard]] std::uint16_t slot_for(std::uint64_t tick) const noexcept {
        if (tick <= current_) return static_cast<std::uint16_t>(current_ % slots_per_level);
        const auto top_bit = static_cast<unsigned>(63 - std::countl_zero(tick ^ current_));
        const unsigned level = top_bit / slot_bits;
        const auto slot = static_cast<unsigned>((tick >> (slot_bits * level)) % slots_per_level);
        return static_cast<std::uint16_t>(level * slots_per_level + slot);
    }

    void link(timer_node& node, std::uint16_t index) noexcept {
        detail::timer_link& head = heads_[index];
        append(head, node);
        node.slot = index;
        occupied_[index / slots_per_level] |= bit(index % slots_per_level);
    }

    static void append(detail::timer_link& head, detail::timer_link& node) noexcept {
        node.prev = head.prev;
        node.next = &head;
        head.prev->next = &node;
        head.prev = &node;
    }
    static void unlink(detail::timer_link& node) noexcept {
        node.prev->next = node.next;
        node.next->prev = node.prev;
        node.prev = node.next = nullptr;
    }
    static void drop_all(detail::timer_link& head) noexcept {
        while (head.next != &head) unlink(*head.next);
    }

    // Empties one slot whose start is the new position: level 0 nodes are due, others cascade.
    void take_slot(unsigned level, unsigned slot) noexcept {
        detail::timer_link& head = heads_[level * slots_per_level + slot];
        occupied_[level] &= ~bit(slot);
        while (head.next != &head) {
            auto& node = static_cast<timer_node&>(*head.next);
            unlink(node);
            if (level == 0) {
                append(due_, node);
                node.slot = due_slot;
            } else {
                link(node, slot_for(to_tick(node.deadline)));
            }
        }
    }

    std::size_t fire_due() {
        std::size_t fired = 0;
        while (due_.next != &due_) {
            auto& node = static_cast<timer_node&>(*due_.next);
            unlink(node);
            --size_;
            ++fired;
            node.on_expire.wake(); // may erase other due nodes or insert new ones: both are fine
        }
        return fired;
    }

    static instant exact_or(const detail::timer_link& head, instant fallback) noexcept {
        instant earliest_deadline = instant::never();
        unsigned seen = 0;
        for (const detail::timer_link* l = head.next; l != &head; l = l->next) {
            if (++seen > exact_scan_limit) return fallback;
            earliest_deadline = earliest(earliest_deadline, static_cast<const timer_node*>(l)->deadline);
        }
        return earliest_deadline;
    }

    std::uint64_t current_;
    std::array<std::uint64_t, levels> occupied_{};
    std::array<detail::timer_link, levels * slots_per_level> heads_{};
    detail::timer_link due_;
    std::size_t size_ = 0;
};

} // namespace corotcp
