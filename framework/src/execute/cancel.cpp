#include "mdlab/runtime/cancel.hpp"

#include <csignal>

namespace mdlab::runtime {

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
    if (interrupted.exchange(true)) {
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
    }
}

}  // namespace

const std::atomic<bool>& install_interrupt_handler() {
    std::signal(SIGINT, on_interrupt);
    std::signal(SIGTERM, on_interrupt);
    return interrupted;
}

}  // namespace mdlab::runtime
