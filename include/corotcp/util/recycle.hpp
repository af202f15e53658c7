// corotcp/util/recycle.hpp: per-thread free lists for memory blocks that are allocated and freed at
// a high rate (coroutine frames, connection buffers).
//
// Why: a short connection allocates two 128 KiB buffers and frees them a few microseconds later.
// glibc gives the top of the heap back to the kernel on such frees and takes it again on the next
// allocation, so every connection paid for brk() and page faults (measured: over half of the
// connections/s profile). Request/response code creates a few coroutine frames per message.
//
// Contract:
//  * `free_lists<Lists>` keeps, per thread, up to `Lists` singly linked lists of equally sized
//    blocks. The caller decides what list index a block size maps to and always passes the same
//    (index, size) pair for a block on the way in and out.
//  * `take(i)` returns a block from list i or null; `give(i, p, size)` keeps p if list i holds fewer
//    than its limit of blocks and bytes, else returns false and the caller frees p itself.
//  * Blocks kept on a list are poisoned under AddressSanitizer (all but their last 8 bytes, which
//    link the list), so a use after free is still caught.
//  * Safe during thread exit: once the thread's lists are destroyed, `give` refuses every block.
// Single-threaded per list: blocks may be freed on another thread than the one that allocated them;
// they then join that thread's lists.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define COROTCP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COROTCP_ASAN 1
#endif
#endif
#if defined(COROTCP_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace corotcp::detail {

/// Every free_lists instantiation's per-thread state, linked when the thread first keeps a block in
/// it, so that recycled_bytes() can add them up at no cost to take() and give(). (Measured on the 64 B
/// request/response benchmark: a thread-local byte counter updated on every give and take cost 7 %,
/// and so did linking the state from its constructor, which makes its initialization dynamic: every
/// access to it then goes through a TLS guard. Neither showed in the instruction counts.)
struct recycle_registry {
    struct node {
        node* next = nullptr;
        std::size_t (*bytes)(const node&) noexcept = nullptr;
    };
    static inline thread_local node* head = nullptr;

    static void add(node& n) noexcept {
        n.next = head;
        head = &n;
    }
    static void remove(node& n) noexcept {
        for (node** p = &head; *p != nullptr; p = &(*p)->next) {
            if (*p == &n) {
                *p = n.next;
                return;
            }
        }
    }
};

/// Bytes this thread's free lists (all of them) keep for reuse: allocated from the heap, held by no
/// object (memory figures subtract them).
[[nodiscard]] inline std::size_t recycled_bytes() noexcept {
    std::size_t n = 0;
    for (const recycle_registry::node* r = recycle_registry::head; r != nullptr; r = r->next) n += r->bytes(*r);
    return n;
}

/// `Tag` keeps unrelated users apart: each (Lists, Tag) pair has lists of its own.
template <std::size_t Lists, class Tag = void>
class free_lists {
public:
    /// A block from list i, or null if the list is empty.
    [[nodiscard]] static void* take(std::size_t i) noexcept {
        if (finished_) return nullptr;
        state& s = local();
        void* p = s.head[i];
        if (p == nullptr) return nullptr;
        unpoison(p, s.size[i]);
        s.head[i] = next_of(p, s.size[i]);
        --s.count[i];
        return p;
    }

    /// Keeps block p (of `size` >= sizeof(void*) bytes) on list i unless the list holds `max_blocks`
    /// blocks or `max_bytes` bytes already. Returns false if the caller must free p itself.
    static bool give(std::size_t i, void* p, std::size_t size, unsigned max_blocks, std::size_t max_bytes) noexcept {
        if (finished_) return false;
        state& s = local();
        if (s.count[i] >= max_blocks || (s.count[i] + 1) * size > max_bytes) return false;
        if (s.link.bytes == nullptr) [[unlikely]] { // the first block this thread keeps here
            s.link.bytes = &state::held_bytes;
            recycle_registry::add(s.link);
        }
        set_next(p, size, s.head[i]);
        s.head[i] = p;
        s.size[i] = size;
        ++s.count[i];
        poison(p, size);
        return true;
    }

    /// Frees every block on list i (to give the list to another block size).
    static void drain(std::size_t i) noexcept {
        if (finished_) return;
        state& s = local();
        while (void* p = s.head[i]) {
            unpoison(p, s.size[i]);
            s.head[i] = next_of(p, s.size[i]);
            ::operator delete(p);
        }
        s.count[i] = 0;
    }

    /// Blocks held on list i (tests and memory figures).
    [[nodiscard]] static unsigned held(std::size_t i) noexcept { return finished_ ? 0 : local().count[i]; }

private:
    struct state {
        std::array<void*, Lists> head{};
        std::array<unsigned, Lists> count{};
        std::array<std::size_t, Lists> size{};
        recycle_registry::node link{}; // linked on the first give (see give)
        state() = default;
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        ~state() {
            for (std::size_t i = 0; i < Lists; ++i) drain(i);
            finished_ = true;
            if (link.bytes != nullptr) recycle_registry::remove(link);
        }
        static std::size_t held_bytes(const recycle_registry::node& n) noexcept {
            const auto& s = *reinterpret_cast<const state*>(reinterpret_cast<const char*>(&n) - offsetof(state, link));
            std::size_t total = 0;
            for (std::size_t i = 0; i < Lists; ++i) total += s.count[i] * s.size[i];
            return total;
        }
    };

    // The link to the next block is kept in the block's LAST pointer-sized bytes, so that the
    // front of a recycled coroutine frame (its resume pointer) stays poisoned under ASan.
    [[nodiscard]] static void* next_of(void* p, std::size_t size) noexcept {
        void* n;
        std::memcpy(&n, static_cast<char*>(p) + size - sizeof n, sizeof n);
        return n;
    }
    static void set_next(void* p, std::size_t size, void* n) noexcept {
        std::memcpy(static_cast<char*>(p) + size - sizeof n, &n, sizeof n);
    }

    static void poison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if defined(COROTCP_ASAN)
        ASAN_POISON_MEMORY_REGION(p, n - sizeof(void*)); // all but the link
#endif
    }
    static void unpoison([[maybe_unused]] void* p, [[maybe_unused]] std::size_t n) noexcept {
#if defined(COROTCP_ASAN)
        ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
    }

    [[nodiscard]] static state& local() noexcept {
        static thread_local state s;
        return s;
    }
    static inline thread_local bool finished_ = false; // trivially destructible: readable at any time
};

/// Fixed-size blocks that come and go with connections (a socket, a handle's notifier, a
/// transmission log), recycled per thread on a list of their own (`Tag`): up to `MaxBlocks` blocks
/// of one size, and at most `MaxBytes` in all (a socket with large in-place buffers keeps few), are
/// kept. A short connection then costs no malloc/free for them.
template <class Tag, unsigned MaxBlocks = 1024, std::size_t MaxBytes = std::size_t{4} << 20>
struct block_pool {
    using lists = free_lists<1, Tag>;
    [[nodiscard]] static void* allocate(std::size_t n) {
        if (void* p = lists::take(0)) return p;
        return ::operator new(n);
    }
    static void deallocate(void* p, std::size_t n) noexcept {
        if (!lists::give(0, p, n, MaxBlocks, MaxBytes)) ::operator delete(p);
    }
};

/// Class-specific operator new/delete through block_pool<T> (for a final class: one size).
template <class T>
struct recycled_new {
    [[nodiscard]] static void* operator new(std::size_t n) { return block_pool<T>::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { block_pool<T>::deallocate(p, n); }
};

} // namespace corotcp::detail
