#include "worker_setup.hpp"

#include "../mpi/byte_codec.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime {

PipelineSource WorkerSetup::source() const {
    return source_is_text ? PipelineSource::text(source_text, source_name, source_path)
                          : PipelineSource::file(source_path);
}

WorkerSetup worker_setup(const Registry& registry, const PipelineSource& source, const std::vector<std::string>& sets,
                         bool smoke, int threads, bool progress) {
    WorkerSetup s;
    for (const auto& file : registry.library_files()) s.libraries.push_back(file.string());
    s.source_is_text = source.is_text();
    s.source_path = source.file_or_base_dir().string();
    s.source_text = source.text_or_empty();
    s.source_name = source.name();
    s.sets = sets;
    s.smoke = smoke;
    s.threads = threads;
    s.progress = progress;
    return s;
}

namespace {

void texts(ByteWriter& w, const std::vector<std::string>& v) {
    w.count(v.size());
    for (const auto& s : v) w.text(s);
}

std::vector<std::string> texts(ByteReader& r) {
    std::vector<std::string> v(r.count());
    for (auto& s : v) s = r.text();
    return v;
}

}  // namespace

std::string encode(const WorkerSetup& s) {
    ByteWriter w;
    texts(w, s.libraries);
    w.count(s.source_is_text ? 1 : 0);
    w.text(s.source_path);
    w.text(s.source_text);
    w.text(s.source_name);
    texts(w, s.sets);
    w.count(s.smoke ? 1 : 0);
    w.count(static_cast<std::uint64_t>(s.threads));
    w.count(s.progress ? 1 : 0);
    return w.take();
}

WorkerSetup decode_worker_setup(const std::string& bytes) {
    ByteReader r(bytes, "cell worker setup");
    WorkerSetup s;
    s.libraries = texts(r);
    s.source_is_text = r.count() != 0;
    s.source_path = r.text();
    s.source_text = r.text();
    s.source_name = r.text();
    s.sets = texts(r);
    s.smoke = r.count() != 0;
    s.threads = static_cast<int>(r.count());
    s.progress = r.count() != 0;
    r.finish();
    return s;
}

}  // namespace mdlab::runtime
