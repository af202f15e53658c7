// corotcp/link/packet.hpp: one IPv4 datagram as it crosses a link.
//
// A packet owns its bytes (the IP header first, no link-layer framing). It is built on a
// std::vector of bytes so that:
//   * moving a packet is a pointer swap: links hand packets along by move, never by copy;
//   * a packet that is cleared or resized smaller keeps its capacity, so a caller that recycles
//     packets (receive into a batch, process, clear, reuse) stops allocating once warmed up.
//   * `resize_for_overwrite` grows it without zeroing bytes the caller is about to write (the
//     zeroing was 2 % of the bulk profile).
// Copying is allowed but explicit in intent: use `packet::copy_of(bytes)` or the copy constructor.
//
// TCP segmentation offload (TSO): a packet with gso_size() > 0 is a TCP "super-segment": one IPv4
// and TCP header and a payload of several segments of gso_size bytes (the MSS; the last may be
// shorter), which the link (the kernel, for TUN) cuts into ordinary segments, copying the headers
// and advancing the sequence number. Only a link that says it can (tso_link: tso_max() > 0) is ever
// handed one; everywhere else gso_size() is 0 and a packet is exactly one datagram.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace corotcp {

namespace detail {
/// std::allocator, except that elements created without a value are left uninitialized.
template <class T>
struct uninitialized_allocator : std::allocator<T> {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = uninitialized_allocator<U>;
    };
    uninitialized_allocator() noexcept = default;
    template <class U>
    uninitialized_allocator(const uninitialized_allocator<U>&) noexcept {} // NOLINT: converting, as std::allocator
    template <class U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U; // default-initialization: no zeroing
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
} // namespace detail

class packet {
public:
    using storage_type = std::vector<std::uint8_t, detail::uninitialized_allocator<std::uint8_t>>;

    packet() noexcept = default;
    /// A packet of `size` zero bytes.
    explicit packet(std::size_t size) : bytes_(size, std::uint8_t{0}) {}
    /// A packet holding a copy of `bytes` (tests build packets this way).
    explicit packet(const std::vector<std::uint8_t>& bytes) : bytes_(bytes.begin(), bytes.end()) {}
    /// Takes ownership of `bytes` without copying them.
    explicit packet(storage_type&& bytes) noexcept : bytes_(std::move(bytes)) {}

    packet(const packet&) = default;
    packet& operator=(const packet&) = default;
    /// Moving leaves the source an empty ordinary packet (gso_size 0), ready for reuse.
    packet(packet&& o) noexcept : bytes_(std::move(o.bytes_)), gso_size_(std::exchange(o.gso_size_, 0)) {}
    packet& operator=(packet&& o) noexcept {
        bytes_ = std::move(o.bytes_);
        gso_size_ = std::exchange(o.gso_size_, 0);
        return *this;
    }
    ~packet() = default;

    /// A packet holding a copy of `bytes`.
    [[nodiscard]] static packet copy_of(std::span<const std::uint8_t> bytes) {
        return packet(storage_type(bytes.begin(), bytes.end()));
    }

    [[nodiscard]] std::uint8_t* data() noexcept { return bytes_.data(); }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return bytes_.capacity(); }

    [[nodiscard]] std::span<std::uint8_t> bytes() noexcept { return bytes_; }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

    /// Grows with zero bytes or shrinks; shrinking keeps the capacity.
    void resize(std::size_t n) { bytes_.resize(n, std::uint8_t{0}); }
    /// Grows with bytes of unspecified value (for a caller that writes them all) or shrinks.
    void resize_for_overwrite(std::size_t n) { bytes_.resize(n); }
    void reserve(std::size_t n) { bytes_.reserve(n); }
    /// Empties the packet and keeps its capacity for reuse.
    void clear() noexcept {
        bytes_.clear();
        gso_size_ = 0;
    }

    /// TSO: the payload size of the segments this super-segment is to be cut into; 0 for an
    /// ordinary packet.
    [[nodiscard]] std::uint16_t gso_size() const noexcept { return gso_size_; }
    void set_gso_size(std::uint16_t n) noexcept { gso_size_ = n; }

    /// Gives the storage away (e.g. to an I/O layer that wants a vector); the packet is left empty.
    [[nodiscard]] storage_type release() noexcept {
        gso_size_ = 0;
        return std::exchange(bytes_, {});
    }

    friend bool operator==(const packet&, const packet&) = default;

private:
    storage_type bytes_;
    std::uint16_t gso_size_ = 0;
};

/// A link that takes TCP super-segments (see the top of this header) says how much TCP payload one
/// may carry: `tso_max()`, 0 if it takes none (offloads refused, say).
template <class L>
concept tso_link = requires(const L& l) {
    { l.tso_max() } -> std::convertible_to<std::size_t>;
};

/// The TSO limit of any link: its tso_max(), or 0 for a link without the capability.
template <class L>
[[nodiscard]] std::size_t link_tso_max(const L& l) {
    if constexpr (tso_link<L>) return static_cast<std::size_t>(l.tso_max());
    else return 0;
}

/// What receive() appends to: packets in delivery order.
using packet_batch = std::vector<packet>;

} // namespace corotcp
