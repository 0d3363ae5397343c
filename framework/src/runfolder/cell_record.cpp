#include "mdlab/runtime/cell_record.hpp"

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "mdlab/runtime/json_precise_parse.hpp"
#include <fmt/format.h>

#include "mdlab/runtime/json_pretty.hpp"

namespace mdlab::runtime {

namespace {

NodeStatus status_from(std::string_view s) {
    if (s == "ok") return NodeStatus::ok;
    if (s == "failed") return NodeStatus::failed;
    return NodeStatus::skipped;
}

}  // namespace

std::string cell_record(const CellOutcome& outcome, const std::string& configuration) {
    boost::json::array nodes;
    for (const NodeOutcome& n : outcome.nodes) {
        boost::json::array values;
        for (const auto& [k, v] : n.values) values.push_back(boost::json::array{k, fmt::format("{}", v)});
        nodes.push_back(boost::json::object{{"status", std::string(to_string(n.status))},
                                            {"error", n.error},
                                            {"input_error", n.input_error},
                                            {"error_key", n.error_key},
                                            {"values", std::move(values)},
                                            {"seconds", fmt::format("{}", n.seconds)},
                                            {"reused", n.reused},
                                            {"origin_cell", n.origin_cell}});
    }
    return json_text(boost::json::object{{"cell", outcome.index},
                                         {"configuration", configuration},
                                         {"seconds", fmt::format("{}", outcome.seconds)},
                                         {"nodes", std::move(nodes)}}) +
           "\n";
}

std::optional<CellOutcome> read_cell_record(const std::filesystem::path& file, const std::string& configuration) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return parse_cell_record(text.str(), configuration);
}

std::optional<CellOutcome> parse_cell_record(const std::string& text, const std::string& configuration) {
    try {
        const boost::json::value root = parse_json_precise(text);
        const auto& o = root.as_object();
        if (o.at("configuration").as_string() != configuration) return std::nullopt;
        const auto& list = o.at("nodes").as_array();
        CellOutcome out;
        out.index = static_cast<std::size_t>(o.at("cell").to_number<std::uint64_t>());
        // The cell's wall time as first recorded; unknown (NaN) in records written before it was kept.
        const auto* seconds = o.if_contains("seconds");
        out.seconds = seconds ? std::strtod(std::string(seconds->as_string()).c_str(), nullptr)
                              : std::numeric_limits<double>::quiet_NaN();
        for (const auto& jn : list) {
            const auto& n = jn.as_object();
            NodeOutcome node;
            node.status = status_from(n.at("status").as_string());
            node.error = std::string(n.at("error").as_string());
            node.input_error = n.at("input_error").as_bool();
            node.error_key = std::string(n.at("error_key").as_string());
            for (const auto& kv : n.at("values").as_array()) {
                const auto& pair = kv.as_array();
                // strtod reads back exactly what fmt's shortest round-trip form wrote, nan and inf included.
                node.values.emplace_back(std::string(pair.at(0).as_string()),
                                         std::strtod(std::string(pair.at(1).as_string()).c_str(), nullptr));
            }
            node.seconds = std::strtod(std::string(n.at("seconds").as_string()).c_str(), nullptr);
            node.reused = n.at("reused").as_bool();
            node.origin_cell = static_cast<std::size_t>(n.at("origin_cell").to_number<std::uint64_t>());
            out.nodes.push_back(std::move(node));
        }
        return out;
    } catch (const std::exception&) {
        return std::nullopt;  // an unreadable record: the cell runs again
    }
}

}  // namespace mdlab::runtime
