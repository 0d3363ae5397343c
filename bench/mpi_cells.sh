#!/usr/bin/env bash
# Speedup of a sweep of many small cells from one process to MPI ranks (one thread each), and
# the cost per cell of sharing it out. Not part of the tests: it measures time.
#
#   bench/mpi_cells.sh [MDLAB] [CELLS] [STEPS]
#
# MDLAB: the mdlab executable (default build/bin/mdlab); CELLS: cells of the sweep (default 200);
# STEPS: sampler steps per cell, which sets a cell's cost (default 100).
set -euo pipefail
mdlab="${1:-build/bin/mdlab}"
cells="${2:-200}"
steps="${3:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mpirun=(mpirun --oversubscribe)
[[ $(id -u) -eq 0 ]] && mpirun+=(--allow-run-as-root)

sweep() {  # number of cells -> pipeline file
  local n="$1" file="$work/sweep-$1.json"
  {
    echo '{"seed": 1, "nodes": ['
    echo ' {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 8}},'
    echo ' {"id": "train", "plugin": "sample", "params": {"n": 200}, "inputs": {"manifold": "circle"}},'
    echo ' {"id": "vp", "plugin": "vp"},'
    echo ' {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},'
    echo " {\"id\": \"gen\", \"plugin\": \"euler_maruyama\", \"params\": {\"n\": 200, \"steps\": $steps}, \"inputs\": {\"score\": \"score\"}},"
    echo ' {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}],'
    echo " \"sweep\": {\"grid\": {\"seed\": [$(seq -s, 1 "$n")]}}}"
  } > "$file"
  echo "$file"
}

seconds() {  # command... -> wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' 
}

big="$(sweep "$cells")"
one="$(sweep 1)"
t1=$(seconds "$mdlab" run "$big" --out "$work/r1" -q --threads 1)
t1_0=$(seconds "$mdlab" run "$one" --out "$work/r1_0" -q --threads 1)
t2=$(seconds "${mpirun[@]}" -np 2 "$mdlab" run "$big" --out "$work/r2" -q --threads 1)
t2_0=$(seconds "${mpirun[@]}" -np 2 "$mdlab" run "$one" --out "$work/r2_0" -q --threads 1)
cmp -s "$work/r1/results.csv" "$work/r2/results.csv" || { echo "results.csv differs between 1 and 2 ranks" >&2; exit 1; }

awk -v c="$cells" -v t1="$t1" -v t1_0="$t1_0" -v t2="$t2" -v t2_0="$t2_0" 'BEGIN {
  printf "cells %d; one process, 1 thread: %.2f s (%.1f ms per cell)\n", c, t1, 1000 * (t1 - t1_0) / c
  printf "mpirun -np 2, 1 thread each: %.2f s; speedup %.2f (%.2f without the start-up of MPI)\n", t2, t1 / t2, (t1 - t1_0) / (t2 - t2_0)
  printf "start-up: one-cell sweep %.2f s in one process, %.2f s under mpirun -np 2\n", t1_0, t2_0
  printf "cost of sharing out, per cell (rank time): %.2f ms\n", 1000 * (2 * (t2 - t2_0) - (t1 - t1_0)) / c
}'
