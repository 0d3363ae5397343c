// The processes mdlab starts itself. A cell worker process (`mdlab cell-worker`, started by a run with isolated cells): it reads
// its setup from its parent, validates the pipeline, then runs the cells the parent sends, one
// at a time, and sends each back as a packet. Its exit code: 0 when the parent has no more
// cells, 2 when the setup was refused, 1 on an internal error.
#pragma once

namespace mdlab::runtime {

int serve_cell_worker();

// The child that loads plugin libraries before the registry does (`mdlab probe-plugins`,
// src/isolation/library_probe.hpp): it loads the files its parent sends, one by one, saying when
// each starts and ends. Exit code 0.
int serve_library_probe();

}  // namespace mdlab::runtime
