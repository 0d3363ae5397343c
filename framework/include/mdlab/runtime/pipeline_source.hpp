// In: where a pipeline comes from (a file, or JSON text with a name), the --set overrides, the
// smoke flag and the registry. Out: the validated pipeline, or BadInput naming file:line:col.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime {

class PipelineSource {
public:
    // A pipeline file; messages name it as given.
    static PipelineSource file(std::filesystem::path file);
    // JSON text (comments and trailing commas allowed); `name` labels messages and the default
    // run folder. Relative file paths inside it resolve against `base_dir` (default: the
    // working folder).
    static PipelineSource text(std::string json, std::string name = "<string>", std::filesystem::path base_dir = {});

    // What messages and the run's log call the pipeline: the file as given, or the text's name.
    const std::string& name() const { return name_; }
    // Reads the structure (fields, types, ids); plugin-level checks come in validate().
    Pipeline read() const;
    // runs/<stem>-<time>: the file's stem; for text, the name's stem when that is a plain word
    // (letters, digits, '.', '_', '-'), else "pipeline" (as for the default name "<string>").
    std::filesystem::path default_run_dir() const;

    // What it was made from (a cell worker process makes the same source again).
    bool is_text() const { return text_.has_value(); }
    const std::filesystem::path& file_or_base_dir() const { return file_; }
    const std::string& text_or_empty() const;

private:
    std::filesystem::path file_;       // the file, or the text's base folder
    std::optional<std::string> text_;  // set for text
    std::string name_;
};

// Reads a pipeline, applies its smoke size (if asked) and then the --set overrides
// ("node.key=value", which have the last word), and validates it against the registry. Every
// problem found is reported at once in one BadInput.
ValidatedPipeline read_and_validate(const PipelineSource& source, const std::vector<std::string>& sets, bool smoke,
                                    const Registry& registry);

}  // namespace mdlab::runtime
