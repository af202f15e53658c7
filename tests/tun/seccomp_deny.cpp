// tests/tun/seccomp_deny.cpp: runs a program with some kernel features refused, as a restricted
// environment would refuse them, so that the TUN tests can check the link's fallbacks on a kernel that
// has every feature:
//
//   tun_seccomp_deny [--io-uring] [--offload | --tso] -- PROGRAM ARGS...
//
//   --io-uring   io_uring_setup fails with EPERM (Docker's default seccomp profile does this)
//   --offload    ioctl(TUNSETOFFLOAD) fails with EINVAL, whatever it asks for
//   --tso        ioctl(TUNSETOFFLOAD) fails with EINVAL when it asks for TUN_F_TSO4 (CSUM alone works)
//
// A seccomp filter (no new privileges, then SECCOMP_SET_MODE_FILTER) is installed and PROGRAM is
// executed with it; every other system call is allowed. Exit status 2 with a message when the filter
// cannot be installed (the tests then fail: they never pass without the refusal they meant to test).
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include <sys/ioctl.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

#if defined(__x86_64__)
constexpr unsigned this_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned this_arch = AUDIT_ARCH_AARCH64;
#else
#error "tun_seccomp_deny: add this architecture's AUDIT_ARCH value"
#endif

// The low 32 bits of argument i (little-endian: the first word of the 64-bit slot).
constexpr unsigned arg_low(unsigned i) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
    return static_cast<unsigned>(offsetof(seccomp_data, args) + 8 * i);
}

sock_filter stmt(unsigned short code, unsigned k) { return BPF_STMT(code, k); }
sock_filter jump(unsigned short code, unsigned k, unsigned char jt, unsigned char jf) {
    return BPF_JUMP(code, k, jt, jf);
}

int usage() {
    std::fprintf(stderr, "usage: tun_seccomp_deny [--io-uring] [--offload | --tso] -- PROGRAM ARGS...\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    bool deny_uring = false, deny_offload = false, deny_tso = false;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a == "--io-uring") deny_uring = true;
        else if (a == "--offload") deny_offload = true;
        else if (a == "--tso") deny_tso = true;
        else return usage();
    }
    if (i >= argc || (deny_offload && deny_tso)) return usage();

    const unsigned ret_allow = SECCOMP_RET_ALLOW;
    std::vector<sock_filter> f;
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, this_arch, 1, 0));
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)); // another ABI: never expected here
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    if (deny_uring) {
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1));
        f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
    }
    if (deny_offload || deny_tso) {
        // nr == ioctl && low32(arg1) == TUNSETOFFLOAD [&& (arg2 & TUN_F_TSO4)] -> EINVAL
        const unsigned char tail = deny_tso ? 4 : 2; // instructions from the first jump to "allow"
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, tail + 1));
        f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, arg_low(1)));
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(TUNSETOFFLOAD), 0, tail - 1));
        if (deny_tso) {
            f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, arg_low(2)));
            f.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, TUN_F_TSO4, 0, 1));
        }
        f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL));
    }
    f.push_back(stmt(BPF_RET | BPF_K, ret_allow));

    sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        std::fprintf(stderr, "tun_seccomp_deny: cannot install the seccomp filter: %s\n", std::strerror(errno));
        return 2;
    }
    ::execvp(argv[i], argv + i);
    std::fprintf(stderr, "tun_seccomp_deny: cannot run %s: %s\n", argv[i], std::strerror(errno));
    return 2;
}
