#include "mdlab/runtime/run_directory.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <vector>

#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>
#include <mdlab/error.hpp>
#include <mdlab/npy.hpp>

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/cell_record.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/progress_bar.hpp"
#include "earlier_cells.hpp"
#include "run_folder_files.hpp"
#include "run_identity.hpp"
#include "run_lock.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

// The marker mdlab-run.json: this pipeline's identity, the digest of it and the mdlab version.
std::string marker_text(const boost::json::object& identity) {
    return json_pretty(boost::json::object{
        {"mdlab_run", "a run folder of mdlab, which writes into it and deletes from it only files of its own"},
        {"mdlab_version", MDLAB_VERSION},
        {"pipeline_digest", identity_digest(identity)},
        {"identity", identity}});
}

// The marker of the run in `dir`; nullopt when it cannot be read.
std::optional<boost::json::object> read_marker(const fs::path& dir) {
    std::ifstream in(dir / run_marker_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    try {
        auto marker = boost::json::parse(text.str()).as_object();
        if (marker.at("identity").is_object()) return marker;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

std::string listed(const std::vector<std::string>& lines) {
    std::string out;
    for (std::size_t i = 0; i < lines.size() && i < 8; ++i) out += "\n    - " + lines[i];
    if (lines.size() > 8) out += "\n    - and " + std::to_string(lines.size() - 8) + " more";
    return out;
}

// The run in the folder is of another pipeline: refused, unless --force replaces it.
void check_same_pipeline(const fs::path& dir, const std::optional<boost::json::object>& marker,
                         const boost::json::object& identity) {
    const char* hint = "choose another --out, or add --force to replace that run's outputs (the same pipeline may "
                       "change its sweep's values and axes, nothing else)";
    if (!marker)
        throw BadInput(folder_error(dir, std::string("cannot read ") + run_marker_file + ", which says which pipeline ran there", hint));
    const auto differences = identity_differences(marker->at("identity").as_object(), identity);
    if (!differences.empty())
        throw BadInput(folder_error(dir, "holds a run of another pipeline:" + listed(differences), hint));
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

fs::path new_run_dir(const fs::path& name) {
    std::error_code ec;
    if (name.has_parent_path()) fs::create_directories(name.parent_path(), ec);
    // mkdir either creates the folder or fails: of two runs started at once, each gets its own.
    for (int k = 1; k <= 1000; ++k) {
        const fs::path dir = k == 1 ? name : fs::path(name.string() + "-" + std::to_string(k));
        if (::mkdir(dir.c_str(), 0777) == 0) return dir;
        if (errno != EEXIST)
            throw BadInput(folder_error(dir, std::string("cannot create the run folder: ") + std::strerror(errno), "choose an --out"));
    }
    throw BadInput(folder_error(name, "1000 run folders of this name exist already", "choose an --out"));
}

RunDirectory::RunDirectory(fs::path dir, bool force, ProgressBar* progress, const ValidatedPipeline& pipeline)
    : dir_(std::move(dir)), progress_(progress) {
    std::error_code ec;
    if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
        throw BadInput(folder_error(dir_, "exists and is not a folder", "choose another --out"));
    fs::create_directories(dir_, ec);
    if (ec) throw BadInput(folder_error(dir_, "cannot create the run folder: " + ec.message(), "choose another --out"));
    // Nothing is written into a folder mdlab did not make, not even the lock.
    const char* foreign = "folder is not empty and holds no earlier run (it has no mdlab-run.json: mdlab did not make it)";
    const char* foreign_hint = "choose another --out: mdlab writes only into an empty folder or one of its own run folders";
    if (folder_kind(dir_) == FolderKind::foreign) throw BadInput(folder_error(dir_, foreign, foreign_hint));
    lock_ = std::make_unique<RunLock>(dir_);
    const FolderKind kind = folder_kind(dir_);  // again, now that no other run can change it
    if (kind == FolderKind::foreign) throw BadInput(folder_error(dir_, foreign, foreign_hint));
    refuse_links_and_special_files(dir_);
    remove_stale_temporaries(dir_);

    const boost::json::object identity = run_identity(pipeline);
    std::string written_by;  // the mdlab version of the run resumed, when it is another one
    if (kind == FolderKind::run) {
        const auto marker = read_marker(dir_);
        if (force)
            remove_own_outputs(dir_);
        else {
            check_same_pipeline(dir_, marker, identity);
            resuming_ = true;
            earlier_ = std::make_unique<EarlierCells>(dir_);
            if (const auto* version = marker->if_contains("mdlab_version");
                version && (!version->is_string() || version->as_string() != MDLAB_VERSION))
                written_by = boost::json::serialize(*version);
        }
    }
    // The marker first: a run stopped at any moment after it leaves a folder the next run takes.
    write_file_atomic(dir_ / run_marker_file, marker_text(identity));
    log_.open(dir_ / "run.log", resuming_ ? std::ios::app : std::ios::trunc);
    if (!log_) throw BadInput(folder_error(dir_, "cannot write run.log in the run folder", "choose another --out"));
    if (!written_by.empty()) log("the run resumed here was written by mdlab " + written_by + "; this is mdlab " MDLAB_VERSION);
}

RunDirectory::~RunDirectory() = default;

void RunDirectory::write(const std::string& name, const std::string& content) const {
    write_file_atomic(dir_ / name, content);
}

fs::path RunDirectory::cell_dir(std::size_t cell) {
    const fs::path p = dir_ / cell_folder(cell);
    std::lock_guard<std::mutex> lock(dir_mutex_);
    fs::create_directories(p);
    // A link put there while the run runs: refused, not written through (those there before were
    // refused when the folder was opened).
    for (const fs::path& own : {dir_ / "cells", p})
        if (fs::is_symlink(own)) throw Error(own.string() + ": a symbolic link in the run folder; mdlab does not write through it");
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
