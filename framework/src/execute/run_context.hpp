// The Context a node sees while it runs inside a sweep cell.
#pragma once
#include <atomic>
#include <string>

#include <mdlab/context.hpp>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

class RunContext : public Context {
public:
    RunContext(std::uint64_t seed, std::string node_id, std::size_t cell, std::size_t node_index,
               RunObserver& observer, const std::atomic<bool>& cancel)
        : seed_(seed), node_(std::move(node_id)), cell_(cell), node_index_(node_index), observer_(observer),
          cancel_(cancel) {}

    std::uint64_t seed() const override { return seed_; }
    const std::string& node_id() const override { return node_; }
    const std::filesystem::path& output_dir() const override {
        if (dir_.empty()) dir_ = observer_.cell_dir(cell_);
        return dir_;
    }
    void log(std::string_view message) override { observer_.log(node_ + ": " + std::string(message)); }
    void progress(double fraction) override { observer_.progress(cell_, node_index_, fraction); }
    bool cancelled() const override { return cancel_.load(std::memory_order_relaxed); }

private:
    std::uint64_t seed_;
    std::string node_;
    std::size_t cell_, node_index_;
    RunObserver& observer_;
    const std::atomic<bool>& cancel_;
    mutable std::filesystem::path dir_;
};

}  // namespace mdlab::runtime
