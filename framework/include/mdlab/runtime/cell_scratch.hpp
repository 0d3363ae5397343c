// The observer of an MPI worker rank: its cells write their files into a private scratch
// folder, and take() hands each cell's files and log lines over for sending to rank 0.
#pragma once
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

class CellScratch : public RunObserver {
public:
    // Creates `dir` (mdlab::Error when it cannot); the destructor removes it.
    explicit CellScratch(std::filesystem::path dir);
    ~CellScratch() override;
    CellScratch(const CellScratch&) = delete;
    CellScratch& operator=(const CellScratch&) = delete;

    std::filesystem::path cell_dir(std::size_t cell) override;
    void log(const std::string& line) override;
    void progress(std::size_t, std::size_t, double) override {}
    void points(std::size_t cell, const std::string& node, const Matrix& points) override;

    struct Taken {
        std::vector<std::pair<std::string, std::string>> files;  // path inside the cell folder, content
        std::vector<std::string> log;
    };
    // The files cell `cell` wrote (then removed from the scratch folder) and the log lines since
    // the last take().
    Taken take(std::size_t cell);

private:
    std::filesystem::path dir_;
    std::mutex mutex_;
    std::vector<std::string> log_;
};

}  // namespace mdlab::runtime
