#include "library_probe.hpp"

#include <cstdlib>
#include <string_view>

#include <dlfcn.h>

#include <mdlab/plugin.hpp>

#include "../mpi/byte_codec.hpp"
#include "cell_worker_handle.hpp"
#include "mdlab/runtime/cell_worker.hpp"
#include "child_process.hpp"

namespace mdlab::runtime {

namespace {

namespace frame {
constexpr char files = 'f';    // parent -> child: the library files
constexpr char started = 'n';  // child -> parent: file i starts loading
constexpr char loaded = 'd';   // child -> parent: file i loaded (or failed to, which the parent reports itself)
}  // namespace frame

std::string index_text(std::size_t i) {
    ByteWriter w;
    w.count(i);
    return w.take();
}

std::size_t index_of(const std::string& payload) {
    ByteReader r(payload, "probe frame");
    return r.count();
}

// Probes files[from...] in one child; returns the index it stopped at (files.size(): all done)
// and, for a crash or a hang, records the file it was loading.
std::size_t probe_from(const std::string& program, const std::vector<std::filesystem::path>& files, std::size_t from,
                       std::map<std::filesystem::path, std::string>& bad) {
    ChildProcess child(program, {"probe-plugins"});
    ByteWriter w;
    w.count(files.size() - from);
    for (std::size_t i = from; i < files.size(); ++i) w.text(files[i].string());
    if (!child.send(Frame{frame::files, w.take()})) return files.size();  // it could not start: nothing to learn
    std::size_t next = from;  // the file being loaded (or the next one)
    for (Frame f;;) {
        switch (child.next(f, probe_timeout())) {
        case ChildProcess::Next::frame:
            if (f.type == frame::started) next = from + index_of(f.payload);
            if (f.type == frame::loaded) next = from + index_of(f.payload) + 1;
            if (next >= files.size()) return files.size();
            break;
        case ChildProcess::Next::timeout:
            child.kill();
            bad[files[next]] = "did not finish loading within " +
                               std::to_string(probe_timeout().count() / 1000.0).substr(0, 4) + " s";
            return next + 1;
        case ChildProcess::Next::ended: {
            const std::string how = child.how_it_ended();
            if (how == "exited with code 127" && next == from) return files.size();  // the program is not runnable
            bad[files[next]] = how + " while loading";
            return next + 1;
        }
        }
    }
}

}  // namespace

std::chrono::milliseconds probe_timeout() {
    if (const char* given = std::getenv("MDLAB_PLUGIN_PROBE_TIMEOUT")) {
        char* end = nullptr;
        const double seconds = std::strtod(given, &end);
        if (end != given && *end == '\0' && seconds > 0 && seconds < 1e6)
            return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
    return std::chrono::seconds(10);
}

std::map<std::filesystem::path, std::string> probe_libraries(const std::vector<std::filesystem::path>& files) {
    std::map<std::filesystem::path, std::string> bad;
    const char* off = std::getenv("MDLAB_PLUGIN_PROBE");
    if (files.empty() || (off && std::string_view(off) == "0")) return bad;
    const std::string program = worker_program();
    if (program.empty()) return bad;
    for (std::size_t next = 0; next < files.size();) next = probe_from(program, files, next, bad);
    return bad;
}

int serve_library_probe() {
    ParentChannel parent;
    const auto request = parent.receive();
    if (!request || request->type != frame::files) return 1;
    ByteReader r(request->payload, "probe request");
    const std::size_t n = r.count();
    for (std::size_t i = 0; i < n; ++i) {
        const std::string file = r.text();
        parent.send(Frame{frame::started, index_text(i)});
        // As the registry loads it; then its entry points, which build the plugin specs.
        if (void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
            using abi_fn = const void* (*)();
            if (auto abi = reinterpret_cast<abi_fn>(::dlsym(handle, abi_symbol))) abi();
            if (auto table = reinterpret_cast<abi_fn>(::dlsym(handle, table_symbol))) table();
        }
        parent.send(Frame{frame::loaded, index_text(i)});
    }
    return 0;
}

}  // namespace mdlab::runtime
