// http_get: fetches a URL from a (kernel) HTTP server with corotcp, through a TUN device.
//
//   http_get --tun tun0 --ip 10.0.0.2 --kernel-ip 10.0.0.1/24 http://10.0.0.1:8000/file
//
// Prints the body to stdout (streamed: any size). Exit status 0 for a 2xx response; 1 with a clear
// message on a connection failure, a malformed or truncated response, or another status.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "common.hpp"

namespace {

using namespace tun_example;
namespace bhttp = boost::beast::http;

const program this_program{
    "http_get",
    "usage: http_get --tun NAME --ip ADDR URL [options]\n"
    "Fetches http://IPv4[:PORT]/PATH over the corotcp stack and prints the body.\n\n"
    "  --timeout SECONDS  connect and idle timeout (default 10)\n"
    "  --headers          print the response status line and headers to stderr\n",
};

struct url {
    corotcp::wire::ipv4_address host;
    std::uint16_t port = 80;
    std::string host_text;
    std::string target = "/";
};

std::optional<url> parse_url(std::string_view s) {
    constexpr std::string_view scheme = "http://";
    if (s.substr(0, scheme.size()) != scheme) return std::nullopt;
    s.remove_prefix(scheme.size());
    url u;
    const auto slash = s.find('/');
    const std::string_view authority = s.substr(0, slash);
    if (slash != std::string_view::npos) u.target = std::string(s.substr(slash));
    u.host_text = std::string(authority);
    if (authority.find(':') != std::string_view::npos) {
        if (!parse_host_port(authority, u.host, u.port)) return std::nullopt;
    } else {
        const auto h = corotcp::wire::ipv4_address::parse(authority);
        if (!h) return std::nullopt;
        u.host = *h;
    }
    return u;
}

struct result {
    bool done = false;
    int status = 1;
};

corotcp::task<void> fetch(stack_type& s, const url& u, corotcp::duration timeout, bool show_headers, result& out) {
    const std::string where = u.host.to_string() + ":" + std::to_string(u.port);
    auto conn = co_await s.connect(u.host, u.port, {.timeout = timeout});
    if (!conn) {
        const auto ec = conn.error();
        std::fprintf(stderr, "http_get: connect to %s: %s\n", where.c_str(),
                     ec == corotcp::errc::operation_timed_out ? "connection timed out" : ec.message().c_str());
        out.done = true;
        co_return;
    }
    const std::string req = "GET " + u.target + " HTTP/1.1\r\nHost: " + u.host_text +
                            "\r\nUser-Agent: corotcp-http_get\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    if (auto ec = co_await conn->write(req)) {
        std::fprintf(stderr, "http_get: %s: sending the request: %s\n", where.c_str(), ec.message().c_str());
        out.done = true;
        co_return;
    }
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none); // streamed to stdout: no limit
    parser.eager(true);
    std::string pending;
    std::vector<char> body(65536);
    std::uint8_t buf[65536];
    bool eof = false;
    boost::beast::error_code ec;
    bool header_shown = false;
    while (!parser.is_done()) {
        if (!pending.empty() || eof) {
            parser.get().body().data = body.data();
            parser.get().body().size = body.size();
            ec = {};
            std::size_t used = 0;
            if (!pending.empty()) used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
            else parser.put_eof(ec);
            pending.erase(0, used);
            const std::size_t produced = body.size() - parser.get().body().size;
            if (parser.is_header_done() && !header_shown) {
                header_shown = true;
                if (show_headers) {
                    const auto& h = parser.get().base();
                    std::fprintf(stderr, "HTTP/%u.%u %u %s\n", h.version() / 10, h.version() % 10, h.result_int(),
                                 std::string(h.reason()).c_str());
                    for (const auto& f : h)
                        std::fprintf(stderr, "%s: %s\n", std::string(f.name_string()).c_str(), std::string(f.value()).c_str());
                }
            }
            if (produced > 0) std::fwrite(body.data(), 1, produced, stdout);
            if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) ec = {};
            if (ec) break;
            if (parser.is_done()) break;
            if (eof) {
                ec = bhttp::error::partial_message;
                break;
            }
            if (used > 0 || produced > 0) {
                if (!pending.empty()) continue;
            }
        }
        auto n = co_await conn->read(buf, {.timeout = timeout});
        if (!n) {
            std::fprintf(stderr, "http_get: %s: %s\n", where.c_str(),
                         n.error() == corotcp::errc::operation_timed_out ? "timed out waiting for the response"
                                                                       : n.error().message().c_str());
            std::fflush(stdout);
            out.done = true;
            co_return;
        }
        if (*n == 0) eof = true;
        else pending.append(reinterpret_cast<const char*>(buf), *n);
    }
    std::fflush(stdout);
    if (ec) {
        std::fprintf(stderr, "http_get: %s: bad response: %s\n", where.c_str(), ec.message().c_str());
        out.done = true;
        co_return;
    }
    const unsigned status = parser.get().result_int();
    if (status < 200 || status > 299) {
        std::fprintf(stderr, "http_get: %s%s: HTTP %u %s\n", u.host_text.c_str(), u.target.c_str(), status,
                     std::string(parser.get().reason()).c_str());
    } else {
        out.status = 0;
    }
    co_await conn->shutdown({.timeout = corotcp::duration::seconds(5)});
    out.done = true;
}

} // namespace

int main(int argc, char** argv) {
    common_options o;
    std::optional<url> u;
    corotcp::duration timeout = corotcp::duration::seconds(10);
    bool show_headers = false;
    const auto stop = parse_args(this_program, argc, argv, o, [&](std::string_view a, int& i) {
        if (a == "--timeout" && i + 1 < argc) {
            const double t = std::atof(argv[++i]);
            if (t <= 0) {
                std::fprintf(stderr, "http_get: --timeout: expected seconds > 0, got %s\n", argv[i]);
                return arg_result::error;
            }
            timeout = corotcp::duration::micros(static_cast<std::int64_t>(t * 1e6));
        } else if (a == "--headers") {
            show_headers = true;
        } else if (!a.starts_with("--")) {
            u = parse_url(a);
            if (!u) {
                std::fprintf(stderr, "http_get: expected a URL http://IPv4[:PORT][/PATH], got %s\n", argv[i]);
                return arg_result::error;
            }
        } else {
            return arg_result::unknown;
        }
        return arg_result::consumed;
    });
    if (stop) return *stop;
    if (!u) {
        std::fprintf(stderr, "http_get: a URL is required (see --help)\n");
        return 2;
    }
    install_signal_handlers();
    loop_type loop;
    corotcp::tcp::config tcp;
    tcp.recv_buffer = 256 * 1024;
    auto stack = open_stack("http_get", loop, o, tcp);
    if (!stack) return 1;
    result out;
    stack->spawn(fetch(*stack, *u, timeout, show_headers, out));
    if (!run_until(loop, [&] { return out.done; })) {
        std::fprintf(stderr, "http_get: interrupted\n");
        out.status = 1;
    }
    if (o.verbose) print_link_stats("http_get", *stack);
    loop.destroy_spawned();
    return out.status;
}
