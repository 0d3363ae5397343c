// Plugin libraries loaded first in a child process (`mdlab probe-plugins`), so that one that
// crashes or hangs while loading (its static initialisers, its plugin table) is named and skipped
// instead of taking mdlab down. In: the library files. Out: the ones that must not be loaded, each
// with what happened. One child loads them all in order; after a crash or a hang it is replaced
// and the rest are probed on.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mdlab::runtime {

// Time one library may take to load in the probe: $MDLAB_PLUGIN_PROBE_TIMEOUT seconds, else 10 s.
std::chrono::milliseconds probe_timeout();

// file -> "was killed by signal 11 (SIGSEGV) while loading", "did not finish loading within
// 10 s". Empty when every library loads, when $MDLAB_PLUGIN_PROBE is 0, or when no mdlab program
// is found to probe with.
std::map<std::filesystem::path, std::string> probe_libraries(const std::vector<std::filesystem::path>& files);

}  // namespace mdlab::runtime
