// Where in-process components run: a Context with the caller's seed and node id whose output
// folder (loss curves, trajectories) is a scratch folder removed afterwards, and the same kind
// of observer for pipeline nodes built through runtime::compute_node.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include <mdlab/context.hpp>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::python {

// A fresh temporary folder, created on first use and removed with the object.
class ScratchFolder {
public:
    ScratchFolder() = default;
    ScratchFolder(const ScratchFolder&) = delete;
    ScratchFolder& operator=(const ScratchFolder&) = delete;
    ~ScratchFolder();
    const std::filesystem::path& path() const;

private:
    mutable std::filesystem::path dir_;
};

class ScratchContext : public Context {
public:
    ScratchContext(std::uint64_t seed, std::string node_id) : seed_(seed), node_(std::move(node_id)) {}
    std::uint64_t seed() const override { return seed_; }
    const std::string& node_id() const override { return node_; }
    const std::filesystem::path& output_dir() const override { return folder_.path(); }
    void log(std::string_view) override {}
    void progress(double) override {}
    bool cancelled() const override { return false; }

private:
    std::uint64_t seed_;
    std::string node_;
    ScratchFolder folder_;
};

// Observer of a partial run (pipe.node()): files into a scratch folder, nothing reported.
class ScratchObserver : public runtime::RunObserver {
public:
    std::filesystem::path cell_dir(std::size_t) override { return folder_.path(); }
    void log(const std::string&) override {}
    void progress(std::size_t, std::size_t, double) override {}
    void points(std::size_t, const std::string&, const Matrix&) override {}

private:
    ScratchFolder folder_;
};

}  // namespace mdlab::python
