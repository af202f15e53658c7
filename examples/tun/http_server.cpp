// http_server: an HTTP/1.1 server on corotcp, reached by the kernel through a TUN device.
//
//   http_server --tun tun0 --ip 10.0.0.2 --port 80 --kernel-ip 10.0.0.1/24 [--root DIR]
//   curl http://10.0.0.2/
//
// GET and HEAD; keep-alive (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive"); closes the
// connection itself after an HTTP/1.0 response or "Connection: close"; 400 on a malformed request,
// 404 and 405 as usual. Serves files under DIR (streamed in 64 KiB writes: any size works), or a
// built-in page at / without --root. Requests are parsed with Boost.Beast's parser.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "../http.hpp"
#include "common.hpp"

namespace {

using namespace tun_example;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;

const program this_program{
    "http_server",
    "usage: http_server --tun NAME --ip ADDR --port PORT [--root DIR] [options]\n"
    "An HTTP/1.1 server (GET, HEAD, keep-alive) on the corotcp stack, attached to a TUN device.\n\n"
    "  --port PORT        port to listen on (required)\n"
    "  --root DIR         serve the files under DIR (default: a built-in page at /)\n",
};

const corotcp::duration idle_timeout = corotcp::duration::seconds(60);
unsigned long requests_served = 0;

const std::string builtin_page =
    "<!DOCTYPE html>\n<html><head><title>corotcp</title></head>\n"
    "<body><h1>Hello from corotcp</h1>\n"
    "<p>This page was served by a user-space TCP/IP stack written in C++20 coroutines, "
    "through a TUN device.</p></body></html>\n";

struct server_config {
    std::optional<fs::path> root; // canonical
};

/// One request, with the idle timeout on every read (the parsing loop is examples/http.hpp's).
corotcp::task<bool> read_request(connection& conn, bhttp::request_parser<bhttp::string_body>& parser,
                                 std::string& pending, boost::beast::error_code& ec) {
    corotcp::op_options idle;
    idle.timeout = idle_timeout;
    co_return co_await http_example::read_message(conn, parser, pending, ec, idle);
}

std::string_view content_type(const fs::path& p) {
    const std::string ext = p.extension().string();
    if (ext == ".html" || ext == ".htm") return "text/html";
    if (ext == ".txt") return "text/plain";
    if (ext == ".css") return "text/css";
    if (ext == ".js") return "application/javascript";
    if (ext == ".json") return "application/json";
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".svg") return "image/svg+xml";
    return "application/octet-stream";
}

std::string header(unsigned version, unsigned status, std::string_view reason, std::string_view type,
                   std::uint64_t length, bool keep_alive) {
    std::string r = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    r += std::to_string(status) + " " + std::string(reason) + "\r\nServer: corotcp\r\nContent-Type: " +
         std::string(type) + "\r\nContent-Length: " + std::to_string(length) + "\r\n";
    if (!keep_alive) r += "Connection: close\r\n";
    else if (version == 10) r += "Connection: keep-alive\r\n";
    return r + "\r\n";
}

std::string simple(unsigned version, unsigned status, std::string_view reason, bool keep_alive, bool head) {
    const std::string body = "<h1>" + std::to_string(status) + " " + std::string(reason) + "</h1>\n";
    std::string r = header(version, status, reason, "text/html", body.size(), keep_alive);
    if (!head) r += body;
    return r;
}

/// The file a target names under root, or nothing (missing, outside root, not a regular file).
std::optional<fs::path> resolve(const fs::path& root, std::string_view target) {
    const auto q = target.find_first_of("?#");
    std::string path(target.substr(0, q));
    if (path.empty() || path[0] != '/') return std::nullopt;
    // percent-decoding of the common cases; anything odd is simply not found
    std::string decoded;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '%' && i + 2 < path.size() && std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
            decoded += static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            decoded += path[i];
        }
    }
    if (decoded.find('\0') != std::string::npos) return std::nullopt;
    fs::path p = root / fs::path(decoded).relative_path();
    std::error_code ec;
    if (fs::is_directory(p, ec)) p /= "index.html";
    const fs::path canon = fs::weakly_canonical(p, ec);
    if (ec) return std::nullopt;
    const auto [r, c] = std::mismatch(root.begin(), root.end(), canon.begin(), canon.end());
    if (r != root.end()) return std::nullopt; // outside root (.., symlinks out)
    if (!fs::is_regular_file(canon, ec)) return std::nullopt;
    return canon;
}

/// Streams a file: header, then 64 KiB writes. False if the connection failed.
corotcp::task<bool> send_file(connection& conn, const fs::path& file, unsigned version, bool keep, bool head) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    if (!f || ec) co_return !co_await conn.write(simple(version, 403, "Forbidden", keep, head));
    if (co_await conn.write(header(version, 200, "OK", content_type(file), size, keep))) co_return false;
    if (head) co_return true;
    std::vector<std::uint8_t> buf(65536);
    std::uint64_t left = size;
    while (left > 0) {
        const std::size_t n = std::fread(buf.data(), 1, std::min<std::uint64_t>(buf.size(), left), f.get());
        if (n == 0) co_return false; // the file shrank: the response cannot be completed, close
        if (co_await conn.write(std::span<const std::uint8_t>(buf.data(), n))) co_return false;
        left -= n;
    }
    co_return true;
}

corotcp::task<void> serve(connection conn, const server_config& cfg) {
    std::string pending;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.eager(true);
        boost::beast::error_code ec;
        if (!co_await read_request(conn, parser, pending, ec)) break; // the client closed
        if (ec) {
            if (conn.is_open() && !conn.error()) co_await conn.write(simple(11, 400, "Bad Request", false, false));
            break;
        }
        const auto& req = parser.get();
        const unsigned version = req.version() == 10 ? 10 : 11;
        const bool head = req.method() == bhttp::verb::head;
        const bool keep = req.keep_alive();
        ++requests_served;
        bool ok = true;
        if (req.method() != bhttp::verb::get && !head) {
            ok = !co_await conn.write(simple(version, 405, "Method Not Allowed", keep, false));
        } else if (cfg.root) {
            if (auto file = resolve(*cfg.root, req.target())) ok = co_await send_file(conn, *file, version, keep, head);
            else ok = !co_await conn.write(simple(version, 404, "Not Found", keep, head));
        } else if (req.target() == "/" || req.target() == "/index.html") {
            std::string r = header(version, 200, "OK", "text/html", builtin_page.size(), keep);
            if (!head) r += builtin_page;
            ok = !co_await conn.write(r);
        } else {
            ok = !co_await conn.write(simple(version, 404, "Not Found", keep, head));
        }
        if (!ok || !keep) break;
    }
    if (conn.is_open() && !conn.error()) co_await conn.shutdown({.timeout = idle_timeout}); // our FIN, acknowledged
}

} // namespace

int main(int argc, char** argv) {
    common_options o;
    std::uint16_t port = 0;
    server_config cfg;
    const auto stop = parse_server_args(this_program, argc, argv, o, port, [&](std::string_view a, int& i) {
        if (a != "--root" || i + 1 >= argc) return arg_result::unknown;
        std::error_code ec;
        const fs::path root = fs::canonical(argv[++i], ec);
        if (ec || !fs::is_directory(root)) {
            std::fprintf(stderr, "http_server: --root: not a directory: %s\n", argv[i]);
            return arg_result::error;
        }
        cfg.root = root;
        return arg_result::consumed;
    });
    if (stop) return *stop;
    server_setup setup;
    setup.tcp.send_buffer = 512 * 1024;
    setup.tcp.recv_buffer = 256 * 1024;
    setup.listen.backlog = 1024;
    const auto handle = [&cfg](connection c) { return serve(std::move(c), cfg); };
    const auto summary = [] { std::fprintf(stderr, "http_server: %lu requests served\n", requests_served); };
    return run_server(this_program.name, o, port, setup, handle, [] { return false; }, summary);
}
