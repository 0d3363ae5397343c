// The key a refusal names: what f throws as a user error, or a marker when it throws something
// else or nothing.
#pragma once
#include <string>

#include <mdlab/mdlab.hpp>

#include "mdlab/runtime/diagnostics.hpp"

namespace mdlab::test {

template <class F>
std::string error_key(F&& f) {
    try {
        f();
    } catch (const mdlab::runtime::BadInput& e) {
        return e.diagnostics().empty() ? "<no diagnostic>" : e.diagnostics()[0].key;
    } catch (const mdlab::InputError& e) {
        return e.key();
    } catch (...) {
        return "<another exception>";
    }
    return "<none>";
}

}  // namespace mdlab::test
