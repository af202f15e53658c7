// Tests for corotcp/async/stack.hpp: read/write take std::byte and char spans as well as std::uint8_t.
//
// Contract: the std::byte and char overloads hand the caller's own memory to the std::uint8_t versions
// (no copy, no intermediate buffer); strings and string literals still go to write(std::string_view),
// so a literal's terminating NUL is never sent.
#include "corotcp/async/stack.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "corotcp/async/memory_pair.hpp"

namespace {

using namespace corotcp;
using namespace corotcp::time_literals;

using pair_t = memory_pair<>;
using conn_t = pair_t::connection;

std::pair<conn_t, conn_t> establish(pair_t& net, pair_t::listener& l) {
    auto c = net.run(net.client().connect(net.server_address(), l.port()));
    REQUIRE(c);
    auto s = net.run(l.accept());
    REQUIRE(s);
    return {std::move(*c), std::move(*s)};
}

} // namespace

// Overload resolution, at compile time: what picks the char-span overload and what stays a string.
static_assert(char_span<std::vector<char>>);
static_assert(char_span<std::span<char>>);
static_assert(char_span<std::span<const char>>);
static_assert(char_span<std::array<char, 4>>);
static_assert(!char_span<std::string>);
static_assert(!char_span<std::string_view>);
static_assert(!char_span<const char*>);
static_assert(!char_span<char[6]>); // a char array is a C string: string_view, as before
static_assert(!char_span<std::vector<std::uint8_t>>);

TEST_CASE("The byte and char views are the caller's memory, not a copy") {
    std::array<std::byte, 8> b{};
    std::string s = "text";
    const std::vector<char> v{'a', 'b'};
    CHECK(detail::as_u8(std::span<std::byte>(b)).data() == reinterpret_cast<std::uint8_t*>(b.data()));
    CHECK(detail::as_u8(std::span<std::byte>(b)).size() == b.size());
    CHECK(detail::as_u8(std::span<char>(s)).data() == reinterpret_cast<std::uint8_t*>(s.data()));
    CHECK(detail::as_u8(std::span<const char>(v)).data() == reinterpret_cast<const std::uint8_t*>(v.data()));
    CHECK(detail::as_u8(std::span<const char>(v)).size() == 2);
}

TEST_CASE("write(std::span<const std::byte>) and read(std::span<std::byte>) carry the bytes exactly") {
    pair_t net;
    auto l = net.server().listen(7);
    REQUIRE(l);
    auto [c, s] = establish(net, *l);
    std::vector<std::byte> out(3000);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 13 + 1);
    const auto ec = net.run(c.write(std::span<const std::byte>(out)));
    REQUIRE_FALSE(ec);
    std::vector<std::byte> in(out.size());
    std::size_t got = 0;
    for (int i = 0; i < 100 && got < in.size(); ++i) { // bounded: a few reads suffice
        auto n = net.run(s.read(std::span<std::byte>(in).subspan(got)));
        REQUIRE(n);
        REQUIRE(*n > 0);
        got += *n;
    }
    CHECK(got == out.size());
    CHECK(in == out);

    // non-const std::byte data converts to the const span; read_exactly takes std::byte too
    std::array<std::byte, 4> four{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    const auto ec2 = net.run(c.write(std::span<std::byte>(four)));
    REQUIRE_FALSE(ec2);
    std::array<std::byte, 4> back{};
    auto n = net.run(s.read_exactly(std::span<std::byte>(back)));
    REQUIRE(n);
    CHECK(*n == 4);
    CHECK(back == four);
}

TEST_CASE("write(char data) and read(std::span<char>) carry text exactly, and a literal sends no NUL") {
    pair_t net;
    auto l = net.server().listen(7);
    REQUIRE(l);
    auto [c, s] = establish(net, *l);
    const std::vector<char> v{'h', 'e', 'l', 'l', 'o', ' '};
    const auto e1 = net.run(c.write(v)); // std::vector<char>: the char-span overload
    REQUIRE_FALSE(e1);
    const std::array<char, 6> arr{'w', 'o', 'r', 'l', 'd', '!'};
    const auto e2 = net.run(c.write(std::span<const char>(arr)));
    REQUIRE_FALSE(e2);
    const auto e3 = net.run(c.write("abc")); // string_view: 3 bytes, not 4
    REQUIRE_FALSE(e3);
    const auto e4 = net.run(c.write(std::string("xyz")));
    REQUIRE_FALSE(e4);
    const auto sh = net.run(c.shutdown());
    REQUIRE_FALSE(sh);

    std::string text(6, '\0');
    auto n = net.run(s.read_exactly(std::span<char>(text)));
    REQUIRE(n);
    CHECK(*n == 6);
    CHECK(text == "hello ");
    std::string rest;
    char buf[5];
    for (int i = 0; i < 100; ++i) { // bounded: until EOF
        auto m = net.run(s.read(buf)); // char[5] -> std::span<char>
        REQUIRE(m);
        if (*m == 0) break;
        rest.append(buf, *m);
    }
    CHECK(rest == "world!abcxyz");
}
