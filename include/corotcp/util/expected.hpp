// corotcp/util/expected.hpp: a value or a std::error_code (C++20 has no std::expected).
//
// The results of connect(), accept() and read() are values that may be errors; no exception is
// ever thrown for a protocol event. Usage:
//     auto conn = co_await s.connect(addr, 80);
//     if (!conn) log(conn.error().message()); else use(*conn);
#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace corotcp {

template <class T>
class [[nodiscard]] expected {
public:
    expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    expected(std::error_code ec) : v_(std::in_place_index<1>, ec) { assert(ec); }
    template <class E>
        requires std::is_error_code_enum_v<E>
    expected(E e) : expected(make_error_code(e)) {}

    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & { return check(), std::get<0>(v_); }
    [[nodiscard]] const T& value() const& { return check(), std::get<0>(v_); }
    [[nodiscard]] T&& value() && { return check(), std::get<0>(std::move(v_)); }
    [[nodiscard]] T& operator*() & { return value(); }
    [[nodiscard]] const T& operator*() const& { return value(); }
    [[nodiscard]] T&& operator*() && { return std::move(*this).value(); }
    [[nodiscard]] T* operator->() { return &value(); }
    [[nodiscard]] const T* operator->() const { return &value(); }

    /// The error; a default (success) error_code when there is a value.
    [[nodiscard]] std::error_code error() const noexcept { return has_value() ? std::error_code{} : std::get<1>(v_); }

    template <class U>
    [[nodiscard]] T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
    }

private:
    void check() const {
        if (!has_value()) throw std::system_error(std::get<1>(v_));
    }
    std::variant<T, std::error_code> v_;
};

} // namespace corotcp
