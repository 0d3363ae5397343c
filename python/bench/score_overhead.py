"""Overhead of est.score(x, t) from Python over the kernel itself (not a test).

Times the empirical score on M = 16 points from Python (argument checks, the copy into a Matrix,
GIL release, the result handed to numpy) against the same call looped in C++
(mdlab._mdlab._time_score), and prints the difference in microseconds.

    PYTHONPATH=build/python /usr/bin/python3 python/bench/score_overhead.py
"""
import time

import numpy as np

import mdlab
from mdlab import _mdlab


def per_call(f, repeats):
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            f()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main():
    rng = np.random.default_rng(0)
    for n_data, dim in ((64, 2), (1000, 8)):
        est = mdlab.component("empirical", data=rng.normal(size=(n_data, dim)), process="vp")
        x = rng.normal(size=(16, dim))
        repeats = 2000
        python = per_call(lambda: est.score(x, 0.5), repeats)
        kernel = min(_mdlab._time_score(est, x, 0.5, repeats) for _ in range(5))
        print(f"empirical N={n_data} D={dim} M=16: python {python * 1e6:.2f} us, kernel {kernel * 1e6:.2f} us, "
              f"overhead {(python - kernel) * 1e6:.2f} us")


if __name__ == "__main__":
    main()
