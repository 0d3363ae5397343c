"""Components in process: plugins built from Python with parameters and numpy inputs, and the
nodes of a pipeline built without running it (see docs/python.md, "Components")."""
import json as _json
import os as _os

from . import _mdlab
from . import runs as _runs
from ._mdlab import Estimator, Manifold, Metric, Pipeline, Process, Sampler

__all__ = ["component", "load", "metric", "pipeline", "Estimator", "Manifold", "Metric", "Pipeline", "Process",
           "Sampler"]


def component(name, *, seed=0, node=None, **kwargs):
    """Builds plugin ``name``; keyword arguments are its parameters and inputs.

    Inputs are numpy arrays (points), component objects, or plugin names built with their defaults
    (``process="vp"``). Manifolds, processes and estimators are prepared now with a Context of
    ``seed`` and node id ``node`` (default: the plugin's name; the random streams are named after
    it), so they are deterministic from their seed. Samplers and metrics run when called.

    >>> est = mdlab.component("empirical", data=X, process="vp")
    >>> est.score(X[:4], 0.5)
    """
    return _mdlab._component(name, kwargs, seed, node or "")


def metric(name, *, seed=0, node=None, **kwargs):
    """Evaluates metric ``name`` on its inputs (arrays or components) with its parameters; a dict.

    >>> mdlab.metric("wasserstein", samples=Y, manifold=circle)
    """
    made = component(name, seed=seed, node=node, **kwargs)
    if not isinstance(made, Metric):
        raise _mdlab.InputError(f"mdlab: error: plugin '{name}' is not a metric")
    return made.evaluate(seed=seed)


def pipeline(source, *, smoke=False, set=None):  # noqa: A002 - the command line's --set
    """A validated pipeline, not run: ``pipe.node(id, cell=0)`` builds one node and its upstream.

    ``source`` is a path, a JSON string or a dict; ``set`` holds the ``--set`` overrides as a dict
    ``{"node.key": value}`` or a list of ``"node.key=value"`` strings.
    """
    text, is_text, name = _runs._source(source)  # classified as mdlab.run does
    sets = _runs._sets(set)
    if is_text:
        return _mdlab._pipeline_text(text, name, sets, smoke)
    return _mdlab._pipeline_file(text, sets, smoke)


def load(path, **kwargs):
    """An estimator saved with ``est.save(path)``, rebuilt from its plugin and parameters (read
    from ``path.json``) and its trained state, without training again.

    The inputs it was prepared with are given again (they set its dimension and time axis):
    ``mdlab.load("net.pt", data=X, process="vp")``. Keyword arguments override saved parameters.
    """
    with open(f"{_os.fspath(path)}.json", encoding="utf-8") as f:
        saved = _json.load(f)
    params = dict(saved["params"])
    params.update(kwargs)
    return component(saved["plugin"], state=_os.fspath(path), **params)
