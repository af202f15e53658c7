// examples/http.hpp: a minimal HTTP/1.1 server and client on corotcp connections.
//
// Requests and responses are parsed with Boost.Beast's parser (header-only); responses are
// written by hand. The server handles keep-alive and HTTP/1.0, GET and HEAD, and answers a
// malformed request with 400 and closes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "corotcp/corotcp.hpp"

namespace http_example {

namespace bhttp = boost::beast::http;

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Feeds bytes from `conn` (plus what is left in `pending`) to a Beast parser until it has a
/// whole message. Returns false at a clean end of stream (or a connection error) before any byte of
/// a new message, and sets `ec` on a malformed or truncated message or a connection error. `o`
/// bounds each read (e.g. an idle timeout).
template <class Conn, class Parser>
corotcp::task<bool> read_message(Conn& conn, Parser& parser, std::string& pending, boost::beast::error_code& ec,
                                 corotcp::op_options o = {}) {
    std::uint8_t buf[8192];
    for (;;) {
        if (!pending.empty()) {
            ec = {};
            const std::size_t used = parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
            pending.erase(0, used);
            if (ec == bhttp::error::need_more) ec = {};
            if (ec || parser.is_done()) co_return true;
            if (used > 0 && !pending.empty()) continue;
        }
        auto n = co_await conn.read(buf, o);
        if (!n) {
            ec = boost::beast::error_code(n.error().value(), boost::beast::generic_category());
            co_return parser.got_some() || !pending.empty();
        }
        if (*n == 0) { // end of stream
            if (!parser.got_some() && pending.empty()) co_return false;
            parser.put_eof(ec);
            if (!ec) ec = bhttp::error::partial_message;
            co_return true;
        }
        pending.append(reinterpret_cast<const char*>(buf), *n);
    }
}

inline std::string response(unsigned status, std::string_view reason, std::string_view body, bool keep_alive,
                            bool head_only, unsigned version) {
    std::string r = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    r += std::to_string(status) + " " + std::string(reason) + "\r\n";
    r += "Server: corotcp\r\nContent-Type: text/html\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    r += keep_alive ? (version == 10 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n";
    r += "\r\n";
    if (!head_only) r += body;
    return r;
}

/// Serves one connection: requests until the client closes, sends `Connection: close`, speaks
/// HTTP/1.0 without keep-alive, or sends something malformed (400).
template <class Conn>
corotcp::task<void> serve(Conn conn, std::string page) {
    std::string pending;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.eager(true);
        boost::beast::error_code ec;
        if (!co_await read_message(conn, parser, pending, ec)) break; // the client closed
        if (ec) {
            co_await conn.write(response(400, "Bad Request", "<h1>400 Bad Request</h1>\n", false, false, 11));
            break;
        }
        const auto& req = parser.get();
        const bool head = req.method() == bhttp::verb::head;
        const bool keep = req.keep_alive();
        std::string out;
        if (req.method() != bhttp::verb::get && !head) {
            out = response(405, "Method Not Allowed", "<h1>405</h1>\n", keep, false, req.version());
        } else if (req.target() != "/" && req.target() != "/index.html") {
            out = response(404, "Not Found", "<h1>404 Not Found</h1>\n", keep, head, req.version());
        } else {
            out = response(200, "OK", page, keep, head, req.version());
        }
        if (co_await conn.write(out)) break;
        if (!keep) break;
    }
    co_await conn.shutdown(); // our FIN; then the handle closes
}

struct fetched {
    unsigned status = 0;
    std::string body;
};

/// Sends GET target and reads the response (keep-alive: the connection stays open).
template <class Conn>
corotcp::task<corotcp::expected<fetched>> get(Conn& conn, std::string_view host, std::string_view target) {
    std::string req = "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host) +
                      "\r\nUser-Agent: corotcp-example\r\nAccept: */*\r\n\r\n";
    if (auto ec = co_await conn.write(req)) co_return ec;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    std::string pending;
    boost::beast::error_code ec;
    if (!co_await read_message(conn, parser, pending, ec) || ec)
        co_return corotcp::make_error_code(corotcp::errc::protocol_error);
    co_return fetched{parser.get().result_int(), parser.get().body()};
}

} // namespace http_example
