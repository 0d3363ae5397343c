#!/usr/bin/env bash
# Speedup of a sweep of many small cells from one process to two MPI ranks (one thread each),
# and the cost per cell of sharing a sweep out. Not part of the tests: it measures time. Each
# figure is the fastest of REPEAT runs (this machine's timings vary by 20% from run to run).
#
#   bench/mpi_cells.sh [MDLAB] [CELLS] [STEPS] [REPEAT]
#
# MDLAB: the mdlab executable (default build/bin/mdlab); CELLS: cells of the sweep (default 200);
# STEPS: sampler steps per cell, which set a cell's cost (default 100); REPEAT (default 5).
set -euo pipefail
mdlab="${1:-build/bin/mdlab}"
cells="${2:-200}"
steps="${3:-100}"
repeat="${4:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mpirun=(mpirun --oversubscribe)
[[ $(id -u) -eq 0 ]] && mpirun+=(--allow-run-as-root)

source "$(dirname "${BASH_SOURCE[0]}")/sweep_lib.sh"

one_process() { "$mdlab" run "$@"; }
two_ranks() { "${mpirun[@]}" -np 2 "$mdlab" run "$@"; }

time_both one_process two_ranks "1 and 2 ranks" "$cells" "$steps"

awk -v c="$cells" -v st="$steps" -v t1="$t1" -v t2="$t2" -v e1="$e1" -v e2="$e2" -v s1="$s1" -v s2="$s2" 'BEGIN {
  printf "sweep of %d cells (N = 200 points in R^8, %d Euler-Maruyama steps each), fastest of the runs:\n", c, st
  printf "  one process, 1 thread:        %.2f s (%.1f ms per cell)\n", t1, 1000 * (t1 - s1) / c
  printf "  mpirun -np 2, 1 thread each:  %.2f s\n", t2
  printf "  speedup %.2f; %.2f without the start-up of MPI (%.2f s for a one-cell sweep, against %.2f s)\n",
         t1 / t2, (t1 - s1) / (t2 - s2), s2, s1
  printf "sweep of %d nearly empty cells (N = 10, one step): %.1f ms per cell in one process, %.1f ms of rank time per cell on 2 ranks\n",
         c, 1000 * (e1 - s1) / c, 2000 * (e2 - s2) / c
  printf "  cost of sharing out per cell: %.1f ms of rank time\n", (2000 * (e2 - s2) - 1000 * (e1 - s1)) / c
}'
