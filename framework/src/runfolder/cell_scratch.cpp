#include "mdlab/runtime/cell_scratch.hpp"

#include <fstream>
#include <sstream>

#include <mdlab/error.hpp>
#include <mdlab/npy.hpp>

#include "mdlab/runtime/run_directory.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

CellScratch::CellScratch(fs::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error(dir_.string() + ": cannot create the scratch folder: " + ec.message());
}

CellScratch::~CellScratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

fs::path CellScratch::cell_dir(std::size_t cell) {
    const fs::path p = dir_ / cell_folder(cell);
    std::lock_guard<std::mutex> lock(mutex_);
    fs::create_directories(p);
    return p;
}

void CellScratch::log(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.push_back(line);
}

void CellScratch::points(std::size_t cell, const std::string& node, const Matrix& points) {
    npy::write(cell_dir(cell) / (node + ".npy"), points);
}

CellScratch::Taken CellScratch::take(std::size_t cell) {
    Taken taken;
    const fs::path folder = dir_ / cell_folder(cell);
    std::error_code ec;
    if (fs::exists(folder, ec)) {
        for (const auto& entry : fs::recursive_directory_iterator(folder)) {
            if (!entry.is_regular_file()) continue;
            std::ifstream in(entry.path(), std::ios::binary);
            std::ostringstream content;
            content << in.rdbuf();
            if (!in) throw Error(entry.path().string() + ": cannot read back the cell's file");
            taken.files.emplace_back(fs::relative(entry.path(), folder).generic_string(), content.str());
        }
        fs::remove_all(folder, ec);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    taken.log.swap(log_);
    return taken;
}

}  // namespace mdlab::runtime
