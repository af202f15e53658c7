// Tests for corotcp/async/task.hpp: laziness, results, exceptions, symmetric transfer.
#include "corotcp/async/task.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "corotcp/async/run_loop.hpp"

using corotcp::task;

namespace {

static_assert(!std::is_copy_constructible_v<task<int>>);
static_assert(std::is_nothrow_move_constructible_v<task<int>>);
static_assert(std::is_nothrow_move_assignable_v<task<void>>);

task<int> forty_two() { co_return 42; }

task<int> add_one(task<int> inner) { co_return co_await std::move(inner) + 1; }

task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

task<int> thrower() {
    throw std::runtime_error("boom");
    co_return 0; // NOLINT(unreachable-code)
}

task<void> void_thrower() {
    throw std::runtime_error("void boom");
    co_return; // NOLINT(unreachable-code)
}

task<std::uint64_t> depth(std::uint64_t n) {
    if (n == 0) co_return 0;
    co_return 1 + co_await depth(n - 1);
}

task<void> void_depth(std::uint64_t n, std::uint64_t& reached) {
    if (n == 0) {
        reached = 0;
        co_return;
    }
    co_await void_depth(n - 1, reached);
    ++reached;
}

task<std::unique_ptr<std::string>> make_unique_string() { co_return std::make_unique<std::string>("moved"); }

int global_value = 7;
task<int&> reference_to_global() { co_return global_value; }

template <class T>
T run(task<T> t) {
    corotcp::run_loop<> loop;
    return loop.run(std::move(t));
}

} // namespace

TEST_CASE("a task returns its value to the coroutine that awaits it") {
    CHECK(run(forty_two()) == 42);
    CHECK(run(add_one(add_one(forty_two()))) == 44);
}

TEST_CASE("a task is lazy: its body runs only when it is awaited") {
    bool ran = false;
    auto t = set_flag(ran);
    CHECK_FALSE(ran);
    CHECK(t.valid());
    CHECK_FALSE(t.done());
    run(std::move(t));
    CHECK(ran);
}

TEST_CASE("a task that is destroyed before being awaited never runs its body") {
    bool ran = false;
    { auto t = set_flag(ran); }
    CHECK_FALSE(ran);
}

TEST_CASE("an exception thrown in a task is rethrown where the task is awaited") {
    CHECK_THROWS_WITH(run(thrower()), "boom");
    CHECK_THROWS_WITH(run(void_thrower()), "void boom");
    CHECK_THROWS_WITH(run(add_one(thrower())), "boom");

    auto catcher = []() -> task<std::string> {
        try {
            co_await void_thrower();
        } catch (const std::runtime_error& e) {
            co_return std::string("caught ") + e.what();
        }
        co_return "not caught";
    };
    CHECK(run(catcher()) == "caught void boom");
}

TEST_CASE("a chain of 100000 nested tasks completes without overflowing the stack") {
    // Symmetric transfer: each await and each completion jumps to the next frame instead of calling it.
    CHECK(run(depth(100000)) == 100000);
    std::uint64_t reached = 12345;
    run(void_depth(100000, reached));
    CHECK(reached == 100000);
}

TEST_CASE("a move-only result is moved out of the task") {
    auto p = run(make_unique_string());
    REQUIRE(p != nullptr);
    CHECK(*p == "moved");

    auto consumer = []() -> task<std::string> {
        std::unique_ptr<std::string> s = co_await make_unique_string();
        co_return *s + "!";
    };
    CHECK(run(consumer()) == "moved!");
}

TEST_CASE("awaiting a named task yields a reference to the result the task keeps") {
    auto outer = []() -> task<std::string> {
        auto t = make_unique_string();
        auto& p = co_await t;
        CHECK(t.done());
        auto& again = co_await t; // already done: no suspension, same object
        CHECK(&p == &again);
        co_return *p;
    };
    CHECK(run(outer()) == "moved");
}

TEST_CASE("a task can return a reference") {
    int& r = run(reference_to_global());
    CHECK(&r == &global_value);
}

TEST_CASE("a moved-from or default task is not valid, and awaiting it throws") {
    task<int> a = forty_two();
    task<int> b = std::move(a);
    CHECK_FALSE(a.valid()); // NOLINT(bugprone-use-after-move)
    CHECK(b.valid());
    task<int> empty;
    CHECK_FALSE(empty.valid());
    auto awaits_empty = []() -> task<void> {
        task<int> none;
        (void)co_await std::move(none);
    };
    CHECK_THROWS_AS(run(awaits_empty()), std::logic_error);
    b = forty_two(); // move-assigning destroys the old frame (ASan checks the leak)
    CHECK(run(std::move(b)) == 42);
}

namespace {
task<int> frame_probe(void** where) {
    int local = 42;
    *where = &local; // lives in the coroutine frame: it locates the frame
    co_return local;
}
} // namespace

TEST_CASE("a destroyed coroutine frame is reused by the next task of the same size (no malloc per task)") {
    void* first = nullptr;
    void* second = nullptr;
    {
        auto t = frame_probe(&first);
        corotcp::run_loop<> loop;
        CHECK(loop.run(std::move(t)) == 42);
    }
    {
        auto t = frame_probe(&second);
        corotcp::run_loop<> loop;
        CHECK(loop.run(std::move(t)) == 42);
    }
    REQUIRE(first != nullptr);
    CHECK(first == second);
}

TEST_CASE("recycled blocks keep their list bounded and survive a drain") {
    using lists = corotcp::detail::free_lists<1>;
    lists::drain(0);
    void* a = ::operator new(64);
    void* b = ::operator new(64);
    void* c = ::operator new(64);
    CHECK(lists::give(0, a, 64, 2, 1024));
    CHECK(lists::give(0, b, 64, 2, 1024));
    CHECK_FALSE(lists::give(0, c, 64, 2, 1024)); // count limit: the caller frees it
    ::operator delete(c);
    CHECK(lists::held(0) == 2);
    CHECK(lists::take(0) == b); // last in, first out: the warmest block
    CHECK(lists::take(0) == a);
    CHECK(lists::take(0) == nullptr);
    CHECK(lists::give(0, a, 64, 8, 100));
    CHECK_FALSE(lists::give(0, b, 64, 8, 100)); // byte limit
    ::operator delete(b);
    lists::drain(0);
    CHECK(lists::held(0) == 0);
}

TEST_CASE("the thread's recycled-bytes count follows every list, and a block pool is tagged apart") {
    struct tag_a {};
    struct tag_b {};
    using pool_a = corotcp::detail::block_pool<tag_a, 2>;
    using pool_b = corotcp::detail::block_pool<tag_b, 2>;
    const std::size_t base = corotcp::detail::recycled_bytes();
    void* a1 = pool_a::allocate(96);
    void* a2 = pool_a::allocate(96);
    void* a3 = pool_a::allocate(96);
    pool_a::deallocate(a1, 96);
    pool_a::deallocate(a2, 96);
    pool_a::deallocate(a3, 96); // beyond 2 blocks: freed, not kept
    CHECK(corotcp::detail::recycled_bytes() == base + 2 * 96);
    void* b1 = pool_b::allocate(96);
    CHECK(b1 != a2); // another tag: not from pool_a's list
    ::operator delete(b1);
    void* again = pool_a::allocate(96);
    CHECK(again == a2); // the warmest block comes back
    CHECK(corotcp::detail::recycled_bytes() == base + 96);
    pool_a::deallocate(again, 96);
    pool_a::lists::drain(0);
    CHECK(corotcp::detail::recycled_bytes() == base);

    // the byte cap: blocks of 1 KiB in a pool of at most 2 KiB
    struct tag_c {};
    using pool_c = corotcp::detail::block_pool<tag_c, 100, 2048>;
    void* c1 = pool_c::allocate(1024);
    void* c2 = pool_c::allocate(1024);
    void* c3 = pool_c::allocate(1024);
    pool_c::deallocate(c1, 1024);
    pool_c::deallocate(c2, 1024);
    pool_c::deallocate(c3, 1024); // a third KiB would pass the cap: freed
    CHECK(pool_c::lists::held(0) == 2);
    pool_c::lists::drain(0);
}
