// Which files of a run folder are mdlab's. A folder mdlab made holds mdlab-run.json (its marker:
// the pipeline's identity, see run_identity.hpp) beside the files a run writes at its top
// (pipeline.json, results.*, summary.csv, ..., run.log, mdlab-run.lock) and cells/, whose
// NNNN/ and earlier/ folders hold the cells' files. Anything else there is someone else's: mdlab
// neither writes it nor deletes it. A folder without the marker is mdlab's only while it is empty
// (or holds nothing but the lock and marker temporaries of a run stopped at its very start).
#pragma once
#include <filesystem>
#include <string>

#include "mdlab/runtime/diagnostics.hpp"

namespace mdlab::runtime {

// The marker's name in a run folder.
inline constexpr const char* run_marker_file = "mdlab-run.json";

enum class FolderKind {
    fresh,    // empty, or holding only what a run stopped before writing its marker leaves
    run,      // holds mdlab's marker: an mdlab run folder
    foreign,  // anything else: not mdlab's to write into
};
FolderKind folder_kind(const std::filesystem::path& dir);

// Throws BadInput when one of mdlab's own paths in `dir` (a top-level output, cells/ and all
// under it) is a symbolic link or a special file (FIFO, socket, device): mdlab writes and reads
// only regular files and folders of its own, never through a link.
void refuse_links_and_special_files(const std::filesystem::path& dir);

// --force: removes mdlab's outputs (not the marker nor the lock, which the new run keeps) and the
// cell folders under cells/; whatever else is there stays.
void remove_own_outputs(const std::filesystem::path& dir);

// A run killed while writing (kill -9, power cut) leaves "<file>.tmp.<pid>" beside whole files
// (never a torn file): those of mdlab's own files are dropped.
void remove_stale_temporaries(const std::filesystem::path& dir);

// A diagnostic about the run folder (`--out`).
Diagnostic folder_error(const std::filesystem::path& dir, std::string message, std::string hint);

}  // namespace mdlab::runtime
