#include "mdlab/runtime/progress_bar.hpp"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

namespace mdlab::runtime {

ProgressBar::ProgressBar(std::size_t cells, std::size_t nodes, bool enabled)
    : cells_(std::max<std::size_t>(cells, 1)), nodes_(std::max<std::size_t>(nodes, 1)), enabled_(enabled),
      node_fraction_(nodes_, 0.0) {}

ProgressBar::~ProgressBar() { finish(); }

bool ProgressBar::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void ProgressBar::update(std::size_t cell, std::size_t node, double fraction) {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (cell != current_cell_) {
        cells_done_ += cell > current_cell_ ? cell - current_cell_ : 0;
        current_cell_ = cell;
        std::fill(node_fraction_.begin(), node_fraction_.end(), 0.0);
    }
    if (node < node_fraction_.size()) node_fraction_[node] = std::clamp(fraction, 0.0, 1.0);
    draw(false);
}

void ProgressBar::draw(bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    drawn_ = true;
    double in_cell = 0.0;
    for (double f : node_fraction_) in_cell += f;
    const double total = (double(cells_done_) + in_cell / double(nodes_)) / double(cells_);
    const int width = 30, filled = static_cast<int>(total * width);
    std::fprintf(stderr, "\r[%.*s%*s] %5.1f%%  cell %zu/%zu", filled, "##############################",
                 width - filled, "", 100.0 * total, current_cell_ + 1, cells_);
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (drawn_) std::fprintf(stderr, "\r%*s\r", 60, "");
    std::fflush(stderr);
    drawn_ = false;
    enabled_ = false;
}

}  // namespace mdlab::runtime
