// corotcp/link/packet.hpp: one IPv4 datagram as it crosses a link.
//
// A packet owns its bytes (the IP header first, no link-layer framing). It is built on
// std::vector<std::uint8_t> so that:
//   * moving a packet is a pointer swap: links hand packets along by move, never by copy;
//   * a packet that is cleared or resized smaller keeps its capacity, so a caller that recycles
//     packets (receive into a batch, process, clear, reuse) stops allocating once warmed up.
// Copying is allowed but explicit in intent: use `packet::copy_of(bytes)` or the copy constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace corotcp {

class packet {
public:
    packet() noexcept = default;
    /// A packet of `size` zero bytes.
    explicit packet(std::size_t size) : bytes_(size) {}
    /// Takes ownership of `bytes` without copying them.
    explicit packet(std::vector<std::uint8_t>&& bytes) noexcept : bytes_(std::move(bytes)) {}

    /// A packet holding a copy of `bytes`.
    [[nodiscard]] static packet copy_of(std::span<const std::uint8_t> bytes) {
        return packet(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    }

    [[nodiscard]] std::uint8_t* data() noexcept { return bytes_.data(); }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return bytes_.capacity(); }

    [[nodiscard]] std::span<std::uint8_t> bytes() noexcept { return bytes_; }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

    /// Grows with zero bytes or shrinks; shrinking keeps the capacity.
    void resize(std::size_t n) { bytes_.resize(n); }
    void reserve(std::size_t n) { bytes_.reserve(n); }
    /// Empties the packet and keeps its capacity for reuse.
    void clear() noexcept { bytes_.clear(); }

    /// Gives the storage away (e.g. to an I/O layer that wants a vector); the packet is left empty.
    [[nodiscard]] std::vector<std::uint8_t> release() noexcept { return std::exchange(bytes_, {}); }

    friend bool operator==(const packet&, const packet&) = default;

private:
    std::vector<std::uint8_t> bytes_;
};

/// What receive() appends to: packets in delivery order.
using packet_batch = std::vector<packet>;

} // namespace corotcp
