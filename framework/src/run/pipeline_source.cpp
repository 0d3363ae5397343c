// In: a pipeline file or JSON text, the overrides, the smoke flag. Out: the validated pipeline.
#include "mdlab/runtime/pipeline_source.hpp"

#include <algorithm>
#include <cctype>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace mdlab::runtime {

namespace {

// A name usable as the start of a folder name: a plain file name without path separators,
// spaces or shell characters.
bool plain_file_name(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '_' || c == '-';
    });
}

}  // namespace

PipelineSource PipelineSource::file(std::filesystem::path file) {
    PipelineSource s;
    s.name_ = file.string();
    s.file_ = std::move(file);
    return s;
}

PipelineSource PipelineSource::text(std::string json, std::string name, std::filesystem::path base_dir) {
    PipelineSource s;
    s.text_ = std::move(json);
    s.name_ = std::move(name);
    s.file_ = std::move(base_dir);
    return s;
}

const std::string& PipelineSource::text_or_empty() const {
    static const std::string none;
    return text_ ? *text_ : none;
}

Pipeline PipelineSource::read() const {
    return text_ ? read_pipeline_text(*text_, name_, file_) : read_pipeline(file_);
}

std::filesystem::path PipelineSource::default_run_dir() const {
    if (!text_) return runtime::default_run_dir(file_);
    const std::filesystem::path name(name_);
    return runtime::default_run_dir(plain_file_name(name.stem().string()) ? name : std::filesystem::path("pipeline"));
}

ValidatedPipeline read_and_validate(const PipelineSource& source, const std::vector<std::string>& sets, bool smoke,
                                    const Registry& registry) {
    Pipeline pipeline = source.read();
    // The smoke size's overrides go first, so the command line's --set has the last word.
    std::vector<Override> overrides;
    if (smoke) overrides = apply_smoke(pipeline);
    std::vector<Diagnostic> bad;
    for (const auto& s : sets) {
        try {
            overrides.push_back(parse_override(s));
        } catch (const BadInput& e) {
            bad.insert(bad.end(), e.diagnostics().begin(), e.diagnostics().end());
        }
    }
    if (!bad.empty()) throw BadInput(bad);
    return validate(std::move(pipeline), overrides, registry);
}

}  // namespace mdlab::runtime
