#include "mdlab/runtime/parameter_docs.hpp"

#include <cctype>

#include <fmt/format.h>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/param_binding.hpp"

namespace mdlab::runtime {

namespace {

std::string default_text(const ParamSpec& p) {
    if (p.is_required()) return "required";
    const ParamValue& v = *p.default_value;
    if (const auto* s = std::get_if<std::string>(&v)) return s->empty() ? "\"\"" : *s;
    if (const auto* list = std::get_if<std::vector<double>>(&v)) {
        std::string out;
        for (double x : *list) out += (out.empty() ? "" : ", ") + fmt::format("{}", x);
        return "[" + out + "]";
    }
    return to_text(v);  // bool, int, and doubles in their shortest exact form
}

// Whether a '<' at `at` could open an HTML tag or comment (<node>.loss.csv), unlike "d1 < d2".
bool opens_tag(std::string_view text, std::size_t at) {
    if (text[at] != '<' || at + 1 >= text.size()) return false;
    const char next = text[at + 1];
    return std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!' || next == '?';
}

// A table cell: '|' would end the cell and, outside a code span, a tag-like '<' would vanish.
std::string cell(std::string_view text, bool code = false) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '|' || (!code && opens_tag(text, i))) out += '\\';
        out += (text[i] == '\n' || text[i] == '\r') ? ' ' : text[i];
    }
    return out;
}

std::string_view trimmed(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

constexpr std::string_view open_prefix = "<!-- parameters:";
constexpr std::string_view comment_end = "-->";

Diagnostic marker_error(const std::string& file, std::size_t line, std::string message, std::string hint) {
    Diagnostic d;
    d.file = file;
    d.line = line;
    d.column = 1;
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

}  // namespace

std::vector<ParameterRow> parameter_rows(const PluginSpec& spec) {
    std::vector<ParameterRow> rows;
    for (const auto& p : spec.params)
        rows.push_back({p.key, std::string(to_string(p.type)), p.is_required(), default_text(p), expected_form(p), p.doc});
    return rows;
}

std::string parameter_table_markdown(const PluginSpec& spec) {
    if (spec.params.empty()) return "No parameters.\n";
    std::string out = "| parameter | type | default | accepted values | meaning |\n|---|---|---|---|---|\n";
    for (const auto& r : parameter_rows(spec)) {
        const std::string def = r.required ? r.default_text : "`" + cell(r.default_text, true) + "`";
        out += fmt::format("| `{}` | {} | {} | {} | {} |\n", cell(r.key, true), cell(r.type), def, cell(r.values),
                           cell(r.meaning));
    }
    return out;
}

std::string parameter_region_body(const PluginSpec& spec) { return parameter_table_markdown(spec) + "\n"; }

std::string parameters_marker(std::string_view plugin) { return fmt::format("<!-- parameters: {} -->", plugin); }

std::vector<ParameterRegion> find_parameter_regions(std::string_view text, const std::string& file) {
    std::vector<ParameterRegion> regions;
    bool open = false;
    std::size_t line_no = 0;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t eol = std::min(text.find('\n', at), text.size());
        const std::size_t next = std::min(eol + 1, text.size());
        const std::string_view line = trimmed(text.substr(at, eol - at));
        ++line_no;
        const bool opening = line.substr(0, open_prefix.size()) == open_prefix &&
                             line.size() >= open_prefix.size() + comment_end.size() &&
                             line.substr(line.size() - comment_end.size()) == comment_end;
        if (opening) {
            if (open)
                throw BadInput(marker_error(file, line_no, "a parameters region starts inside the region of '" +
                                                               regions.back().plugin + "' (line " +
                                                               std::to_string(regions.back().line) + ")",
                                            "close that region first with " + std::string(end_parameters_marker)));
            const std::string name(trimmed(line.substr(open_prefix.size(),
                                                       line.size() - open_prefix.size() - comment_end.size())));
            if (name.empty())
                throw BadInput(marker_error(file, line_no, "a parameters marker names no plugin",
                                            "write " + parameters_marker("NAME")));
            regions.push_back({name, line_no, next, 0});
            open = true;
        } else if (line == end_parameters_marker) {
            if (!open)
                throw BadInput(marker_error(file, line_no, "an end of parameters without a region to end",
                                            "open the region with " + parameters_marker("NAME")));
            regions.back().body_end = at;
            open = false;
        }
        at = next;
    }
    if (open)
        throw BadInput(marker_error(file, regions.back().line,
                                    "the parameters region of '" + regions.back().plugin + "' is not closed",
                                    "end it with " + std::string(end_parameters_marker)));
    return regions;
}

}  // namespace mdlab::runtime
