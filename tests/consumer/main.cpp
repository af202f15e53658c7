// Built by the consumer tests against an installed or embedded corotcp.
#include <corotcp/util/error.hpp> // TODO: include <corotcp/corotcp.hpp>, the umbrella header, instead

#include <iostream>

int main() {
    std::cout << corotcp::make_error_code(corotcp::errc::timed_out).message() << '\n';
    return 0;
}
