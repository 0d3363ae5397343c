// User-facing errors: where (file:line:col, JSON path), what (node, key) and how to fix it.
#pragma once
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab::runtime {

// User text (ids, keys, values, file names) made safe to echo on a terminal: control characters
// become visible escapes (\n, \r, \t, \x1b, \u009b; invalid UTF-8 bytes as \xNN), so a name
// cannot move the cursor, clear the screen or hide the rest of a message. keep_lines keeps
// newlines and tabs (for whole messages, whose user parts are escaped already).
std::string printable(std::string_view text, bool keep_lines = false);

struct Diagnostic {
    std::string file;         // pipeline file, plugin library, data file, or "--set" / "command line"
    std::size_t line = 0;     // 1-based; 0 when unknown
    std::size_t column = 0;
    std::string json_path;    // JSON pointer such as /nodes/2/params/t_min
    std::string node;         // node id, when the problem belongs to one
    std::string key;          // parameter key or input port
    std::string message;
    std::string hint;         // the valid alternatives, or how to fix it

    std::string format() const;
};

// Bad input of any kind. The command line reports every diagnostic and exits with code 2.
class BadInput : public std::exception {
public:
    explicit BadInput(std::vector<Diagnostic> diagnostics);
    explicit BadInput(Diagnostic diagnostic) : BadInput(std::vector<Diagnostic>{std::move(diagnostic)}) {}
    const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }
    const char* what() const noexcept override { return text_.c_str(); }

private:
    std::vector<Diagnostic> diagnostics_;
    std::string text_;
};

// Collects diagnostics so that validation reports every problem at once.
class DiagnosticList {
public:
    void add(Diagnostic d) { items_.push_back(std::move(d)); }
    bool empty() const { return items_.empty(); }
    // Throws BadInput when anything was collected.
    void throw_if_any() const {
        if (!items_.empty()) throw BadInput(items_);
    }

private:
    std::vector<Diagnostic> items_;
};

}  // namespace mdlab::runtime
