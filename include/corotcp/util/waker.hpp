// corotcp/util/waker.hpp: a type-erased "something changed" callback.
//
// Lower layers (tcp/, iface/) cannot know about coroutines; they call wake() and the async layer,
// which installed the callback, resumes whoever waits. Waking with no callback installed is a no-op.
#pragma once

namespace corotcp {

struct waker {
    void (*fn)(void* ctx) = nullptr;
    void* ctx = nullptr;

    void wake() const {
        if (fn != nullptr) fn(ctx);
    }
    [[nodiscard]] explicit operator bool() const noexcept { return fn != nullptr; }
};

} // namespace corotcp
