// The folder a run writes to: pipeline.json, results.json, results.csv, run.log, and
// cells/NNNN/<node>.npy for every node that produces points, cells/NNNN/cell.json for every
// finished cell. Every file except the log is written atomically. A run into a folder that holds
// an earlier run of the same pipeline resumes it: cells finished there with the same
// configuration, whatever their index was, are not run again.
//
// The folder belongs to one run: the run holds its lock (mdlab-run.lock) while it runs, and its
// marker (mdlab-run.json) says which pipeline ran there. mdlab writes only into an empty folder or
// one of its own, never through a link (src/runfolder/run_folder_files.hpp).
#pragma once
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <mdlab/array.hpp>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

class ProgressBar;
class EarlierCells;
class RunLock;

class RunDirectory : public RunObserver {
public:
    // Creates `dir` and locks it for this run of `pipeline`. A folder holding an earlier run of the
    // same pipeline (run_identity.hpp: its sweep may differ) is resumed, unless `force`, which
    // removes that run's outputs (and nothing else) first. BadInput: another run holds the folder;
    // it holds a run of another pipeline (without `force`); it is not empty and mdlab did not make
    // it; one of mdlab's paths in it is a link or a special file.
    RunDirectory(std::filesystem::path dir, bool force, ProgressBar* progress, const ValidatedPipeline& pipeline);
    ~RunDirectory() override;

    const std::filesystem::path& path() const { return dir_; }
    bool resuming() const { return resuming_; }
    std::size_t resumed_cells() const { return resumed_; }
    void write(const std::string& name, const std::string& content) const;

    std::filesystem::path cell_dir(std::size_t cell) override;
    void log(const std::string& line) override;
    void progress(std::size_t cell, std::size_t node, double fraction) override;
    void points(std::size_t cell, const std::string& node, const Matrix& points) override;
    std::optional<CellOutcome> finished(std::size_t cell, const std::string& configuration) override;
    void cell_finished(const CellOutcome& outcome, const std::string& configuration) override;

private:
    void show_done(const CellOutcome& outcome);  // the progress bar: every node of the cell done
    std::filesystem::path dir_;
    ProgressBar* progress_;
    bool resuming_ = false;
    std::size_t resumed_ = 0;
    std::unique_ptr<RunLock> lock_;           // held while this object lives
    std::unique_ptr<EarlierCells> earlier_;  // when resuming: the records found in the folder
    std::mutex log_mutex_, dir_mutex_;
    std::ofstream log_;
};

// A cell's folder inside the run folder: cells/NNNN.
std::filesystem::path cell_folder(std::size_t cell);

// Default run folder: runs/<pipeline file stem>-<YYYYmmdd-HHMMSS>.
std::filesystem::path default_run_dir(const std::filesystem::path& pipeline_file);

// Creates a new, empty folder named `name`, or (that name taken) `name`-2, `name`-3, ...: two runs
// started in the same second get a folder each. Returns the one created.
std::filesystem::path new_run_dir(const std::filesystem::path& name);

}  // namespace mdlab::runtime
