// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once
#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

namespace mdlab::runtime {

class ProgressBar {
public:
    // `cells` sweep cells of `nodes` nodes each; `enabled` false draws nothing.
    ProgressBar(std::size_t cells, std::size_t nodes, bool enabled);
    ~ProgressBar();
    void update(std::size_t cell, std::size_t node, double fraction);
    // Clears the line.
    void finish();
    static bool stderr_is_terminal();
    // Whether it draws anything.
    bool enabled() const { return enabled_; }

private:
    void draw(bool force);
    std::size_t cells_, nodes_;
    bool enabled_;
    std::mutex mutex_;
    std::size_t current_cell_ = 0, cells_done_ = 0;
    std::vector<double> node_fraction_;
    std::chrono::steady_clock::time_point last_draw_{};
    bool drawn_ = false;
};

}  // namespace mdlab::runtime
