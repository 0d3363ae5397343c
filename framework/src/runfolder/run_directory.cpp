#include "mdlab/runtime/run_directory.hpp"

#include <ctime>
#include <vector>

#include <fmt/format.h>
#include <mdlab/npy.hpp>

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/cell_record.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/progress_bar.hpp"
#include "mdlab/runtime/special_files.hpp"
#include "earlier_cells.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

// What a run writes at the top of its folder; --force removes these and nothing else.
const char* const run_outputs[] = {"pipeline.json", "results.json", "results.csv", "summary.csv",
                                   "rates.csv",     "correlations.csv", "equivalence.csv", "report.html",  "run.log", "cells"};


// A run killed while writing (kill -9, power cut) leaves "<file>.tmp.<pid>" beside whole files;
// the files themselves are never torn, so the temporaries are simply dropped.
void remove_stale_temporaries(const fs::path& dir) {
    std::error_code ec;
    std::vector<fs::path> stale;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && it->path().filename().string().find(".tmp.") != std::string::npos)
            stale.push_back(it->path());
    for (const auto& f : stale) fs::remove(f, ec);
}

Diagnostic dir_error(const fs::path& dir, std::string message, std::string hint) {
    Diagnostic d;
    d.file = dir.string();
    d.key = "--out";
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

}  // namespace

fs::path cell_folder(std::size_t cell) { return fs::path("cells") / fmt::format("{:04d}", cell); }

fs::path default_run_dir(const fs::path& pipeline_file) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    return fs::path("runs") / (pipeline_file.stem().string() + "-" + stamp);
}

RunDirectory::RunDirectory(fs::path dir, bool force, ProgressBar* progress) : dir_(std::move(dir)), progress_(progress) {
    std::error_code ec;
    if (fs::exists(dir_, ec)) {
        if (!fs::is_directory(dir_, ec))
            throw BadInput(dir_error(dir_, "exists and is not a folder", "choose another --out"));
        const bool earlier_run = fs::exists(dir_ / "pipeline.json", ec) || fs::exists(dir_ / "cells", ec);
        if (force)
            for (const char* name : run_outputs) fs::remove_all(dir_ / name, ec);
        else if (earlier_run) {
            resuming_ = true;
            refuse_special_files(dir_, "--out");  // before any of its files is opened
            remove_stale_temporaries(dir_);
            earlier_ = std::make_unique<EarlierCells>(dir_);
        }
        else if (!fs::is_empty(dir_, ec))
            throw BadInput(dir_error(dir_, "folder is not empty and holds no earlier run",
                                     "choose another --out (a folder holding an earlier mdlab run is resumed; "
                                     "--force replaces such a run's outputs)"));
    }
    fs::create_directories(dir_, ec);
    if (ec) throw BadInput(dir_error(dir_, "cannot create the run folder: " + ec.message(), "choose another --out"));
    log_.open(dir_ / "run.log", resuming_ ? std::ios::app : std::ios::trunc);
    if (!log_) throw BadInput(dir_error(dir_, "cannot write run.log in the run folder", "choose another --out"));
}

RunDirectory::~RunDirectory() = default;

void RunDirectory::write(const std::string& name, const std::string& content) const {
    write_file_atomic(dir_ / name, content);
}

fs::path RunDirectory::cell_dir(std::size_t cell) {
    const fs::path p = dir_ / cell_folder(cell);
    std::lock_guard<std::mutex> lock(dir_mutex_);
    fs::create_directories(p);
    return p;
}

void RunDirectory::log(const std::string& line) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    log_ << line << '\n';
    log_.flush();
}

void RunDirectory::progress(std::size_t cell, std::size_t node, double fraction) {
    if (progress_) progress_->update(cell, node, fraction);
}

void RunDirectory::points(std::size_t cell, const std::string& node, const Matrix& points) {
    npy::write(cell_dir(cell) / (node + ".npy"), points);
}

}  // namespace mdlab::runtime

namespace mdlab::runtime {

std::optional<CellOutcome> RunDirectory::finished(std::size_t cell, const std::string& configuration) {
    if (!earlier_) return std::nullopt;
    auto earlier = earlier_->take(cell, configuration);  // failed cells run again
    if (!earlier) return std::nullopt;
    ++resumed_;
    const std::size_t was = earlier_->earlier_index();
    log("cell " + std::to_string(cell) + " finished in an earlier run" +
        (was == cell ? "" : " (as cell " + std::to_string(was) + ")") + ": not run again");
    show_done(*earlier);
    return earlier;
}

void RunDirectory::cell_finished(const CellOutcome& outcome, const std::string& configuration) {
    write_file_atomic(cell_dir(outcome.index) / "cell.json", cell_record(outcome, configuration));
    if (earlier_) earlier_->ran(outcome, configuration);
    show_done(outcome);  // a cell run on another MPI rank reports no progress of its own
}

void RunDirectory::show_done(const CellOutcome& outcome) {
    if (progress_)
        for (std::size_t i = 0; i < outcome.nodes.size(); ++i) progress_->update(outcome.index, i, 1.0);
}

}  // namespace mdlab::runtime
