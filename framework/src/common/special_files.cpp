#include "mdlab/runtime/special_files.hpp"

#include <vector>

#include <mdlab/regular_file.hpp>

#include "mdlab/runtime/diagnostics.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

void refuse_special_files(const fs::path& folder, const std::string& key) {
    std::vector<Diagnostic> found;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        // The entry's cached type first: a plain file or folder needs no further system call.
        const fs::file_type type = it->symlink_status(ec).type();
        if (type == fs::file_type::regular || type == fs::file_type::directory) continue;
        const std::string what = not_regular_file(it->path());
        if (what.empty() || what == "a folder") continue;
        Diagnostic d;
        d.file = it->path().string();
        d.key = key;
        d.message = "is " + what + ", not a file mdlab wrote; it is never opened";
        d.hint = "remove it: a run folder holds only the files mdlab writes";
        found.push_back(std::move(d));
    }
    if (!found.empty()) throw BadInput(std::move(found));
}

}  // namespace mdlab::runtime
