// Folders mdlab reads back (a run folder on resume) holding FIFOs, devices or sockets: refused
// before any file of them is opened, since a FIFO blocks its reader and a device never ends.
#pragma once
#include <filesystem>
#include <string>

namespace mdlab::runtime {

// Throws BadInput (exit 2) naming every entry under `folder` (recursively) that is neither a
// regular file nor a folder (symbolic links judged by what they point to); `key` names the
// argument that gave the folder (such as "--out").
void refuse_special_files(const std::filesystem::path& folder, const std::string& key);

}  // namespace mdlab::runtime
