#!/usr/bin/env python3
"""The workload of `mdlab bench score` and `mdlab bench run` (empirical estimator), written the way a PyTorch user would.

N training points on a unit circle embedded in R^D by a random orthogonal matrix, M queries from
the VP prior N(0, I), and S reverse-SDE Euler-Maruyama steps on the log-SNR time grid from t = 1
down to t_min, each step one empirical-score evaluation on the current points, dense:

    d2    = torch.cdist(x, alpha * data) ** 2                      # M x N
    w     = torch.softmax(-d2 / (2 sigma^2), dim=1)                 # M x N
    score = (alpha * (w @ data) - x) / sigma^2

followed by the update x <- x - h (f(x, t) - g^2(t) score) + sqrt(g^2(t) h) z (no noise on the
last step), with the VP process of plugins/process/vp: beta(t) = beta_min + t (beta_max - beta_min),
B(t) = beta_min t + (beta_max - beta_min) t^2 / 2, alpha = exp(-B/2), sigma^2 = 1 - exp(-B),
f = -beta x / 2, g^2 = beta.

Two modes:

- per step (default, like `mdlab bench score`): one warm-up score call (not counted), then the S
  steps (default 5, t_min = 1e-3), each timed whole (score, noise and update); the median is
  reported, and GFLOP/s by mdlab's flop model (4 D flops per (query, training point) pair, exp
  counted as one).
- whole run (--run, like `mdlab bench run`): a whole sampling run, default S = 200 steps to
  t_min = 1e-5, no warm-up, every step timed; reports the run's total seconds and every step's
  time. --max-steps K times only the first K steps of the S-step run and extrapolates the total
  as (mean of the K steps) x S, which holds for the dense computation (its cost does not depend
  on sigma); the JSON then says "extrapolated": true and the text says so.

Needs PyTorch (Debian: python3-torch, for /usr/bin/python3). Never part of the test suite.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

BETA_MIN, BETA_MAX, T_END = 0.1, 20.0, 1.0
FLOP_MODEL = "4 D flops per (query, training point) pair (distance and weighted sum), exp counted as one; pairs = M N"


def big_b(t):
    return BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t


def beta(t):
    return BETA_MIN + t * (BETA_MAX - BETA_MIN)


def alpha(t):
    return math.exp(-0.5 * big_b(t))


def sigma(t):
    return math.sqrt(-math.expm1(-big_b(t)))


def log_nsr(t):
    return math.log(sigma(t) / alpha(t))


def invert_increasing(h, target, lo, hi):
    # Bisection down to adjacent doubles, as mdlab's time_grid does.
    for _ in range(2200):
        mid = 0.5 * (lo + hi)
        if not (lo < mid < hi):
            break
        if h(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def log_snr_grid(steps, t_min):
    l0, l1 = log_nsr(T_END), log_nsr(t_min)
    t = [invert_increasing(log_nsr, l0 + (l1 - l0) * i / steps, t_min, T_END) for i in range(steps + 1)]
    t[0], t[-1] = T_END, t_min
    return t


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="store_true",
                    help="time a whole sampling run (default 200 steps to t_min = 1e-5, no warm-up), like mdlab bench run")
    ap.add_argument("--train", "-N", type=int, default=4096, help="training points N (default 4096)")
    ap.add_argument("--queries", "-M", type=int, default=4096, help="query points M (default 4096)")
    ap.add_argument("--dim", "-D", type=int, default=16, help="ambient dimension D (default 16)")
    ap.add_argument("--steps", "-S", type=int, help="steps S of the time grid (default 5; 200 with --run)")
    ap.add_argument("--t-min", type=float, help="end of the log-SNR grid (default 1e-3; 1e-5 with --run)")
    ap.add_argument("--warmup", type=int, help="untimed score calls first (default 1; 0 with --run)")
    ap.add_argument("--max-steps", type=int,
                    help="--run only: time the first K steps of the S-step run and extrapolate the total (labelled)")
    ap.add_argument("--precision", choices=["f64", "f32"], default="f64", help="float64 (default) or float32")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    if args.steps is None:
        args.steps = 200 if args.run else 5
    if args.t_min is None:
        args.t_min = 1e-5 if args.run else 1e-3
    if args.warmup is None:
        args.warmup = 0 if args.run else 1
    for name in ("train", "queries", "steps", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        ap.error("--warmup must not be negative")
    if args.max_steps is not None:
        if not args.run:
            ap.error("--max-steps goes with --run")
        if not 1 <= args.max_steps <= args.steps:
            ap.error("--max-steps must be in [1, --steps]")
    if args.dim < 2:
        ap.error("--dim must be at least 2 (a circle in R^D)")
    if not (0.0 < args.t_min < T_END):
        ap.error("--t-min must be in (0, 1)")
    return args


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        print(f"torch_score_reference.py: PyTorch is not importable by {sys.executable}; "
              "Debian's python3-torch installs it for /usr/bin/python3", file=sys.stderr)
        return 2

    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.precision == "f64" else torch.float32
    torch.set_default_dtype(dtype)
    gen = torch.Generator().manual_seed(args.seed)
    N, M, D, S = args.train, args.queries, args.dim, args.steps

    # The unit circle in the first two coordinates, rotated into R^D by a random orthogonal matrix.
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=gen))
    theta = 2 * math.pi * torch.rand(N, generator=gen)
    circle = torch.zeros(N, D)
    circle[:, 0], circle[:, 1] = torch.cos(theta), torch.sin(theta)
    data = circle @ q.T
    x = torch.randn(M, D, generator=gen)

    def score(x, t):
        a, s = alpha(t), sigma(t)
        d2 = torch.cdist(x, a * data) ** 2
        w = torch.softmax(-d2 / (2 * s * s), dim=1)
        return (a * (w @ data) - x) / (s * s)

    t = log_snr_grid(S, args.t_min)
    for _ in range(args.warmup):
        score(x, t[0])  # not counted
    timed = args.max_steps if args.max_steps is not None else S
    step_ms = []
    run_start = time.perf_counter()
    for i in range(timed):
        start = time.perf_counter()
        ti, h = t[i], t[i] - t[i + 1]
        last = i + 1 == S
        s = score(x, ti)
        f_rate, g2 = -0.5 * beta(ti), beta(ti)
        x = x - h * (f_rate * x - g2 * s)
        if not last:
            x = x + math.sqrt(g2 * h) * torch.randn(M, D, generator=gen)
        if not torch.isfinite(x).all():
            print(f"torch_score_reference.py: the state is not finite after step {i}", file=sys.stderr)
            return 1
        step_ms.append(1e3 * (time.perf_counter() - start))
    run_seconds = time.perf_counter() - run_start

    ms = statistics.median(step_ms)
    flops = 4.0 * D * N * M
    gflops = flops / (ms * 1e-3) * 1e-9
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    itemsize = torch.finfo(dtype).bits // 8
    mxn_gb = M * N * itemsize / 1e9
    result = {
        "ms_per_step": ms,
        "ms_per_step_mean": statistics.fmean(step_ms),
        "gflops": gflops,
        "peak_rss_mb": rss_mb,
        "mxn_matrix_gb": mxn_gb,
        "n_train": N,
        "n_queries": M,
        "dim": D,
        "steps": S,
        "warmup_steps": args.warmup,
        "t_min": args.t_min,
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "flop_model": FLOP_MODEL,
        "sigma_first_step": sigma(t[0]),
        "sigma_last_step": sigma(t[S - 1]),
    }
    extrapolated = timed < S
    if args.run:
        result.update({
            "mode": "run",
            "total_seconds": run_seconds * S / timed if extrapolated else run_seconds,
            "extrapolated": extrapolated,
            "steps_timed": timed,
            "measured_seconds": run_seconds,
            "step_ms": step_ms,
            "step_sigma": [sigma(t[i]) for i in range(timed)],
            "timing_note": "total_seconds: wall time of all steps (score, noise, update), warm-up excluded"
                           + ("; EXTRAPOLATED from the first steps_timed steps as measured_seconds x steps / steps_timed"
                              if extrapolated else ""),
        })
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"PyTorch {torch.__version__} reference: empirical score (dense), N = {N} training points on a circle in R^{D}, "
          f"M = {M} queries from N(0, I), {args.precision}, {result['threads']} threads")
    print(f"  {S} Euler-Maruyama steps on the VP log-SNR grid, t = 1 -> {args.t_min:g}; "
          f"{args.warmup} warm-up call{'' if args.warmup == 1 else 's'} not counted")
    if args.run:
        if extrapolated:
            print(f"  whole run:      {result['total_seconds']:.2f} s EXTRAPOLATED from the first {timed} of {S} steps "
                  f"({run_seconds:.2f} s measured)")
        else:
            print(f"  whole run:      {run_seconds:.2f} s")
    print(f"  time per step:  median {ms:.1f} ms, mean {result['ms_per_step_mean']:.1f} ms")
    print(f"  throughput:     {gflops:.2f} GFLOP/s by the flop model: {FLOP_MODEL}")
    print(f"  memory:         peak RSS {rss_mb:.0f} MB (process peak); one M x N matrix is {mxn_gb:.3g} GB "
          f"(cdist, the softmax and its input each hold one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
