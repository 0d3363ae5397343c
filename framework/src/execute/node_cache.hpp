// Node outputs kept between sweep cells. A node whose configuration (id, plugin, parameters,
// seed and, recursively, its inputs) is the same in the next cell is not run again, so
// compared alternatives see the very same data, and only what the current cell uses is kept.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "node_runner.hpp"

namespace mdlab::runtime {

class NodeCache {
public:
    std::optional<NodeResult> find(const std::string& signature) const {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = entries_.find(signature);
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }
    void store(const std::string& signature, const NodeResult& result) {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_[signature] = result;
    }
    // Drops every entry the given signatures do not name.
    void retain(const std::set<std::string>& signatures) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end();)
            it = signatures.count(it->first) ? std::next(it) : entries_.erase(it);
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, NodeResult> entries_;
};

}  // namespace mdlab::runtime
