// What a cell worker process needs to run cells of the parent's pipeline: the plugin libraries
// the parent loaded (in its order, so the same plugin wins a shadowed name), where the pipeline
// comes from, the --set overrides, the smoke flag, the thread count and whether progress is shown. The worker validates
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
    bool progress = false;  // the parent draws a progress bar: the worker sends its nodes' progress

    PipelineSource source() const;
};

WorkerSetup worker_setup(const Registry& registry, const PipelineSource& source, const std::vector<std::string>& sets,
                         bool smoke, int threads, bool progress);
std::string encode(const WorkerSetup& setup);
WorkerSetup decode_worker_setup(const std::string& bytes);

}  // namespace mdlab::runtime
