// The committed diagram is the table: regenerate with scripts/update-state-diagram.sh.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "corotcp/tcp/state_dot.hpp"

namespace {
std::filesystem::path docs_dir() {
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "docs";
}
} // namespace

TEST_CASE("the committed state diagram is generated from the transition table") {
    const auto path = docs_dir() / "state-machine.dot";
    const std::string generated = corotcp::tcp::state_diagram_dot();
    if (const char* update = std::getenv("COROTCP_UPDATE_DOCS"); update != nullptr && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << generated;
    }
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::stringstream committed;
    committed << in.rdbuf();
    INFO("docs/state-machine.dot differs from the table: run scripts/update-state-diagram.sh");
    CHECK(committed.str() == generated);
}

TEST_CASE("the diagram has every state and a label for every table row") {
    using namespace corotcp::tcp;
    const std::string dot = state_diagram_dot();
    for (std::size_t i = 0; i < state_count; ++i) {
        const auto name = std::string(to_string(static_cast<state>(i)));
        CHECK(dot.find("  " + name + ";\n") != std::string::npos);
    }
    // Each row contributes one "event" label line; count the label lines.
    std::size_t labels = 0;
    for (const auto& t : transitions) {
        std::string entry = std::string(to_string(t.on));
        if (const auto a = describe_actions(t.actions); !a.empty()) entry += " / " + a;
        const std::string edge_start = std::string("  ") + std::string(to_string(t.from)) + " -> " +
                                       (is_abnormal_ending(t) ? std::string("CLOSED_ABNORMAL") : std::string(to_string(t.to))) + " [";
        const auto edge = dot.find(edge_start);
        REQUIRE(edge != std::string::npos);
        const auto line_end = dot.find('\n', edge);
        INFO(edge_start << " should mention " << entry);
        CHECK(dot.substr(edge, line_end - edge).find(entry) != std::string::npos);
        ++labels;
    }
    CHECK(labels == transitions.size());
}

TEST_CASE("states print with their netstat names") {
    using corotcp::tcp::state;
    using corotcp::tcp::to_string;
    CHECK(to_string(state::syn_rcvd) == "SYN_RCVD");
    CHECK(to_string(state::fin_wait_1) == "FIN_WAIT_1");
    CHECK(to_string(state::time_wait) == "TIME_WAIT");
    CHECK(to_string(state::close_wait) == "CLOSE_WAIT");
}
