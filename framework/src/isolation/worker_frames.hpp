// The frames a cell worker and its parent exchange (child_process.hpp carries them).
#pragma once

namespace mdlab::runtime::worker_frame {

// Parent -> worker.
constexpr char setup = 's';  // WorkerSetup (worker_setup.hpp), once, first
constexpr char cell = 'c';   // a cell index and its configuration: run it
// Worker -> parent.
constexpr char ready = 'r';         // the pipeline validated: cells may come
constexpr char failed = 'e';        // setup failed or the pipeline changed: text, then the worker ends
constexpr char node_started = 'n';  // cell, node
constexpr char node_ended = 'd';    // cell, node
constexpr char progress = 'g';      // cell, node, fraction
constexpr char log = 'l';           // a line for run.log
constexpr char packet = 'p';        // the cell's CellPacket (cell_packet.hpp)
constexpr char exited = 'x';        // a plugin called exit(code) during the cell: the code

}  // namespace mdlab::runtime::worker_frame
