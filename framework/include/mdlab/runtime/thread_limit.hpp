// In: a thread count. Out: oneTBB limited to that many worker threads while the object lives.
#pragma once
#include <cstddef>
#include <optional>

#include <tbb/global_control.h>

namespace mdlab::runtime {

// Limits TBB to `threads` worker threads while it lives (0: no limit, all cores).
class ThreadLimit {
public:
    explicit ThreadLimit(int threads) {
        if (threads > 0) limit_.emplace(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    }

private:
    std::optional<tbb::global_control> limit_;
};

}  // namespace mdlab::runtime
