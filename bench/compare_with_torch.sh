#!/usr/bin/env bash
# Runs mdlab and the PyTorch reference (torch_score_reference.py) on the same workload, prints
# both and the speed ratio. Builds nothing. Two comparisons:
#
#   per step (default): `mdlab bench score --json` against the reference's per-step mode; the
#     ratio is PyTorch ms per step / mdlab ms per step (medians).
#   whole run (--run): `mdlab bench run --json` (spatial index on, as the empirical estimator's
#     default) against the reference's --run mode, and `mdlab bench run --param
#     spatial_index=false` (dense) unless --no-dense; the ratio is PyTorch's total seconds / mdlab's,
#     with the time of each band of steps on every side.
#
#   bench/compare_with_torch.sh [MDLAB] [--run] [-N n] [-M m] [-D d] [-S s] [--t-min t]
#                               [--precision f64|f32] [--threads t] [--torch-steps s]
#                               [--torch-json FILE] [--save-torch FILE] [--no-dense] [--bands b]
#
# MDLAB: the mdlab executable (default build/bin/mdlab). Defaults N = M = 4096, D = 16, f64,
# 2 threads; S = 5 and t_min = 1e-3 per step, S = 200 and t_min = 1e-5 with --run. mdlab runs on
# the instruction-set path MDLAB_ISA names in the environment (unset: the best the CPU runs), so
# the comparison can be repeated per path. --torch-steps: per step, fewer timed PyTorch steps
# (about half a second each at the default size; the median per step is compared either way);
# with --run, PyTorch times only the first s steps of the S-step run and its total is
# EXTRAPOLATED (labelled so in the output). --save-torch FILE keeps the reference's JSON;
# --torch-json FILE uses such a file instead of running the reference again (its workload must
# match). The Python interpreter is $PYTHON, else the first of python3, /usr/bin/python3 that
# imports torch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mdlab="build/bin/mdlab"
n=4096 m=4096 d=16 s="" t_min="" precision=f64 threads=2 torch_steps="" run=0 dense=1 bands=8
torch_json="" save_torch=""

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || { echo "compare_with_torch.sh: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -N) need_value "$@"; n="$2"; shift 2 ;;
    -M) need_value "$@"; m="$2"; shift 2 ;;
    -D) need_value "$@"; d="$2"; shift 2 ;;
    -S) need_value "$@"; s="$2"; shift 2 ;;
    --t-min) need_value "$@"; t_min="$2"; shift 2 ;;
    --precision) need_value "$@"; precision="$2"; shift 2 ;;
    --threads) need_value "$@"; threads="$2"; shift 2 ;;
    --torch-steps) need_value "$@"; torch_steps="$2"; shift 2 ;;
    --torch-json) need_value "$@"; torch_json="$2"; shift 2 ;;
    --save-torch) need_value "$@"; save_torch="$2"; shift 2 ;;
    --bands) need_value "$@"; bands="$2"; shift 2 ;;
    --run) run=1; shift ;;
    --no-dense) dense=0; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "compare_with_torch.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) mdlab="$1"; shift ;;
  esac
done
if [[ $run == 1 ]]; then s="${s:-200}" t_min="${t_min:-1e-5}"; else s="${s:-5}" t_min="${t_min:-1e-3}"; fi
for v in "$n" "$m" "$d" "$s" "$threads" "$bands" ${torch_steps:+"$torch_steps"}; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "compare_with_torch.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ "$precision" == f64 || "$precision" == f32 ]] || { echo "compare_with_torch.sh: --precision is f64 or f32, not '$precision'" >&2; exit 2; }
[[ -x "$mdlab" ]] || { echo "compare_with_torch.sh: no mdlab executable at '$mdlab' (give its path as the first argument)" >&2; exit 2; }
[[ -z "$torch_json" || -r "$torch_json" ]] || { echo "compare_with_torch.sh: cannot read --torch-json '$torch_json'" >&2; exit 2; }
if [[ $run == 1 && -n "$torch_steps" ]] && (( torch_steps > s )); then
  echo "compare_with_torch.sh: --torch-steps $torch_steps is more than the run's $s steps" >&2; exit 2
fi

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import torch" >/dev/null 2>&1; then python="$p"; break; fi
  done
fi
if [[ -z "$python" ]]; then
  [[ -n "$torch_json" ]] && command -v python3 >/dev/null 2>&1 && python=python3  # only to read the JSON
fi
[[ -n "$python" ]] || { echo "compare_with_torch.sh: no Python with PyTorch found (set PYTHON; Debian: apt install python3-torch)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
precision_opt=()
[[ "$precision" == f64 ]] || precision_opt=(--precision "$precision")

echo "workload: N = $n, M = $m, D = $d, S = $s, t_min = $t_min, $precision, $threads threads, MDLAB_ISA=${MDLAB_ISA:-(unset)}" >&2
if [[ $run == 1 ]]; then
  workload=(--train "$n" --queries "$m" --dim "$d" --steps "$s" --t-min "$t_min" --threads "$threads")
  echo "running mdlab bench run (spatial index on) ..." >&2
  "$mdlab" bench run "${workload[@]}" --bands "$bands" --param spatial_index=true "${precision_opt[@]}" --json > "$tmp/mdlab.json"
  if [[ $dense == 1 ]]; then
    echo "running mdlab bench run --param spatial_index=false (dense) ..." >&2
    "$mdlab" bench run "${workload[@]}" --bands "$bands" --param spatial_index=false "${precision_opt[@]}" --json > "$tmp/dense.json"
  else
    echo "{}" > "$tmp/dense.json"
  fi
  torch_args=(--run --train "$n" --queries "$m" --dim "$d" --steps "$s" --t-min "$t_min" --precision "$precision"
              --threads "$threads" --json ${torch_steps:+--max-steps "$torch_steps"})
else
  echo "running mdlab bench score ..." >&2
  "$mdlab" bench score --estimator empirical --train "$n" --queries "$m" --dim "$d" --steps "$s" --t-min "$t_min" \
    --threads "$threads" "${precision_opt[@]}" --json > "$tmp/mdlab.json"
  torch_args=(--train "$n" --queries "$m" --dim "$d" --steps "${torch_steps:-$s}" --t-min "$t_min"
              --precision "$precision" --threads "$threads" --json)
fi
if [[ -n "$torch_json" ]]; then
  echo "using the PyTorch result in $torch_json (not run again)" >&2
  cp "$torch_json" "$tmp/torch.json"
else
  echo "running the PyTorch reference ($python) ..." >&2
  "$python" "$here/torch_score_reference.py" "${torch_args[@]}" > "$tmp/torch.json"
fi
[[ -z "$save_torch" ]] || cp "$tmp/torch.json" "$save_torch"

if [[ $run == 0 ]]; then
"$python" - "$tmp/mdlab.json" "$tmp/torch.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
for key in ("n_train", "n_queries", "dim", "precision"):
    if a[key] != b[key]:
        sys.exit(f"compare_with_torch.sh: the PyTorch result has {key} = {b[key]}, mdlab {a[key]}")
if b.get("mode") == "run":
    sys.exit("compare_with_torch.sh: the PyTorch result is a whole run (--run); compare it with --run")
print("mdlab bench score:")
print(json.dumps(a, indent=2))
print("PyTorch reference:")
print(json.dumps(b, indent=2))
print()
print(f"{'':22s} {'mdlab':>12s} {'PyTorch':>12s}")
print(f"{'ms per step (median)':22s} {a['ms_per_step']:12.2f} {b['ms_per_step']:12.2f}")
print(f"{'GFLOP/s (flop model)':22s} {a['gflops']:12.2f} {b['gflops']:12.2f}")
print(f"{'peak RSS (MB)':22s} {a['peak_rss_mb']:12.1f} {b['peak_rss_mb']:12.1f}")
print(f"{'timed steps':22s} {a['steps']:12d} {b['steps']:12d}")
print(f"mdlab kernel path: {a['path']} ({a['path_chosen_by']}; CPU: {a['cpu']})")
print(f"mdlab at {100 * a['peak_fraction']:.1f}% of its measured FMA peak ({a['peak_gflops']:.1f} GFLOP/s {a['precision']})")
print(f"speed ratio (PyTorch ms / mdlab ms per step): {b['ms_per_step'] / a['ms_per_step']:.1f}x")
PY
exit 0
fi

"$python" - "$tmp/mdlab.json" "$tmp/dense.json" "$tmp/torch.json" "$bands" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))       # mdlab, spatial index on
dense = json.load(open(sys.argv[2]))   # mdlab dense, or {}
b = json.load(open(sys.argv[3]))       # PyTorch
nbands = int(sys.argv[4])
if b.get("mode") != "run":
    sys.exit("compare_with_torch.sh: the PyTorch result is not a whole run (made without --run)")
for key in ("n_train", "n_queries", "dim", "steps", "t_min", "precision"):
    if a[key] != b[key]:
        sys.exit(f"compare_with_torch.sh: the PyTorch result has {key} = {b[key]}, mdlab {a[key]}")

sides = [("mdlab (index)", a)] + ([("mdlab (dense)", dense)] if dense else []) + [("PyTorch (dense)", b)]
print("mdlab bench run (spatial index on):")
print(json.dumps({k: v for k, v in a.items() if not k.startswith("step_")}, indent=2))
if dense:
    print("mdlab bench run --param spatial_index=false:")
    print(json.dumps({k: v for k, v in dense.items() if not k.startswith("step_")}, indent=2))
print("PyTorch reference (--run):")
print(json.dumps({k: v for k, v in b.items() if not k.startswith("step_")}, indent=2))
print()
S = a["steps"]
extrapolated = b.get("extrapolated", False)
print(f"whole run: N = {a['n_train']}, M = {a['n_queries']}, D = {a['dim']}, {S} steps on the log-SNR grid "
      f"t = 1 -> {a['t_min']:g} (sigma {a['sigma_first_step']:.3g} -> {a['sigma_last_step']:.3g}), {a['precision']}, "
      f"{a['threads']} threads")
print(f"mdlab kernel path: {a['path']} ({a['path_chosen_by']}; CPU: {a['cpu']})")
print()
print(f"{'':24s}" + "".join(f"{name:>18s}" for name, _ in sides))
print(f"{'total seconds':24s}" + "".join(f"{o['total_seconds']:18.3f}" for _, o in sides)
      + ("   (PyTorch EXTRAPOLATED from %d of %d steps)" % (b["steps_timed"], S) if extrapolated else ""))
print(f"{'ms per step (mean)':24s}" + "".join(f"{1e3 * o['total_seconds'] / S:18.2f}" for _, o in sides))
print(f"{'peak RSS (MB)':24s}" + "".join(f"{o['peak_rss_mb']:18.1f}" for _, o in sides))
print()

# Where the time goes: the steps in the bands mdlab reports (consecutive steps, sigma at their ends).
print("time per band of steps (ms, and share of the run):")
print(f"{'steps':>9s}  {'sigma':>21s}" + "".join(f"{name:>24s}" for name, _ in sides))
for band in a["bands"]:
    lo, hi = band["first_step"] - 1, band["last_step"]
    cells = []
    for _, o in sides:
        ms = o["step_ms"][lo:hi]
        if len(ms) < hi - lo:
            cells.append(f"{'(not timed)':>24s}")
            continue
        cells.append(f"{sum(ms):14.1f} {100 * sum(ms) / sum(o['step_ms']):7.1f}% ")
    print(f"{band['first_step']:>4d}-{band['last_step']:<4d}  {band['sigma_first']:9.3g} -> {band['sigma_last']:<9.3g}"
          + "".join(cells))
print()
ratio = b["total_seconds"] / a["total_seconds"]
label = " (PyTorch total EXTRAPOLATED)" if extrapolated else ""
print(f"speed ratio, whole run (PyTorch total / mdlab total): {ratio:.1f}x{label}")
if dense:
    print(f"  PyTorch / mdlab dense: {b['total_seconds'] / dense['total_seconds']:.1f}x; "
          f"mdlab's dense run takes {dense['total_seconds'] / a['total_seconds']:.2f}x the time of its run with the index")
total_with_setup = a["total_seconds"] + a["setup_seconds"]
print(f"  with mdlab's setup (training set, spatial index: {1e3 * a['setup_seconds']:.1f} ms) counted: "
      f"{b['total_seconds'] / total_with_setup:.1f}x")
PY
