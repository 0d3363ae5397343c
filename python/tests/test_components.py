"""Components in process: mdlab.component, mdlab.metric, mdlab.pipeline(...).node."""
import os
import pathlib

import numpy as np
import pytest

import mdlab

SOURCE = pathlib.Path(os.environ.get("MDLAB_TEST_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
QUICKSTART = SOURCE / "pipelines" / "quickstart.json"


def empirical_score(x, data, alpha, sigma):
    """s(x, t) = sum_i w_i (alpha x_i - x) / sigma^2, w = softmax(-|x - alpha x_i|^2 / (2 sigma^2))."""
    d2 = ((x[:, None, :] - alpha * data[None, :, :]) ** 2).sum(-1)
    logw = -d2 / (2 * sigma**2)
    w = np.exp(logw - logw.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return (w @ (alpha * data) - x) / sigma**2


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(7).normal(size=(30, 2))


def test_empirical_score_is_its_closed_form(data):
    est = mdlab.component("empirical", data=data, process="vp")
    x = np.random.default_rng(8).normal(size=(16, 2))
    for t in (0.05, 0.3, 0.9):
        a, s = est.process.alpha(t), est.process.sigma(t)
        np.testing.assert_allclose(est.score(x, t), empirical_score(x, data, a, s), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(est.denoise(x, t), (x + s * s * est.score(x, t)) / a, rtol=1e-9, atol=1e-9)


def test_estimator_properties_and_process_from_a_component(data):
    ve = mdlab.component("ve", sigma_max=5.0)
    assert isinstance(ve, mdlab.Process) and ve.t_end > 0
    assert ve.sigma(ve.t_end) == pytest.approx(5.0)
    assert ve.alpha(0.5) == pytest.approx(1.0)
    est = mdlab.component("empirical", data=data, process=ve)
    assert isinstance(est, mdlab.Estimator) and est.dim == 2
    assert est.process.sigma(0.3) == ve.sigma(0.3)
    assert "empirical" in repr(est)


def test_manifold_methods():
    m = mdlab.component("circle", ambient_dim=3, radius=2.0, seed=4)
    assert (m.ambient_dim, m.intrinsic_dim) == (3, 1)
    y = m.sample(200, seed=1)
    assert y.shape == (200, 3)
    np.testing.assert_allclose(m.distance(y), 0.0, atol=1e-9)
    np.testing.assert_allclose(m.project(y), y, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(m.project(3 * y), axis=1), 2.0, rtol=1e-9)
    assert m.intrinsic_coords(y).shape == (200, 1)
    np.testing.assert_array_equal(m.sample(10, seed=1), m.sample(10, seed=1))
    assert not np.array_equal(m.sample(10, seed=1), m.sample(10, seed=2))


def test_components_are_deterministic_from_their_seed():
    a = mdlab.component("circle", ambient_dim=5, seed=3).sample(20, seed=0)
    b = mdlab.component("circle", ambient_dim=5, seed=3).sample(20, seed=0)
    c = mdlab.component("circle", ambient_dim=5, seed=4).sample(20, seed=0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # the random embedding comes from the component's seed


def test_sampler_and_metric(data):
    est = mdlab.component("empirical", data=data, process="vp")
    sampler = mdlab.component("euler_maruyama", steps=10)
    assert isinstance(sampler, mdlab.Sampler)
    x1, stats = sampler.sample(score=est, n=32, seed=5)
    x2, _ = sampler.sample(score=est, n=32, seed=5)
    assert x1.shape == (32, 2) and stats["nfe"] == 10
    np.testing.assert_array_equal(x1, x2)
    init = np.random.default_rng(0).normal(size=(8, 2))
    x3, _ = sampler.sample(score=est, init=init, seed=5)
    assert x3.shape == (8, 2)
    circle = mdlab.component("circle")
    values = mdlab.metric("wasserstein", samples=circle.sample(64, seed=1), manifold=circle, w2=False)
    assert set(values) >= {"w1", "baseline_w1"} and "w2" not in values
    assert values["w1"] >= 0
    m = mdlab.component("manifold_distance", manifold=circle)
    assert isinstance(m, mdlab.Metric)
    assert m.evaluate(samples=circle.sample(16, seed=2))  # a non-empty dict


def test_bad_params_and_inputs_read_as_the_cli(data):
    with pytest.raises(mdlab.InputError, match="(?s)no plugin 'empirica'.*did you mean 'empirical'"):
        mdlab.component("empirica")
    with pytest.raises(mdlab.InputError, match="(?s)key 'stpes'.*did you mean 'steps'"):
        mdlab.component("euler_maruyama", stpes=10)
    with pytest.raises(mdlab.InputError, match="key 'steps'"):
        mdlab.component("euler_maruyama", steps=0)
    with pytest.raises(mdlab.InputError, match="(?s)key 'grid'.*uniform"):
        mdlab.component("euler_maruyama", grid="linear")
    with pytest.raises(mdlab.InputError, match="key 'steps'"):
        mdlab.component("euler_maruyama", steps="ten")
    with pytest.raises(mdlab.InputError, match="(?s)key 'process'.*not a forward process"):
        mdlab.component("empirical", data=data, process="circle")
    with pytest.raises(mdlab.InputError, match="(?s)key 'process'.*is required"):
        mdlab.component("empirical", data=data)
    with pytest.raises(mdlab.InputError, match="(?s)key 'score'.*not a score estimator"):
        mdlab.component("euler_maruyama").sample(score=lambda x, t: x, n=4)
    with pytest.raises(mdlab.InputError, match="(?s)key 'score'.*is required"):
        mdlab.component("euler_maruyama").sample(n=4)
    est = mdlab.component("empirical", data=data, process="vp")
    with pytest.raises(mdlab.InputError, match="key 't'"):
        est.score(data, float("nan"))
    with pytest.raises(mdlab.InputError, match="not a metric"):
        mdlab.metric("circle")


def test_pipeline_nodes_equal_the_pipelines_own():
    sets = {"train.n": 60, "full.n": 40, "full.steps": 25}
    pipe = mdlab.pipeline(QUICKSTART, set=sets)
    assert "score" in pipe.nodes and pipe.cells == 1
    seed = pipe.seed(0)
    circle = pipe.node("circle")
    train = pipe.node("train")
    assert isinstance(circle, mdlab.Manifold) and train.shape == (60, 8)
    # The same draws from the manifold built in Python: streams are named by node id and seed.
    np.testing.assert_array_equal(circle.sample(60, seed=seed, stream="train/draw"), train)
    mine = mdlab.component("circle", ambient_dim=8, radius=1.0, seed=seed, node="circle")
    np.testing.assert_array_equal(mine.sample(60, seed=seed, stream="train/draw"), train)
    est = pipe.node("score")
    np.testing.assert_array_equal(est.score(train[:16], 0.3),
                                  mdlab.component("empirical", data=train, process="vp").score(train[:16], 0.3))
    points, stats = pipe.node("full")
    sampler = mdlab.component("euler_maruyama", node="full", n=40, steps=25, t_min=1e-6, grid="log_snr",
                              denoise=True)
    again, again_stats = sampler.sample(score=est, seed=seed)
    np.testing.assert_array_equal(points, again)
    assert stats == again_stats
    values = pipe.node("distance_full")
    assert values == mdlab.metric("manifold_distance", samples=points, manifold=circle, node="distance_full",
                                  seed=seed)


def test_pipeline_from_a_dict_and_its_errors():
    source = {"name": "p", "seed": 1, "nodes": [{"id": "vp", "plugin": "vp"}]}
    pipe = mdlab.pipeline(source)
    assert isinstance(pipe.node("vp"), mdlab.Process)
    with pytest.raises(mdlab.InputError, match="(?s)no node 'nope'.*nodes: vp"):
        pipe.node("nope")
    with pytest.raises(mdlab.InputError, match="cell 3 does not exist"):
        pipe.node("vp", cell=3)
    with pytest.raises(mdlab.InputError, match="vpp"):
        mdlab.pipeline('{"name": "q", "seed": 1, "nodes": [{"id": "a", "plugin": "vpp"}]}')


needs_mlp = pytest.mark.skipif("mlp" not in mdlab._mdlab.plugin_names(), reason="built without libtorch (no mlp)")


@needs_mlp
def test_a_trained_mlp_is_kept_saved_and_loaded(tmp_path, data):
    params = dict(width=16, depth=2, epochs=3, batch_size=16, validation_fraction=0.0)
    est = mdlab.component("mlp", data=data, process="vp", seed=1, **params)
    x = np.random.default_rng(2).normal(size=(8, 2))
    s = est.score(x, 0.4)
    np.testing.assert_array_equal(est.score(x, 0.4), s)  # kept: scoring again does not retrain
    np.testing.assert_array_equal(mdlab.component("mlp", data=data, process="vp", seed=1, **params).score(x, 0.4), s)
    path = tmp_path / "net.pt"
    est.save(path)
    assert path.exists() and (tmp_path / "net.pt.json").exists()
    loaded = mdlab.load(path, data=data, process="vp")
    np.testing.assert_array_equal(loaded.score(x, 0.4), s)
    with pytest.raises(mdlab.InputError, match="(?s)key 'state'.*width 32"):
        mdlab.load(path, data=data, process="vp", width=32)


def test_saving_an_estimator_without_state_is_an_input_error(tmp_path, data):
    est = mdlab.component("empirical", data=data, process="vp")
    with pytest.raises(mdlab.InputError, match="no trained state"):
        est.save((tmp_path / "x.pt").as_posix())


def test_wasserstein_between_two_given_point_sets():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 3))
    values = mdlab.metric("wasserstein", samples=x + np.array([0.0, 0.3, 0.0]), reference=x)
    assert values["w1"] == pytest.approx(0.3, rel=1e-9)
    assert values["w2"] == pytest.approx(0.3, rel=1e-9)
    assert "baseline_w1" not in values
    with pytest.raises(mdlab.InputError, match="reference"):
        mdlab.metric("wasserstein", samples=x[:7], reference=x)
