// A plugin's heavy backend library, loaded on first use (the pattern of the libtorch plugins
// `mlp` and `drifting_generator`).
//
// Why: the host loads every plugin library when it starts, and loading libtorch costs about a
// second and 150 MB for each mdlab command and test, whether or not a pipeline uses the
// network. So the plugin library declares the plugin and does not link the large dependency;
// its backend, <folder of the plugin library>/<folder>/<file>, does, and is opened only when a
// node needs it. The folder keeps the registry (which loads files mdlab_*.so of the plugin
// folder) from taking the backend for a plugin. The backend exports two extern "C" functions: a
// factory and its MDLAB_BUILD_SIGNATURE, which must equal the plugin's.
#pragma once
#include <dlfcn.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>

#include "mdlab/abi.hpp"
#include "mdlab/error.hpp"

namespace mdlab {

// The backend's factory, of type Factory (a function pointer), loaded once per process and
// never unloaded (libtorch does not support being unloaded). A failed load is retried on the
// next call. `who` names the plugin in messages, `dependency` the large library ("libtorch").
template <class Factory>
class LazyBackend {
public:
    LazyBackend(std::string who, std::string dependency, std::string folder, std::string file, std::string factory_symbol,
                std::string signature_symbol)
        : who_(std::move(who)), dependency_(std::move(dependency)), folder_(std::move(folder)), file_(std::move(file)),
          factory_symbol_(std::move(factory_symbol)), signature_symbol_(std::move(signature_symbol)) {}

    // `anchor`: any address inside the plugin library (a function of it), to find its folder.
    Factory factory(const void* anchor) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (factory_) return factory_;
        Dl_info info{};
        if (!dladdr(anchor, &info) || !info.dli_fname)
            throw Error(who_ + ": cannot locate the plugin library to find its " + dependency_ + " backend");
        const std::filesystem::path path = std::filesystem::path(info.dli_fname).parent_path() / folder_ / file_;
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* why = dlerror();
            throw Error(who_ + ": cannot load the " + dependency_ + " backend " + path.string() + ": " +
                        (why ? why : "unknown error") + " (the plugin was built against " + dependency_ + "; check that " +
                        dependency_ + " is installed, or reinstall the plugin with its " + folder_ + " folder)");
        }
        using SignatureFn = const char* (*)();
        auto signature = reinterpret_cast<SignatureFn>(dlsym(handle, signature_symbol_.c_str()));
        auto made = reinterpret_cast<Factory>(dlsym(handle, factory_symbol_.c_str()));
        if (!signature || !made)
            throw Error(who_ + ": " + path.string() + " lacks the backend entry points " + factory_symbol_ + " and " +
                        signature_symbol_);
        if (std::strcmp(signature(), build_signature) != 0)
            throw Error(who_ + ": the " + dependency_ + " backend " + path.string() + " was built with other settings (" +
                        signature() + ") than the plugin (" + build_signature + "); rebuild both");
        factory_ = made;
        return factory_;
    }

private:
    std::string who_, dependency_, folder_, file_, factory_symbol_, signature_symbol_;
    std::mutex mutex_;
    Factory factory_ = nullptr;
};

}  // namespace mdlab
