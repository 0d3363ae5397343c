#!/usr/bin/env bash
# Runs `mdlab bench score --json` and the PyTorch reference (torch_score_reference.py) on the same
# workload, prints both and the speed ratio (PyTorch ms per step / mdlab ms per step).
# Builds nothing.
#
#   bench/compare_with_torch.sh [MDLAB] [-N n] [-M m] [-D d] [-S s] [--precision f64|f32]
#                               [--threads t] [--torch-steps s]
#
# MDLAB: the mdlab executable (default build/bin/mdlab). Defaults N = M = 4096, D = 16, S = 5,
# f64, 2 threads. --torch-steps runs fewer timed steps on the PyTorch side (it takes about a
# second per step at the default size); the median per step is compared either way.
# The Python interpreter is $PYTHON, else the first of python3, /usr/bin/python3 that imports torch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mdlab="build/bin/mdlab"
n=4096 m=4096 d=16 s=5 precision=f64 threads=2 torch_steps=""

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || { echo "compare_with_torch.sh: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -N) need_value "$@"; n="$2"; shift 2 ;;
    -M) need_value "$@"; m="$2"; shift 2 ;;
    -D) need_value "$@"; d="$2"; shift 2 ;;
    -S) need_value "$@"; s="$2"; shift 2 ;;
    --precision) need_value "$@"; precision="$2"; shift 2 ;;
    --threads) need_value "$@"; threads="$2"; shift 2 ;;
    --torch-steps) need_value "$@"; torch_steps="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "compare_with_torch.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) mdlab="$1"; shift ;;
  esac
done
for v in "$n" "$m" "$d" "$s" "$threads" ${torch_steps:+"$torch_steps"}; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "compare_with_torch.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ -x "$mdlab" ]] || { echo "compare_with_torch.sh: no mdlab executable at '$mdlab' (give its path as the first argument)" >&2; exit 2; }

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c "import torch" >/dev/null 2>&1; then python="$p"; break; fi
  done
fi
[[ -n "$python" ]] || { echo "compare_with_torch.sh: no Python with PyTorch found (set PYTHON; Debian: apt install python3-torch)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "workload: N = $n, M = $m, D = $d, S = $s, $precision, $threads threads" >&2
echo "running mdlab bench score ..." >&2
"$mdlab" bench score --estimator empirical --train "$n" --queries "$m" --dim "$d" --steps "$s" \
  --threads "$threads" --json $([[ "$precision" == f64 ]] || echo "--precision $precision") > "$tmp/mdlab.json"
echo "running the PyTorch reference ($python) ..." >&2
"$python" "$here/torch_score_reference.py" --train "$n" --queries "$m" --dim "$d" --steps "${torch_steps:-$s}" \
  --precision "$precision" --threads "$threads" --json > "$tmp/torch.json"

"$python" - "$tmp/mdlab.json" "$tmp/torch.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
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
print(f"mdlab at {100 * a['peak_fraction']:.1f}% of its measured FMA peak ({a['peak_gflops']:.1f} GFLOP/s {a['precision']})")
print(f"speed ratio (PyTorch ms / mdlab ms per step): {b['ms_per_step'] / a['ms_per_step']:.1f}x")
EOF
