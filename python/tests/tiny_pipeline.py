"""The small pipeline the Python tests run, in copies: a circle in R^2, 50 training points, the
empirical score, Euler-Maruyama and W1; two seeds by two step counts (four cells, a seed's second
cell reusing the first one's training points) and a declared rate fit."""
import copy

TINY = {
    "name": "tiny", "seed": 7,
    "nodes": [
        {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
        {"id": "train", "plugin": "sample", "params": {"n": 50}, "inputs": {"manifold": "circle"}},
        {"id": "vp", "plugin": "vp"},
        {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
        {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 40, "steps": 10}, "inputs": {"score": "score"}},
        {"id": "w", "plugin": "wasserstein", "params": {"samples_used": 40},
         "inputs": {"samples": "gen", "manifold": "circle"}},
    ],
    "sweep": {"grid": {"seed": [1, 2], "gen.steps": [5, 10]}},
    "rates": [{"metric": "w.w1", "over": "gen.steps"}],
}
GEN = 4  # the sampler's place in "nodes"


def tiny(**fields):
    """A copy of TINY with top-level fields replaced; None removes a field (sweep=None: one cell)."""
    pipeline = copy.deepcopy(TINY)
    pipeline.update(copy.deepcopy(fields))
    return {key: value for key, value in pipeline.items() if value is not None}
