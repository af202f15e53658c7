// corotcp/tcp/buffer.hpp: the buffer policy and the byte ring the TCB keeps its streams in.
//
// Contract of this header:
//  * `byte_storage` is where a ring's bytes live. Two models: `fixed_storage<N>` (an in-object array,
//    no heap ever, for embedded use) and `heap_storage` (runtime capacity, allocated on first use so an
//    idle connection costs only a pointer, returned by `release()`).
//  * A *buffer policy* names the storage of the send and the receive buffer. Users pick
//    `heap_buffers` (the default) or `static_buffers<Send, Recv>`.
//  * `ring_buffer<S>` is a FIFO of bytes over one storage. Besides append/read it offers what a TCP
//    engine needs without copying twice:
//      - `peek(offset, len)`: up to two contiguous pieces of unacknowledged send data, for
//        scatter-gather transmission (RFC 9293 3.8.1: retransmissions resend from snd.una);
//      - `consume(n)`: drop bytes from the front once they are acknowledged;
//      - `write_at(offset, ...)` + `commit(n)`: place out-of-order receive data in the free space
//        beyond the readable bytes, then make it readable once the hole before it is filled
//        (RFC 9293 3.10.7.4, "segment text": data beyond rcv.nxt may be held for later delivery).
//
// Nothing here allocates except `heap_storage::data()` the first time it is called after
// construction or `release()` (and then it first reuses a block this thread freed before).
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>

#include "corotcp/util/recycle.hpp"

namespace corotcp::tcp {

// ---------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------

/// Memory for one ring buffer.
///  * `S(requested_capacity)`: a model may ignore the request (fixed_storage does).
///  * `capacity()`: the number of usable bytes; constant for the object's lifetime.
///  * `data()`: pointer to `capacity()` bytes; may allocate on first call. Contents are
///    unspecified after `release()`.
///  * `data() const`: the same pointer, never allocates; may be null if nothing was ever allocated
///    (callers only dereference it when they have written bytes, which forced an allocation).
///  * `release()`: give memory back if the model can. Called when the buffer is empty and idle.
template <class S>
concept byte_storage = std::constructible_from<S, std::size_t> &&
    requires(S& s, const S& cs) {
        { cs.capacity() } noexcept -> std::same_as<std::size_t>;
        { s.data() } -> std::same_as<std::uint8_t*>;
        { cs.data() } noexcept -> std::same_as<const std::uint8_t*>;
        { s.release() } noexcept;
    };

/// N bytes inside the object itself: no heap, ever. The requested capacity is ignored.
template <std::size_t N>
class fixed_storage {
public:
    constexpr explicit fixed_storage(std::size_t /*requested_capacity*/ = N) noexcept {}
    /// The capacity an object made for `requested` bytes has (without making one).
    [[nodiscard]] static constexpr std::size_t capacity_for(std::size_t /*requested*/) noexcept { return N; }

    [[nodiscard]] constexpr std::size_t capacity() const noexcept { return N; }
    [[nodiscard]] constexpr std::uint8_t* data() noexcept { return bytes_.data(); }
    [[nodiscard]] constexpr const std::uint8_t* data() const noexcept { return bytes_.data(); }
    constexpr void release() noexcept {}

private:
    std::array<std::uint8_t, N> bytes_{};
};

static_assert(byte_storage<fixed_storage<1024>>);
static_assert(sizeof(fixed_storage<1024>) == 1024, "fixed_storage is exactly its array: no heap pointer");

/// Runtime capacity on the heap, allocated lazily by the first non-const `data()` and freed by
/// `release()`, so idle connections cost nothing but this object. Move-only.
/// Freed blocks are kept per thread for the next connection (util/recycle.hpp: up to four capacities
/// at a time, at most 8 MiB of each), so short connections neither call into the kernel for
/// memory nor fault fresh pages in.
class heap_storage {
public:
    explicit heap_storage(std::size_t requested_capacity) noexcept : capacity_(requested_capacity) {}
    /// The capacity an object made for `requested` bytes has (without making one).
    [[nodiscard]] static constexpr std::size_t capacity_for(std::size_t requested) noexcept { return requested; }

    heap_storage(heap_storage&& o) noexcept : capacity_(o.capacity_), bytes_(std::exchange(o.bytes_, nullptr)) {}
    heap_storage& operator=(heap_storage&& o) noexcept {
        if (this != &o) {
            release();
            capacity_ = o.capacity_;
            bytes_ = std::exchange(o.bytes_, nullptr);
        }
        return *this;
    }
    ~heap_storage() { release(); }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    /// Allocates `capacity()` bytes on first use (or first use after `release()`).
    /// Returns null only for a zero capacity.
    [[nodiscard]] std::uint8_t* data() {
        if (bytes_ == nullptr && capacity_ != 0) {
            const std::size_t list = find_list(capacity_);
            void* p = list < lists_count ? lists::take(list) : nullptr;
            bytes_ = static_cast<std::uint8_t*>(p != nullptr ? p : ::operator new(block_size()));
        }
        return bytes_;
    }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes_; }

    void release() noexcept {
        if (bytes_ == nullptr) return;
        if (!lists::give(claim_list(capacity_), bytes_, block_size(), 256, max_kept)) ::operator delete(bytes_);
        bytes_ = nullptr;
    }

    /// True if memory is currently held (for tests and the netstat snapshot).
    [[nodiscard]] bool allocated() const noexcept { return bytes_ != nullptr; }

    /// Blocks of `capacity` bytes this thread keeps for reuse (tests and memory figures).
    [[nodiscard]] static unsigned recycled(std::size_t capacity) noexcept {
        const std::size_t list = find_list(capacity);
        return list < lists_count ? lists::held(list) : 0;
    }

private:
    static constexpr std::size_t lists_count = 4;
    static constexpr std::size_t max_kept = std::size_t{8} << 20; // bytes per capacity
    using lists = corotcp::detail::free_lists<lists_count>;

    [[nodiscard]] std::size_t block_size() const noexcept { return std::max(capacity_, sizeof(void*)); }

    /// The capacity each of this thread's lists holds blocks of (0: unused).
    [[nodiscard]] static std::array<std::size_t, lists_count>& list_capacities() noexcept {
        static thread_local std::array<std::size_t, lists_count> capacities{};
        return capacities;
    }
    /// The list holding blocks of `capacity` bytes, or lists_count.
    [[nodiscard]] static std::size_t find_list(std::size_t capacity) noexcept {
        const auto& caps = list_capacities();
        for (std::size_t i = 0; i < lists_count; ++i)
            if (caps[i] == capacity) return i;
        return lists_count;
    }
    /// The list for `capacity`, taking an unused one or else the one claimed longest ago (whose
    /// blocks are freed): a program that moves on to other buffer sizes keeps recycling.
    [[nodiscard]] static std::size_t claim_list(std::size_t capacity) noexcept {
        if (const std::size_t i = find_list(capacity); i < lists_count) return i;
        auto& caps = list_capacities();
        static thread_local std::size_t next_victim = 0;
        std::size_t i = 0;
        while (i < lists_count && caps[i] != 0) ++i;
        if (i == lists_count) {
            i = next_victim;
            next_victim = (next_victim + 1) % lists_count;
            lists::drain(i);
        }
        caps[i] = capacity;
        return i;
    }

    std::size_t capacity_;
    std::uint8_t* bytes_ = nullptr;
};

static_assert(byte_storage<heap_storage>);

// ---------------------------------------------------------------------------------------------
// Buffer policies
// ---------------------------------------------------------------------------------------------

/// What a user picks: the storage for a connection's send and receive buffers.
template <class P>
concept buffer_policy = byte_storage<typename P::send_storage> && byte_storage<typename P::recv_storage>;

/// Heap-backed buffers whose sizes are chosen at run time (the default).
struct heap_buffers {
    using send_storage = heap_storage;
    using recv_storage = heap_storage;
};

/// Buffers of compile-time size inside the connection object: no heap on any path.
template <std::size_t Send, std::size_t Recv>
struct static_buffers {
    using send_storage = fixed_storage<Send>;
    using recv_storage = fixed_storage<Recv>;
};

static_assert(buffer_policy<heap_buffers>);
static_assert(buffer_policy<static_buffers<4096, 4096>>);

// ---------------------------------------------------------------------------------------------
// Ring buffer
// ---------------------------------------------------------------------------------------------

/// A byte FIFO over a `byte_storage`. Any capacity works (no power-of-two requirement).
///
///   storage:  [ free ... | head -> readable (size) | write_at area ... free ]   (wrapping)
///                        ^head_                    ^head_+size_ (the tail)
///
/// Offsets given to `peek` are relative to the front (head); offsets given to `write_at` are
/// relative to the tail. Bytes placed by `write_at` stay where they are across `read`/`consume`
/// (the head never jumps back), so out-of-order data survives the application draining the front.
template <byte_storage S>
class ring_buffer {
public:
    using storage_type = S;

    explicit ring_buffer(std::size_t capacity) : storage_(capacity) {}
    /// The capacity a ring made for `requested` bytes has: the storage's, when it says so without
    /// being made (both storages here do), else that of a storage made for the question.
    [[nodiscard]] static std::size_t capacity_for(std::size_t requested) {
        if constexpr (requires { S::capacity_for(requested); }) return S::capacity_for(requested);
        else return S(requested).capacity();
    }

    /// Moving leaves the source empty (a moved-from heap ring owns no memory).
    ring_buffer(ring_buffer&& o) noexcept
        : storage_(std::move(o.storage_)), head_(std::exchange(o.head_, 0)), size_(std::exchange(o.size_, 0)) {}
    ring_buffer& operator=(ring_buffer&& o) noexcept {
        storage_ = std::move(o.storage_);
        head_ = std::exchange(o.head_, 0);
        size_ = std::exchange(o.size_, 0);
        return *this;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return storage_.capacity(); }
    [[nodiscard]] std::size_t free_space() const noexcept { return capacity() - size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] bool full() const noexcept { return size_ == capacity(); }

    /// Appends as much of `src` as fits; returns the number of bytes appended.
    std::size_t write(std::span<const std::uint8_t> src) {
        const std::size_t n = write_at(0, src);
        size_ += n;
        return n;
    }

    /// Copies up to `dst.size()` bytes from the front into `dst` and consumes them; returns the count.
    std::size_t read(std::span<std::uint8_t> dst) noexcept {
        const auto pieces = peek(0, dst.size());
        std::size_t n = 0;
        for (const auto& p : pieces) {
            copy_bytes(dst.data() + n, p.data(), p.size());
            n += p.size();
        }
        consume(n);
        return n;
    }

    /// The bytes [offset, offset + len) counted from the front, clamped to `size()`, as up to two
    /// contiguous pieces (the second is empty unless the range wraps). Views are invalidated by any
    /// non-const call.
    [[nodiscard]] std::array<std::span<const std::uint8_t>, 2> peek(std::size_t offset, std::size_t len) const noexcept {
        if (offset >= size_) return {};
        len = std::min(len, size_ - offset);
        const std::size_t start = wrap(head_ + offset);
        const std::size_t first = std::min(len, capacity() - start);
        const std::uint8_t* base = storage_.data();
        return {std::span<const std::uint8_t>(base + start, first),
                std::span<const std::uint8_t>(base, len - first)};
    }

    /// Drops `n` bytes from the front (clamped to `size()`), e.g. once they are acknowledged.
    void consume(std::size_t n) noexcept {
        n = std::min(n, size_);
        head_ = wrap(head_ + n);
        size_ -= n;
    }

    /// Copies `src` into the free space starting `offset` bytes past the tail, WITHOUT changing
    /// `size()`: the bytes become readable only through `commit`. Clamped to the free space;
    /// returns the number of bytes written (0 if `offset >= free_space()`).
    /// If `src` already lies at its destination (a receive path that copied the bytes there while
    /// verifying their checksum, see `write_spans`), nothing is copied.
    [[gnu::always_inline]] std::size_t write_at(std::size_t offset, std::span<const std::uint8_t> src) {
        const std::size_t room = free_space();
        if (offset >= room || src.empty()) return 0;
        const std::size_t n = std::min(src.size(), room - offset);
        const std::size_t start = wrap(head_ + size_ + offset); // head_ < cap, size_+offset < cap
        const std::size_t first = std::min(n, capacity() - start);
        std::uint8_t* base = storage_.data();
        if (src.data() == base + start && first == n) return n; // already in place
        copy_bytes(base + start, src.data(), first);
        copy_bytes(base, src.data() + first, n - first);
        return n;
    }

    /// Extends the readable region by `n` bytes previously placed with `write_at` (or through
    /// `write_spans`). Precondition: n <= free_space(); clamped in release builds.
    void commit(std::size_t n) noexcept {
        assert(n <= free_space());
        size_ += std::min(n, free_space());
    }

    /// The free space past the tail as up to two writable pieces; fill them, then `commit`.
    /// Allocates heap storage if it is not yet allocated.
    [[nodiscard]] std::array<std::span<std::uint8_t>, 2> write_spans() {
        const std::size_t room = free_space();
        if (room == 0) return {};
        const std::size_t start = wrap(head_ + size_);
        const std::size_t first = std::min(room, capacity() - start);
        std::uint8_t* base = storage_.data();
        return {std::span<std::uint8_t>(base + start, first), std::span<std::uint8_t>(base, room - first)};
    }

    /// Drops all readable bytes (and, in effect, anything placed by `write_at`).
    void clear() noexcept {
        head_ = 0;
        size_ = 0;
    }

    /// If empty, returns the storage's memory (heap_storage frees it; fixed_storage does nothing)
    /// and resets the head so the next write starts contiguous. Returns true if the buffer was empty.
    /// CAUTION: bytes placed with `write_at` but not committed are lost; the caller must only call
    /// this when it tracks no out-of-order data (its reassembly queue is empty).
    bool release_if_empty() noexcept {
        if (size_ != 0) return false;
        head_ = 0;
        storage_.release();
        return true;
    }

    [[nodiscard]] const S& storage() const noexcept { return storage_; }

private:
    /// Maps an index in [0, 2*capacity) into [0, capacity) without a division.
    [[nodiscard]] std::size_t wrap(std::size_t i) const noexcept {
        const std::size_t cap = capacity();
        return i >= cap ? i - cap : i;
    }

    static void copy_bytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) noexcept {
        if (n != 0) std::copy_n(src, n, dst);
    }

    S storage_;
    std::size_t head_ = 0; // index of the first readable byte; invariant: head_ < capacity() or 0
    std::size_t size_ = 0; // readable bytes; invariant: size_ <= capacity()
};

} // namespace corotcp::tcp
