// The folder a run writes to: pipeline.json, results.json, results.csv, run.log, and
// cells/NNNN/<node>.npy for every node that produces points. Every file except the log is
// written atomically.
#pragma once
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>

#include <mdlab/array.hpp>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

class ProgressBar;

class RunDirectory : public RunObserver {
public:
    // Creates `dir`. A non-empty folder is refused (BadInput) unless `force`, which removes the
    // outputs of an earlier run there (and nothing else).
    RunDirectory(std::filesystem::path dir, bool force, ProgressBar* progress);
    ~RunDirectory() override;

    const std::filesystem::path& path() const { return dir_; }
    void write(const std::string& name, const std::string& content) const;

    std::filesystem::path cell_dir(std::size_t cell) override;
    void log(const std::string& line) override;
    void progress(std::size_t cell, std::size_t node, double fraction) override;
    void points(std::size_t cell, const std::string& node, const Matrix& points) override;

private:
    std::filesystem::path dir_;
    ProgressBar* progress_;
    std::mutex log_mutex_, dir_mutex_;
    std::ofstream log_;
};

// Default run folder: runs/<pipeline file stem>-<YYYYmmdd-HHMMSS>.
std::filesystem::path default_run_dir(const std::filesystem::path& pipeline_file);

}  // namespace mdlab::runtime
