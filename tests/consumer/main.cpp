// Built by the consumer tests against an installed or embedded corotcp, the way a downstream project uses it.
#include <corotcp/corotcp.hpp>

#include <iostream>

int main() {
    std::cout << corotcp::make_error_code(corotcp::errc::timed_out).message() << '\n';
    return 0;
}
