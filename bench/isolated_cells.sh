#!/usr/bin/env bash
# What running cells in worker processes (--isolation process, the default) costs against running
# them in mdlab's own process (--isolation none): once per run (the worker starts, loads the
# plugins and validates the pipeline) and per cell (the cell request, the packet back, the cell's
# files copied from the scratch folder). Not part of the tests: it measures time. Each figure is
# the fastest of REPEAT runs; both modes must write the same results.csv.
#
#   bench/isolated_cells.sh [MDLAB] [CELLS] [STEPS] [REPEAT]
#
# MDLAB: the mdlab executable (default build/bin/mdlab); CELLS: cells of the sweep (default 400);
# STEPS: sampler steps per cell of the ordinary sweep (default 100); REPEAT (default 5).
set -euo pipefail
mdlab="${1:-build/bin/mdlab}"
cells="${2:-400}"
steps="${3:-100}"
repeat="${4:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/sweep_lib.sh"

isolated() { "$mdlab" run "$@" --isolation process; }
in_process() { "$mdlab" run "$@" --isolation none; }

time_both in_process isolated "--isolation process and none" "$cells" "$steps"

awk -v c="$cells" -v st="$steps" -v tn="$t1" -v ti="$t2" -v en="$e1" -v ei="$e2" -v sn="$s1" -v si="$s2" 'BEGIN {
  printf "sweep of %d cells (N = 200 points in R^8, %d Euler-Maruyama steps each), 1 thread, fastest of the runs:\n", c, st
  printf "  --isolation none:     %.3f s\n", tn
  printf "  --isolation process:  %.3f s (ratio %.3f)\n", ti, ti / tn
  printf "one-cell sweep: %.1f ms isolated, %.1f ms in one process: the worker costs %.1f ms once per run\n",
         1000 * si, 1000 * sn, 1000 * (si - sn)
  printf "sweep of %d nearly empty cells (N = 10, one step): %.3f ms per cell isolated, %.3f ms in one process\n",
         c, 1000 * (ei - si) / c, 1000 * (en - sn) / c
  printf "  cost of isolation per cell: %.3f ms\n", 1000 * ((ei - si) - (en - sn)) / c
}'
