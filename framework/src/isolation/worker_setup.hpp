// What a cell worker process needs to run cells of the parent's pipeline: the plugin libraries
// the parent loaded (in its order, so the same plugin wins a shadowed name), where the pipeline
// comes from, the --set overrides, the smoke flag and the thread count. The worker validates
// the pipeline itself and checks each cell's configuration against the parent's.
#pragma once
#include <string>
#include <vector>

#include "mdlab/runtime/pipeline_source.hpp"

namespace mdlab::runtime {

struct WorkerSetup {
    std::vector<std::string> libraries;
    bool source_is_text = false;
    std::string source_path;  // the file, or the text's base folder
    std::string source_text, source_name;
    std::vector<std::string> sets;
    bool smoke = false;
    int threads = 0;

    PipelineSource source() const;
};

WorkerSetup worker_setup(const Registry& registry, const PipelineSource& source, const std::vector<std::string>& sets,
                         bool smoke, int threads);
std::string encode(const WorkerSetup& setup);
WorkerSetup decode_worker_setup(const std::string& bytes);

}  // namespace mdlab::runtime
