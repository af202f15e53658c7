// corotcp/tcp/state_dot.hpp: the state diagram, generated from the transition table.
//
// docs/state-machine.dot is this function's output, committed; a test fails if they differ, so
// the picture in the documentation is always the table the engine runs.
#pragma once

#include <string>
#include <string_view>

#include "corotcp/tcp/state.hpp"

namespace corotcp::tcp {

/// "snd SYN,ACK" style text for a row's actions (what the classic diagram writes after the slash).
[[nodiscard]] inline std::string describe_actions(std::uint16_t a) {
    std::string out;
    auto add = [&](std::string_view s) {
        if (!out.empty()) out += ", ";
        out += s;
    };
    if ((a & act::send_syn) != 0) add("snd SYN");
    if ((a & act::send_syn_ack) != 0) add("snd SYN,ACK");
    if ((a & act::send_fin) != 0) add("snd FIN");
    if ((a & act::send_ack) != 0) add("snd ACK");
    if ((a & act::send_rst) != 0) add("snd RST");
    if ((a & act::start_2msl) != 0) add("start 2MSL");
    if ((a & act::start_fin_timeout) != 0) add("start fin_timeout if orphaned");
    if ((a & act::fail) != 0) add("report error");
    return out;
}

/// True for rows that end a connection abnormally (RST, abort, a timeout with an error): drawn
/// into a second CLOSED node at the bottom so that the classic open/close paths stay readable.
[[nodiscard]] constexpr bool is_abnormal_ending(const transition& t) noexcept {
    return t.to == state::closed && t.from != state::closed &&
           ((t.actions & (act::fail | act::send_rst)) != 0 || t.on == event::rcv_rst || t.on == event::user_abort);
}

/// Graphviz DOT for the whole table: one edge per (from, to) pair, labelled with every event that
/// takes it ("event / actions", one per line).
[[nodiscard]] inline std::string state_diagram_dot() {
    std::string d;
    d += "// Generated from corotcp/tcp/state.hpp by tcp::state_diagram_dot(); do not edit.\n";
    d += "// Regenerate: scripts/update-state-diagram.sh\n";
    d += "digraph tcp_states {\n";
    d += "  graph [rankdir=TB, nodesep=0.5, ranksep=0.45, fontname=\"Helvetica\", fontsize=12,\n";
    d += "         label=\"corotcp TCP state machine (generated from the constexpr table in tcp/state.hpp)\", labelloc=t];\n";
    d += "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f6fb\", fontname=\"Helvetica\"];\n";
    d += "  edge [fontname=\"Helvetica\", fontsize=8];\n";
    for (std::size_t i = 0; i < state_count; ++i) {
        d += "  ";
        d += to_string(static_cast<state>(i));
        d += ";\n";
    }
    d += "  CLOSED_ABNORMAL [label=\"CLOSED\\n(reset, abort, timeout)\", style=\"rounded,dashed\", fillcolor=white];\n";
    d += "  { rank=same; SYN_SENT; SYN_RCVD; }\n";
    d += "  { rank=same; FIN_WAIT_1; CLOSE_WAIT; }\n";
    d += "  { rank=same; FIN_WAIT_2; CLOSING; LAST_ACK; }\n";
    d += "  { rank=sink; CLOSED_ABNORMAL; }\n";
    for (std::size_t i = 0; i < transitions.size(); ++i) {
        const auto& t = transitions[i];
        const bool abnormal = is_abnormal_ending(t);
        const auto same_edge = [&](const transition& u) {
            return u.from == t.from && u.to == t.to && is_abnormal_ending(u) == abnormal;
        };
        bool seen_before = false;
        for (std::size_t j = 0; j < i; ++j) seen_before = seen_before || same_edge(transitions[j]);
        if (seen_before) continue;
        std::string label;
        for (std::size_t j = i; j < transitions.size(); ++j) {
            if (!same_edge(transitions[j])) continue;
            if (!label.empty()) label += "\\n";
            label += to_string(transitions[j].on);
            if (const auto a = describe_actions(transitions[j].actions); !a.empty()) {
                label += " / ";
                label += a;
            }
        }
        d += "  ";
        d += to_string(t.from);
        d += " -> ";
        d += abnormal ? std::string_view("CLOSED_ABNORMAL") : to_string(t.to);
        d += " [label=\"";
        d += label;
        d += "\"";
        if (abnormal) d += ", style=dashed, color=gray45, fontcolor=gray35";
        d += "];\n";
    }
    d += "}\n";
    return d;
}

} // namespace corotcp::tcp
