// Where in-process components run: a scratch observer (files into a folder removed afterwards,
// nothing reported) for pipeline nodes built through runtime::compute_node, and the runtime's
// node Context over one for components built from Python with the caller's seed and node id.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "mdlab/runtime/executor.hpp"
#include "run_context.hpp"

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

// Observer of a partial run (pipe.node()): files into a scratch folder, nothing reported.
// The folder is made on first use only (most components write no file).
class ScratchObserver : public runtime::OneFolderObserver {
public:
    ScratchObserver() : OneFolderObserver({}) {}
    std::filesystem::path cell_dir(std::size_t) override { return folder_.path(); }

private:
    ScratchFolder folder_;
};

namespace detail {
struct ObserverHolder {
    ScratchObserver observer;
};
}  // namespace detail

// The runtime's own node Context, over a scratch observer and a flag that is never set.
class ScratchContext : private detail::ObserverHolder, public runtime::RunContext {
public:
    ScratchContext(std::uint64_t seed, std::string node_id)
        : RunContext(seed, std::move(node_id), 0, 0, observer, never_cancelled()) {}

private:
    static const std::atomic<bool>& never_cancelled() {
        static const std::atomic<bool> flag{false};
        return flag;
    }
};

}  // namespace mdlab::python
