// A plugin's parameters as documentation: rows taken from its spec, a Markdown table of them, and
// the marked regions of a Markdown file that hold such tables (`mdlab docs` keeps
// docs/plugins.md in step with the specs this way). The rows are what a Python docstring would
// render too.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <mdlab/spec.hpp>

namespace mdlab::runtime {

// One parameter, in words.
struct ParameterRow {
    std::string key;
    std::string type;          // to_string(ParamType): bool, int, real, string, choice, path, ...
    bool required = false;     // no default: the pipeline must give it
    std::string default_text;  // 1000, 0.001, uniform, "" (an empty string), [] or "required"
    std::string values;        // what is accepted, worded as the validator's errors word it
    std::string meaning;       // the spec's doc line
};

// The rows in the order the plugin declares its parameters.
std::vector<ParameterRow> parameter_rows(const PluginSpec& spec);

// A Markdown table with the columns parameter, type, default, accepted values and meaning
// ('|' and a '<' that could open an HTML tag escaped, line breaks made spaces), each line
// ending in '\n'; a sentence saying so for a plugin without parameters.
std::string parameter_table_markdown(const PluginSpec& spec);

// A region of a Markdown file that holds one plugin's generated table:
//   <!-- parameters: NAME -->
//   ...generated...
//   <!-- end parameters -->
struct ParameterRegion {
    std::string plugin;
    std::size_t line = 0;        // 1-based line of the opening marker
    std::size_t body_begin = 0;  // offset of the first character after the opening marker's line
    std::size_t body_end = 0;    // offset of the closing marker's line
};

std::string parameters_marker(std::string_view plugin);
inline constexpr std::string_view end_parameters_marker = "<!-- end parameters -->";

// The regions in file order. A marker line without its partner, or an opening marker inside a
// region, throws BadInput naming `file` and the line.
std::vector<ParameterRegion> find_parameter_regions(std::string_view text, const std::string& file);

// What a region should hold for a plugin: its table followed by a blank line.
std::string parameter_region_body(const PluginSpec& spec);

}  // namespace mdlab::runtime
