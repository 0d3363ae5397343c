// Which files of a run folder are mdlab's (see run_folder_files.hpp).
#include "run_folder_files.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "run_lock.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

// What a run writes at the top of its folder, besides its marker, its lock and cells/.
const char* const run_outputs[] = {"pipeline.json", "results.json",     "results.csv",     "summary.csv", "rates.csv",
                                   "correlations.csv", "equivalence.csv", "report.html", "run.log", "crashed-cells.json"};

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "<name>.tmp.<pid>": write_file_atomic's temporary of `name`.
bool temporary_of(const std::string& file, const std::string& name) {
    const std::string prefix = name + ".tmp.";
    return file.size() > prefix.size() && file.compare(0, prefix.size(), prefix) == 0 && all_digits(file.substr(prefix.size()));
}

bool own_output(const std::string& name) {
    return std::any_of(std::begin(run_outputs), std::end(run_outputs),
                       [&](const char* own) { return name == own || temporary_of(name, own); });
}

// A top-level entry of a run folder that mdlab writes.
bool own_entry(const std::string& name) {
    return own_output(name) || name == "cells" || name == run_lock_file || name == run_marker_file ||
           temporary_of(name, run_marker_file);
}

// A folder under cells/ that mdlab made: a cell's (NNNN) or that of the records kept (earlier).
bool own_cell_folder(const fs::directory_entry& entry) {
    const std::string name = entry.path().filename().string();
    std::error_code ec;
    return (all_digits(name) || name == "earlier") && entry.is_directory(ec) && !entry.is_symlink(ec);
}

// Why `status` is not a regular file or folder ("a symbolic link", "a FIFO", ...); empty when it is one.
std::string not_plain(const fs::file_status& status) {
    switch (status.type()) {
        case fs::file_type::regular:
        case fs::file_type::directory:
        case fs::file_type::not_found: return {};
        case fs::file_type::symlink: return "a symbolic link";
        case fs::file_type::fifo: return "a FIFO";
        case fs::file_type::socket: return "a socket";
        case fs::file_type::block: return "a block device";
        case fs::file_type::character: return "a character device";
        default: return "not a regular file";
    }
}

}  // namespace

Diagnostic folder_error(const fs::path& dir, std::string message, std::string hint) {
    Diagnostic d;
    d.file = dir.string();
    d.key = "--out";
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

FolderKind folder_kind(const fs::path& dir) {
    std::error_code ec;
    bool marker = false, other = false;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name == run_marker_file)
            marker = true;
        else if (name != run_lock_file && !temporary_of(name, run_marker_file))
            other = true;
    }
    if (ec) throw BadInput(folder_error(dir, "cannot read the run folder: " + ec.message(), "choose another --out"));
    return marker ? FolderKind::run : other ? FolderKind::foreign : FolderKind::fresh;
}

void refuse_links_and_special_files(const fs::path& dir) {
    std::vector<std::string> bad;
    std::error_code ec;
    auto check = [&](const fs::path& path) {
        std::error_code status_ec;
        const std::string why = not_plain(fs::symlink_status(path, status_ec));
        if (!why.empty()) bad.push_back(path.lexically_relative(dir).string() + " is " + why);
    };
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (own_entry(it->path().filename().string())) check(it->path());
    if (fs::is_directory(fs::symlink_status(dir / "cells", ec))) {
        // The iterator does not follow links: a linked folder is reported, not entered.
        for (auto it = fs::recursive_directory_iterator(dir / "cells", ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            check(it->path());
    }
    if (bad.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < bad.size() && i < 5; ++i) list += (i ? "; " : "") + bad[i];
    if (bad.size() > 5) list += "; and " + std::to_string(bad.size() - 5) + " more";
    throw BadInput(folder_error(dir, "holds what mdlab never writes into a run folder: " + list,
                                "mdlab does not write through links nor into special files: remove them, or choose "
                                "another --out"));
}

void remove_own_outputs(const fs::path& dir) {
    std::vector<fs::path> files, cells;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (own_output(it->path().filename().string())) files.push_back(it->path());
    for (auto it = fs::directory_iterator(dir / "cells", ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (own_cell_folder(*it)) cells.push_back(it->path());
    for (const fs::path& file : files)
        if (fs::is_regular_file(fs::symlink_status(file, ec))) fs::remove(file, ec);
    for (const fs::path& cell : cells) fs::remove_all(cell, ec);
    fs::remove(dir / "cells", ec);  // only when nothing else is left in it
}

void remove_stale_temporaries(const fs::path& dir) {
    std::vector<fs::path> stale;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.find(".tmp.") != std::string::npos && own_entry(name)) stale.push_back(it->path());
    }
    for (auto it = fs::recursive_directory_iterator(dir / "cells", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->path().filename().string().find(".tmp.") != std::string::npos) stale.push_back(it->path());
    for (const auto& f : stale)
        if (fs::is_regular_file(fs::symlink_status(f, ec))) fs::remove(f, ec);
}

}  // namespace mdlab::runtime
