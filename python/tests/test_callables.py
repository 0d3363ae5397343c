"""Python score functions: a callable f(x, t) as the score of built-in samplers and score metrics,
in process and in pipelines started from Python; its errors, its checks, and no copy of x."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import mdlab
from mdlab import callables

S2 = 0.25  # variance of the target N(0, S2 I)


class VP:
    """alpha and sigma of the vp plugin at its defaults (beta_min 0.1, beta_max 20)."""

    @staticmethod
    def alpha2_sigma2(t):
        big_b = 0.1 * t + (20.0 - 0.1) * t * t / 2.0
        alpha2 = np.exp(-big_b)
        return alpha2, 1.0 - alpha2


def gaussian_score(x, t):
    """The exact score of alpha x0 + sigma eps, x0 ~ N(0, S2 I): -x / (alpha^2 S2 + sigma^2)."""
    alpha2, sigma2 = VP.alpha2_sigma2(t)
    return -x / (alpha2 * S2 + sigma2)


def pipeline_with_callable(sampler="euler_maruyama", steps=200, n=4000):
    return {
        "seed": 5,
        "nodes": [
            {"id": "vp", "plugin": "vp"},
            {"id": "score", "plugin": "callable", "params": {"name": "net", "dim": 2}, "inputs": {"process": "vp"}},
            {"id": "gen", "plugin": sampler, "params": {"n": n, "steps": steps}, "inputs": {"score": "score"}},
        ],
    }


def check_variance(samples, n=4000):
    assert samples.shape == (n, 2)
    assert np.isfinite(samples).all()
    # The variance estimate's standard error is S2 * sqrt(2 / 8000) ~ 0.004.
    assert abs(samples.var() - S2) < 0.025, samples.var()
    assert abs(samples.mean()) < 0.03


@pytest.mark.parametrize("sampler", ["euler_maruyama", "pf_ode_heun"])
def test_an_exact_gaussian_score_makes_samplers_reproduce_the_gaussian(sampler):
    samples, stats = mdlab.sample_with_callable(gaussian_score, sampler, dim=2, n=4000, seed=3, params={"steps": 200})
    check_variance(samples)
    assert stats  # the sampler's statistics (its number of score evaluations)


def test_a_pipeline_run_uses_the_callable_given_by_name(tmp_path):
    result = mdlab.run_with_callables(pipeline_with_callable(), callables={"net": gaussian_score}, out=tmp_path / "run")
    assert result["exit_code"] == 0, result["failures"]
    folder = Path(result["folder"])
    check_variance(np.load(folder / "cells" / "0000" / "gen.npy"))
    assert (folder / "results.csv").exists()


def test_mdlab_run_takes_callables(tmp_path):
    run = mdlab.run(pipeline_with_callable(), out=tmp_path / "run", callables={"net": gaussian_score})
    assert run.exit_code == 0
    check_variance(np.load(Path(run.folder) / "cells" / "0000" / "gen.npy"))

    def raising(x, t):
        raise Boom("inside mdlab.run")

    with pytest.raises(Boom) as info:
        mdlab.run(pipeline_with_callable(n=20, steps=4), out=tmp_path / "boom", callables={"net": raising})
    assert "score estimator 'score'" in "\n".join(info.value.__notes__)
    with pytest.raises(mdlab.InputError, match="no Python callable named 'net'"):
        mdlab.run(pipeline_with_callable(), out=tmp_path / "none")


def test_a_pipeline_file_and_json_text_run_too(tmp_path):
    file = tmp_path / "callable.json"
    file.write_text(json.dumps(pipeline_with_callable(n=100, steps=10)))
    for source, out in ((file, "from_file"), (str(file), "from_path"), (file.read_text(), "from_text")):
        result = mdlab.run_with_callables(source, callables={"net": gaussian_score}, out=tmp_path / out)
        assert result["exit_code"] == 0, result["failures"]


def test_the_score_metrics_take_a_callable():
    pipeline = {
        "seed": 2,
        "nodes": [
            {"id": "gauss", "plugin": "gaussian_mixture",
             "params": {"ambient_dim": 2, "components": 1, "spread": 0.0, "std": S2 ** 0.5}},
            {"id": "vp", "plugin": "vp"},
            {"id": "oracle", "plugin": "oracle", "inputs": {"manifold": "gauss", "process": "vp"}},
            {"id": "score", "plugin": "callable", "params": {"name": "net", "dim": 2}, "inputs": {"process": "vp"}},
            {"id": "error", "plugin": "score_error", "inputs": {"score": "score", "oracle": "oracle", "manifold": "gauss"}},
        ],
    }
    points, values = callables.compute(pipeline, "error", {"net": gaussian_score})
    assert points is None
    assert values["relative"] < 1e-12  # the callable is the exact score

    def off(x, t):
        return 1.5 * gaussian_score(x, t)

    _, worse = callables.compute(pipeline, "error", {"net": off})
    assert worse["relative"] == pytest.approx(0.25)  # |0.5 s| / |s|, squared


def test_x_reaches_the_callable_as_a_read_only_view_without_a_copy():
    seen = []

    def probe(x, t):
        seen.append((x.dtype, x.flags.c_contiguous, x.flags.owndata, x.flags.writeable, type(x.base).__name__))
        with pytest.raises(ValueError):
            x[0, 0] = 1.0
        return gaussian_score(x, t)

    mdlab.sample_with_callable(probe, "euler_maruyama", dim=2, n=50, params={"steps": 5})
    assert seen
    for dtype, contiguous, owndata, writeable, base in seen:
        assert dtype == np.float64 and contiguous
        assert not owndata and not writeable  # a view over mdlab's matrix, not a copy
        assert base == "PyCapsule"


def test_float32_results_are_accepted():
    samples, _ = mdlab.sample_with_callable(lambda x, t: gaussian_score(x, t).astype(np.float32), "euler_maruyama",
                                            dim=2, n=4000, seed=3, params={"steps": 200})
    check_variance(samples)


class Boom(Exception):
    pass


def test_an_exception_raised_by_the_callable_comes_back_as_itself_with_the_node_and_t():
    def raising(x, t):
        if t < 0.5:
            raise Boom("the network broke")
        return gaussian_score(x, t)

    with pytest.raises(Boom, match="the network broke") as info:
        mdlab.sample_with_callable(raising, "euler_maruyama", dim=2, n=50, params={"steps": 10})
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "score estimator 'score'" in notes and "t = " in notes
    assert any(frame.name == "raising" for frame in info.traceback)  # the callable's own frame


def test_an_exception_in_a_pipeline_run_is_raised_after_the_run(tmp_path):
    def raising(x, t):
        raise KeyError("missing weights")

    with pytest.raises(KeyError) as info:
        mdlab.run_with_callables(pipeline_with_callable(n=20, steps=4), callables={"net": raising}, out=tmp_path / "r")
    assert "score estimator 'score'" in "\n".join(info.value.__notes__)
    # The run folder records the failure as `mdlab run` would.
    assert "missing weights" in (tmp_path / "r" / "run.log").read_text()


@pytest.mark.parametrize(
    "bad, words",
    [
        (lambda x, t: x[:, :1], ["'score'", "shape (50 x 1)", "50 x 2"]),
        (lambda x, t: x.ravel(), ["'score'", "shape (100)"]),
        (lambda x, t: np.full(x.shape, np.nan), ["'score'", "non-finite"]),
        (lambda x, t: x.astype(np.int64), ["'score'", "dtype int64"]),
        (lambda x, t: [[0.0, 0.0]] * len(x), ["'score'", "list", "not a numpy array"]),
    ],
)
def test_a_bad_result_is_an_input_error_naming_the_node(bad, words):
    with pytest.raises(mdlab.InputError) as info:
        mdlab.sample_with_callable(bad, "euler_maruyama", dim=2, n=50, params={"steps": 5})
    for w in words:
        assert w in str(info.value)


def test_a_callable_node_without_its_callable_is_an_input_error_at_its_name(tmp_path):
    with pytest.raises(mdlab.InputError) as info:
        mdlab.run_with_callables(pipeline_with_callable(), callables={"other": gaussian_score}, out=tmp_path / "r")
    text = str(info.value)
    assert "/params/name" in text and "'net'" in text and "other" in text
    with pytest.raises(mdlab.InputError, match="not a function"):
        mdlab.run_with_callables(pipeline_with_callable(), callables={"net": 3}, out=tmp_path / "r")


def test_calls_never_overlap_though_nodes_run_on_threads(tmp_path):
    inside = threading.Lock()
    overlaps, threads = [], set()

    def exclusive(x, t):
        threads.add(threading.get_ident())
        if not inside.acquire(blocking=False):
            overlaps.append(t)
            return gaussian_score(x, t)
        try:
            time.sleep(0.0005)  # the GIL is free meanwhile: another caller would get in
            return gaussian_score(x, t)
        finally:
            inside.release()

    # Two samplers on two callable nodes sharing the function, in parallel branches, two cells.
    pipeline = pipeline_with_callable(n=200, steps=50)
    pipeline["nodes"] += [
        {"id": "score2", "plugin": "callable", "params": {"name": "net", "dim": 2}, "inputs": {"process": "vp"}},
        {"id": "gen2", "plugin": "pf_ode_euler", "params": {"n": 200, "steps": 50}, "inputs": {"score": "score2"}},
    ]
    pipeline["sweep"] = {"grid": {"seed": [1, 2]}}
    result = mdlab.run_with_callables(pipeline, callables={"net": exclusive}, out=tmp_path / "r", threads=2)
    assert result["exit_code"] == 0, result["failures"]
    assert not overlaps
    assert threads  # (which threads called depends on oneTBB's scheduling)


def test_runs_from_several_python_threads_do_not_deadlock():
    def one(seed):
        return mdlab.sample_with_callable(gaussian_score, "euler_maruyama", dim=2, n=500, seed=seed,
                                          params={"steps": 20})[0]

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(one, range(3)))
    assert all(r.shape == (500, 2) for r in results)
    # Determinism: the same seed gives the same samples, whatever ran alongside.
    assert np.array_equal(results[0], one(0))


def test_a_pytorch_mlp_is_the_score_of_dpmpp_2m():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.SiLU(), torch.nn.Linear(32, 2))

    def score(x, t):
        with torch.no_grad():
            xt = torch.from_numpy(x).float()  # x is read-only: torch warns but does not copy
            inp = torch.cat([xt, torch.full((len(xt), 1), t)], dim=1)
            return net(inp)  # a float32 tensor, converted by mdlab

    samples, stats = mdlab.sample_with_callable(score, "dpmpp_2m", dim=2, n=256, params={"steps": 10})
    assert samples.shape == (256, 2) and np.isfinite(samples).all()


# --- mdlab.score_function: a callable wherever an in-process estimator goes -------------------

def _gaussian_score(s2):
    vp = mdlab.component("vp")

    def score(x, t):
        return -x / (vp.alpha(t) ** 2 * s2 + vp.sigma(t) ** 2)
    return score


def test_score_function_drives_a_sampler_component_to_the_gaussian_target():
    s2 = 0.25
    est = mdlab.score_function(_gaussian_score(s2), dim=2)
    assert isinstance(est, mdlab.Estimator)
    Y, stats = mdlab.component("pf_ode_heun", steps=40).sample(score=est, n=4000, seed=5)
    assert Y.shape == (4000, 2)
    assert stats["nfe"] > 0
    assert abs(Y.var(axis=0).mean() - s2) < 0.025


def test_score_function_as_the_score_of_a_metric_matches_the_exact_estimator():
    s2 = 0.25
    est = mdlab.score_function(_gaussian_score(s2), dim=2, name="exact")
    x = np.random.default_rng(0).normal(size=(16, 2))
    np.testing.assert_allclose(est.score(x, 0.5), _gaussian_score(s2)(x, 0.5), rtol=1e-12)


def test_score_function_errors_name_the_function():
    with pytest.raises(mdlab.InputError):
        mdlab.score_function(3, dim=2)
    est = mdlab.score_function(lambda x, t: x[:, :1], dim=2, name="narrow")
    with pytest.raises(mdlab.InputError, match="narrow"):
        est.score(np.zeros((4, 2)), 0.5)
    boom = mdlab.score_function(lambda x, t: 1 / 0, dim=2, name="boom")
    with pytest.raises(ZeroDivisionError):
        mdlab.component("euler_maruyama", steps=5).sample(score=boom, n=8, seed=0)
