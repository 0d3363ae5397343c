#include "crashed_cells.hpp"

#include <fstream>
#include <sstream>

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/cell_record.hpp"
#include "mdlab/runtime/json_precise_parse.hpp"
#include "mdlab/runtime/json_pretty.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

CrashedCells::CrashedCells(fs::path run_dir) : file_(std::move(run_dir) / crashed_cells_file) {
    std::ifstream in(file_, std::ios::binary);
    if (!in) return;
    std::ostringstream text;
    text << in.rdbuf();
    try {
        const boost::json::value root = parse_json_precise(text.str());  // kept: the loop refers into it
        for (const auto& item : root.as_object().at("cells").as_array()) {
            const auto& o = item.as_object();
            Entry e{static_cast<int>(o.at("attempts").to_number<std::int64_t>()), std::string(o.at("record").as_string())};
            const boost::json::value record = parse_json_precise(e.record);
            std::string configuration(record.as_object().at("configuration").as_string());
            entries_[std::move(configuration)] = std::move(e);
        }
    } catch (const std::exception&) {
        entries_.clear();  // torn or edited: those cells simply run again
    }
}

int CrashedCells::attempts(const std::string& configuration) const {
    const auto it = entries_.find(configuration);
    return it == entries_.end() ? 0 : it->second.attempts;
}

std::optional<CellOutcome> CrashedCells::given_up(std::size_t cell, const std::string& configuration) const {
    const auto it = entries_.find(configuration);
    if (it == entries_.end() || it->second.attempts < attempts_allowed) return std::nullopt;
    auto outcome = parse_cell_record(it->second.record, configuration);
    if (outcome) outcome->index = cell;
    return outcome;
}

void CrashedCells::died(const CellOutcome& outcome, const std::string& configuration) {
    Entry& e = entries_[configuration];
    ++e.attempts;
    e.record = cell_record(outcome, configuration);
    write();
}

void CrashedCells::finished(const std::string& configuration) {
    if (entries_.erase(configuration) == 0) return;
    if (entries_.empty()) {
        std::error_code ec;
        fs::remove(file_, ec);
    } else {
        write();
    }
}

void CrashedCells::write() const {
    boost::json::array cells;
    for (const auto& [configuration, e] : entries_)
        cells.push_back(boost::json::object{{"attempts", e.attempts}, {"record", e.record}});
    write_file_atomic(file_, json_pretty(boost::json::object{{"cells", std::move(cells)}}));
}

}  // namespace mdlab::runtime
