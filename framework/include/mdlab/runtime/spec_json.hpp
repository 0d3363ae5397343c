// A plugin's spec for people and programs. In: a loaded plugin's record. Out: the JSON of
// `mdlab describe NAME --json` (and of each entry of `mdlab plugins --json`), the text of
// `mdlab describe NAME`, and the plugin or kind a user named, or BadInput with the valid names.
// The command and the Python package (mdlab.describe, mdlab.plugins) share them.
#pragma once
#include <string>

#include <boost/json/object.hpp>

#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime {

// name, kind, version, summary, library, params (key, type, default, required, range or
// choices, doc), inputs (port, kind, required, doc).
boost::json::object spec_json(const PluginRecord& rec);

// The same in words: the header, the inputs and the parameter table, each line ending in '\n'.
std::string spec_text(const PluginRecord& rec);

// The plugin called `name`; else BadInput naming `origin` (where the name came from), with the
// closest names and `listing` (what lists them all, e.g. "`mdlab plugins`").
const PluginRecord& plugin_named(const Registry& registry, const std::string& name, const std::string& origin,
                                 const std::string& listing);

// The kind called `text` (manifold, process, ...); else BadInput naming `origin` and `key`.
Kind kind_named(const std::string& text, const std::string& origin, const std::string& key);

}  // namespace mdlab::runtime
