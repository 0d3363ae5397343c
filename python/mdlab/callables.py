"""Python score functions: any callable ``f(x, t) -> scores`` as the score estimator of mdlab's
samplers and score metrics, in process and in pipelines started from Python.

In a pipeline, a node of plugin ``callable`` names the function; the run is given it by name::

    {"id": "score", "plugin": "callable", "params": {"name": "net", "dim": 2},
     "inputs": {"process": "vp"}}

    run_with_callables(pipeline, callables={"net": f})

``f`` receives ``x``, a read-only float64 array of shape (n, dim) over mdlab's own memory (no
copy; valid during the call only: copy it to keep it), and ``t`` (a float); it returns an array of
the same shape, float64 or float32, or a torch tensor. Calls to Python score functions never overlap (they
come from worker threads one at a time). An exception it raises comes back from the run as the
same exception, with a note naming the node and t.
"""
import os as _os
import tempfile as _tempfile

from . import _mdlab
from . import runs as _runs

__all__ = ["run_with_callables", "compute", "sample_with_callable", "score_function"]


def _source(pipeline):
    """(text or path, is_file), classified as mdlab.run does (runs._source)."""
    source, is_text, _ = _runs._source(pipeline)
    return source, not is_text


def run_with_callables(pipeline, callables, out=None, smoke=False, threads=None, set=None, force=False):
    """Runs a pipeline (dict, JSON text or file) whose ``callable`` nodes score with
    ``callables[name]``; writes the run folder as ``mdlab run`` does.

    Returns a dict: ``folder``, ``exit_code`` (0, 1 or 2 as on the command line), ``cells`` and
    ``failures`` (dicts: cell, node, key, message, input_error). ``set`` maps "node.key" to a
    value, as ``--set``. A resumed run reuses the cells an earlier run finished, whatever the
    function is now: pass ``force=True`` after changing it.
    """
    source, is_file = _source(pipeline)
    sets = _runs._sets(set)
    return _mdlab._run_with_callables(source, is_file, dict(callables), "" if out is None else _os.fspath(out),
                                      bool(smoke), int(threads or 0), sets, bool(force))


def compute(pipeline, node, callables, threads=None):
    """Computes one node of a pipeline (dict or JSON text; its first sweep cell) and what it
    depends on, in process, with the given Python functions. Returns ``(points, values)``: the
    node's points as an (n, dim) array (a sampler's samples; None for a metric) and its values
    (a metric's results, a sampler's statistics)."""
    source, is_file = _source(pipeline)
    if is_file:
        with open(source, encoding="utf-8") as f:
            source = f.read()
    with _tempfile.TemporaryDirectory(prefix="mdlab-callables-") as scratch:
        return _mdlab._compute_with_callables(source, node, dict(callables), scratch, int(threads or 0))


def sample_with_callable(score, sampler, dim, n=1000, seed=0, process="vp", params=None, process_params=None,
                         threads=None):
    """``n`` samples of a built-in sampler (``"euler_maruyama"``, ``"dpmpp_2m"``, ...) whose score
    is ``score(x, t)`` for points in R^dim, under a built-in forward process. ``params`` are the
    sampler's parameters (steps, ...). Returns ``(samples, stats)``."""
    pipeline = {
        "seed": int(seed),
        "nodes": [
            {"id": "process", "plugin": process, "params": dict(process_params or {})},
            {"id": "score", "plugin": "callable", "params": {"name": "score", "dim": int(dim)},
             "inputs": {"process": "process"}},
            {"id": "sampler", "plugin": sampler, "params": {**(params or {}), "n": int(n)},
             "inputs": {"score": "score"}},
        ],
    }
    return compute(pipeline, "sampler", {"score": score}, threads)


def score_function(f, dim, process="vp", name="score"):
    """``f(x, t) -> scores`` as an :class:`mdlab.Estimator`, in process.

    The result goes wherever an estimator goes: ``sampler.sample(score=...)``, the ``score``
    input of ``mdlab.metric`` and ``mdlab.component``. ``process`` is a plugin name (built with
    its defaults) or an :class:`mdlab.Process`; ``dim`` is the dimension of the points.
    ``name`` names the estimator in messages and in the notes of exceptions ``f`` raises.

    >>> est = mdlab.score_function(lambda x, t: -x, dim=2)
    >>> Y, stats = mdlab.component("pf_ode_heun", steps=20).sample(score=est, n=100, seed=1)
    """
    if not callable(f):
        raise _mdlab.InputError(f"score function '{name}': f must be callable, not {type(f).__name__}")
    if isinstance(process, str):
        from .components import component
        process = component(process)
    return _mdlab._score_function(f, int(dim), process, name)
