// The cells an earlier run finished, found by configuration (see earlier_cells.hpp).
#include "earlier_cells.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include "mdlab/runtime/json_precise_parse.hpp"

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/cell_record.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

std::string read_all(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The configuration a record holds, when it is a whole record of a successful cell.
std::optional<std::string> recorded_configuration(const fs::path& record) {
    const std::string text = read_all(record);
    try {
        const boost::json::value root = parse_json_precise(text);
        std::string configuration(root.as_object().at("configuration").as_string());
        const auto outcome = parse_cell_record(text, configuration);
        if (outcome && outcome->ok()) return configuration;
    } catch (const std::exception&) {
    }
    return std::nullopt;  // torn, unreadable or failed: that cell runs again
}

// A configuration's lines: one node signature per node, by node index.
std::vector<std::string> signatures_of(const std::string& configuration) {
    std::vector<std::string> out;
    std::istringstream in(configuration);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

}  // namespace

EarlierCells::EarlierCells(fs::path run_dir) : dir_(std::move(run_dir)) {
    std::error_code ec;
    std::vector<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(dir_ / "cells", ec)) {
        if (!entry.is_directory(ec)) continue;
        if (entry.path().filename() != "earlier") {
            folders.push_back(entry.path());
            continue;
        }
        for (const auto& kept : fs::directory_iterator(entry.path(), ec))
            if (kept.is_directory(ec)) folders.push_back(kept.path());
    }
    for (const fs::path& folder : folders)
        if (auto configuration = recorded_configuration(folder / "cell.json"))
            unclaimed_.emplace(std::move(*configuration), folder);
}

std::optional<CellOutcome> EarlierCells::take(std::size_t cell, const std::string& configuration) {
    std::lock_guard<std::mutex> lock(mutex_);
    const fs::path target = dir_ / cell_folder(cell);
    const std::vector<std::string> signatures = signatures_of(configuration);
    // The record already in place first: taking it moves nothing.
    std::vector<std::multimap<std::string, fs::path>::iterator> candidates;
    for (auto [it, end] = unclaimed_.equal_range(configuration); it != end; ++it)
        candidates.insert(it->second == target ? candidates.begin() : candidates.end(), it);
    for (auto it : candidates) {
        const fs::path from = it->second;
        auto outcome = usable(from, cell, signatures, configuration);
        if (!outcome) continue;
        unclaimed_.erase(it);
        if (from != target) {
            clear(target);
            std::error_code ec;
            fs::rename(from, target, ec);
            if (ec) {  // the record stays where it is, for another run; this cell runs
                unclaimed_.emplace(configuration, from);
                clear(target);
                return std::nullopt;
            }
            if (from.parent_path().filename() == "earlier") fs::remove(from.parent_path(), ec);  // once empty
        }
        for (std::size_t i = 0; i < outcome->nodes.size(); ++i)
            if (!outcome->nodes[i].reused) holders_.emplace(signatures[i], cell);
        // Renumbered (another index, origins elsewhere): the record says so, for the next run.
        const std::string record = cell_record(*outcome, configuration);
        if (read_all(target / "cell.json") != record) write_file_atomic(target / "cell.json", record);
        return outcome;
    }
    clear(target);
    return std::nullopt;
}

std::optional<CellOutcome> EarlierCells::usable(const fs::path& folder, std::size_t cell,
                                                const std::vector<std::string>& signatures,
                                                const std::string& configuration) {
    auto outcome = read_cell_record(folder / "cell.json", configuration);
    if (!outcome || !outcome->ok() || outcome->nodes.size() != signatures.size()) return std::nullopt;
    for (std::size_t i = 0; i < outcome->nodes.size(); ++i) {
        NodeOutcome& node = outcome->nodes[i];
        if (!node.reused) {
            node.origin_cell = cell;
            continue;
        }
        const auto holder = holders_.find(signatures[i]);
        if (holder == holders_.end()) return std::nullopt;  // its files went with a cell the sweep lost
        node.origin_cell = holder->second;
    }
    earlier_index_ = outcome->index;
    outcome->index = cell;
    return outcome;
}

void EarlierCells::clear(const fs::path& folder) {
    std::error_code ec;
    if (!fs::exists(folder, ec)) return;
    if (const auto configuration = recorded_configuration(folder / "cell.json"))
        for (auto [it, end] = unclaimed_.equal_range(*configuration); it != end; ++it) {
            if (it->second != folder) continue;
            const fs::path kept = dir_ / "cells" / "earlier";
            fs::create_directories(kept, ec);
            std::size_t k = 0;
            while (fs::exists(kept / std::to_string(k), ec)) ++k;
            fs::rename(folder, kept / std::to_string(k), ec);
            if (ec) break;  // cannot keep it: the cell runs over it
            it->second = kept / std::to_string(k);
            return;
        }
    fs::remove_all(folder, ec);
}

void EarlierCells::ran(const CellOutcome& outcome, const std::string& configuration) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::vector<std::string> signatures = signatures_of(configuration);
    for (std::size_t i = 0; i < outcome.nodes.size() && i < signatures.size(); ++i)
        if (outcome.nodes[i].status == NodeStatus::ok && !outcome.nodes[i].reused)
            holders_.emplace(signatures[i], outcome.index);
}

}  // namespace mdlab::runtime
