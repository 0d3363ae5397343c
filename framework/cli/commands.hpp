// The mdlab subcommands. Each returns the process exit code: 0 success, 1 a failed run,
// 2 bad input (BadInput thrown from here is reported by main and also gives 2).
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mdlab/runtime/registry.hpp"

namespace mdlab::cli {

struct RunArgs {
    std::filesystem::path pipeline;
    std::filesystem::path out;  // empty: runs/<stem>-<time>
    std::vector<std::string> sets;
    int threads = 0;  // 0: all cores
    bool force = false;
    bool quiet = false;
};

struct ListArgs {
    std::string kind;  // empty: all
    bool json = false;
};

struct DescribeArgs {
    std::string name;
    bool json = false;
};

// Loads the plugins from --plugin-dir folders, MDLAB_PLUGIN_PATH and the standard places.
void load_plugins(runtime::Registry& registry, const std::vector<std::filesystem::path>& plugin_dirs);

int run(const RunArgs& args, const runtime::Registry& registry);
int validate(const std::filesystem::path& pipeline, const std::vector<std::string>& sets, const runtime::Registry& registry);
int list_plugins(const ListArgs& args, const runtime::Registry& registry);
int describe(const DescribeArgs& args, const runtime::Registry& registry);

}  // namespace mdlab::cli
