// The bench's settings as command-line input: errors that name the option behind them, and the
// estimator's and components' parameters bound exactly as a pipeline node's are.
#pragma once
#include <string>
#include <vector>

#include <boost/json/value.hpp>
#include <mdlab/error.hpp>
#include <mdlab/params.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime::bench {

// Bad input at a command-line option.
Diagnostic option_error(const std::string& option, std::string message, std::string hint = {});

// One parameter given on the command line, with the option that set it (for messages).
struct Setting {
    std::string key;
    boost::json::value value;
    std::string option;
};

// The plugin's defaults overridden by the settings, each checked against the plugin's spec
// exactly as a pipeline node's params are. Throws BadInput naming the options.
Params bind_settings(const PluginRecord& rec, const std::vector<Setting>& settings);

// A duration in seconds in (0, 10], else BadInput naming `option`.
void check_peak_seconds(double seconds, const std::string& option);

// What the command-line option behind a plugin's InputError key is.
std::string option_for_key(const std::string& key, const std::vector<Setting>& settings);

// Runs f; an InputError a plugin throws becomes bad input naming the option behind its key.
template <class F>
auto as_bad_input(const std::vector<Setting>& settings, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const InputError& e) {
        throw BadInput(option_error(option_for_key(e.key(), settings), e.what()));
    }
}

}  // namespace mdlab::runtime::bench
