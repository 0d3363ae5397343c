// A JSON file (comments and trailing commas allowed) with the source position of every value,
// so errors can say file:line:col.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include <boost/json/value.hpp>

namespace mdlab::runtime {

struct SourcePos {
    std::size_t line = 0, column = 0;
};

class JsonDocument {
public:
    // Parses text; throws BadInput with the line:col of a syntax error. `name` labels messages.
    static JsonDocument parse(std::string text, std::string name);
    // Reads and parses a file; throws BadInput when it cannot be read.
    static JsonDocument load(const std::filesystem::path& file);

    const boost::json::value& root() const { return root_; }
    const std::string& name() const { return name_; }
    // Position of the value at a JSON pointer (e.g. /nodes/1/params/n); for an object member
    // `key_of` gives the position of its key instead. {0,0} when unknown.
    SourcePos position(const std::string& pointer) const;
    SourcePos key_position(const std::string& pointer) const;

private:
    std::string name_;
    boost::json::value root_;
    std::map<std::string, SourcePos> value_pos_, key_pos_;
    friend class JsonLocator;
};

// Escapes a key for use in a JSON pointer (~ -> ~0, / -> ~1).
std::string pointer_escape(const std::string& key);

}  // namespace mdlab::runtime
