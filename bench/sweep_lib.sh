# Shared by the sweep benchmarks (mpi_cells.sh, isolated_cells.sh): a pipeline of many small
# cells, the fastest of several timed runs, results.csv without its wall-time columns.
# Expects $work (a scratch folder) and $repeat to be set by the script that sources it.

sweep() {  # cells, sampler steps, points -> pipeline file
  local file="$work/sweep-$1-$2-$3.json"
  {
    echo '{"seed": 1, "nodes": ['
    echo ' {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 8}},'
    echo " {\"id\": \"train\", \"plugin\": \"sample\", \"params\": {\"n\": $3}, \"inputs\": {\"manifold\": \"circle\"}},"
    echo ' {"id": "vp", "plugin": "vp"},'
    echo ' {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},'
    echo " {\"id\": \"gen\", \"plugin\": \"euler_maruyama\", \"params\": {\"n\": $3, \"steps\": $2}, \"inputs\": {\"score\": \"score\"}},"
    echo ' {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}],'
    echo " \"sweep\": {\"grid\": {\"seed\": [$(seq -s, 1 "$1")]}}}"
  } > "$file"
  echo "$file"
}

fastest() {  # command... -> the fastest wall time of $repeat runs, in seconds
  local best="" t0 t1 i
  for ((i = 0; i < repeat; ++i)); do
    rm -rf "$work/out"
    t0=$(date +%s.%N)
    "$@" --out "$work/out" -q --threads 1 > /dev/null
    t1=$(date +%s.%N)
    best=$(awk -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { t = b - a; print (best == "" || t < best) ? t : best }')
  done
  echo "$best"
}

# Every column but the wall times (named wall_s or <node>.wall_s: measured, they differ between
# runs; this sweep's fields hold no quoted commas).
without_wall_times() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) keep[i] = $i !~ /(^|[.])wall_s$/ }
           { out = ""; sep = ""; for (i = 1; i <= NF; ++i) if (keep[i]) { out = out sep $i; sep = "," }; print out }' "$1"
}

# Times the three sweeps (CELLS cells of STEPS steps on 200 points; CELLS nearly empty cells; one
# nearly empty cell) under two ways of running, `first` and `second` (functions taking the
# pipeline and mdlab run's options), and checks that both write the same results.csv. Sets
# t1 t2 (the sweep), e1 e2 (the empty cells), s1 s2 (the single cell), in seconds.
#   time_both first second "what differs" cells steps
time_both() {
  local first="$1" second="$2" what="$3" small empty single
  small="$(sweep "$4" "$5" 200)"
  empty="$(sweep "$4" 1 10)"
  single="$(sweep 1 1 10)"
  t1=$(fastest "$first" "$small")
  t2=$(fastest "$second" "$small")
  e1=$(fastest "$first" "$empty")
  e2=$(fastest "$second" "$empty")
  s1=$(fastest "$first" "$single")
  s2=$(fastest "$second" "$single")
  "$first" "$small" --out "$work/r1" -q --threads 1 > /dev/null
  "$second" "$small" --out "$work/r2" -q --threads 1 > /dev/null
  cmp -s <(without_wall_times "$work/r1/results.csv") <(without_wall_times "$work/r2/results.csv") ||
    { echo "results.csv differs between $what" >&2; exit 1; }
}
