// Ctrl-C: the first SIGINT asks the run to stop (samplers poll Context::cancelled); the run
// then writes what it has and exits with code 1. A second SIGINT kills the process.
#pragma once
#include <atomic>

namespace mdlab::runtime {

const std::atomic<bool>& install_interrupt_handler();

}  // namespace mdlab::runtime
