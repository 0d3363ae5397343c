#include "mdlab/runtime/run_directory.hpp"

#include <ctime>

#include <fmt/format.h>
#include <mdlab/npy.hpp>

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/progress_bar.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

// What a run writes at the top of its folder; --force removes these and nothing else.
const char* const run_outputs[] = {"pipeline.json", "results.json", "results.csv", "run.log", "cells"};

Diagnostic dir_error(const fs::path& dir, std::string message, std::string hint) {
    Diagnostic d;
    d.file = dir.string();
    d.key = "--out";
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

}  // namespace

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
        if (!fs::is_empty(dir_, ec)) {
            if (!force)
                throw BadInput(dir_error(dir_, "folder is not empty",
                                         "choose another --out, or add --force to replace an earlier run's outputs there"));
            for (const char* name : run_outputs) fs::remove_all(dir_ / name, ec);
        }
    }
    fs::create_directories(dir_, ec);
    if (ec) throw BadInput(dir_error(dir_, "cannot create the run folder: " + ec.message(), "choose another --out"));
    log_.open(dir_ / "run.log", std::ios::trunc);
    if (!log_) throw BadInput(dir_error(dir_, "cannot write run.log in the run folder", "choose another --out"));
}

RunDirectory::~RunDirectory() = default;

void RunDirectory::write(const std::string& name, const std::string& content) const {
    write_file_atomic(dir_ / name, content);
}

fs::path RunDirectory::cell_dir(std::size_t cell) {
    const fs::path p = dir_ / "cells" / fmt::format("{:04d}", cell);
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
