"""Runs from Python: ``mdlab.run`` executes a pipeline as ``mdlab run`` does (same folder, same
results.csv bytes, resume and force), ``mdlab.open_run`` reads a finished run folder, and both
return a :class:`Run` over that folder."""
import csv
import functools
import json
import os
import pathlib
import sys

from . import _mdlab

__all__ = ["Run", "run", "open_run"]


def _source(pipeline):
    """(pipeline, is_text, name) for the extension: a path, JSON text or a dict."""
    if isinstance(pipeline, dict):
        return json.dumps(pipeline), True, "<dict>"
    if isinstance(pipeline, os.PathLike):
        return os.fspath(pipeline), False, ""
    if isinstance(pipeline, str):
        # JSON text begins with '{' or a comment (after blanks), as no file name does in practice.
        stripped = pipeline.lstrip()
        is_text = stripped.startswith(("{", "//", "/*"))
        return pipeline, is_text, "<string>" if is_text else ""
    raise TypeError(f"mdlab.run: pipeline must be a path, a JSON string or a dict, not {type(pipeline).__name__}")


def _set_value(value):
    """A Python value in the --set syntax (JSON)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        value = value.item()  # a numpy scalar
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value)


def _sets(set_):
    """set= as the --set texts "node.key=value": a dict of values, or a list of such texts."""
    if set_ is None:
        return []
    if isinstance(set_, dict):
        return [f"{key}={_set_value(value)}" for key, value in set_.items()]
    if isinstance(set_, str):
        return [set_]
    return [str(text) for text in set_]


def run(pipeline, out=None, smoke=False, threads=None, set=None, force=False, callables=None, isolation="process"):
    """Runs a pipeline and returns its :class:`Run`.

    pipeline: a file (str or os.PathLike), JSON text, or a dict (messages call them by the file's
        name, "<string>" and "<dict>"); out: the run folder (default runs/<name>-<time>, as the
        command); smoke: the pipeline's smoke size; threads: worker threads (default all cores);
        set: {"node.key": value} or ["node.key=value", ...], applied last as --set; force: replace
        an earlier run in `out` instead of resuming it; callables: {name: f(x, t)}, the Python
        score functions of the pipeline's `callable` nodes (see mdlab.callables); isolation:
        "process" (each cell runs in a worker process, so a crashing plugin fails its cell only;
        a pipeline with `callable` nodes runs in this process) or "none", as --isolation.

    A bad pipeline raises mdlab.InputError; a node that fails does not raise: see .failures and
    .exit_code. Ctrl-C stops the run after its current cell and raises KeyboardInterrupt; running
    again into the same folder resumes it.
    """
    text, is_text, name = _source(pipeline)
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise _mdlab.InputError(f"mdlab.run: error: key 'threads': {threads!r} is not a positive integer\n"
                                "    give the number of worker threads, or None for every core")
    if isolation not in ("process", "none"):
        raise _mdlab.InputError(f"mdlab.run: error: key 'isolation': {isolation!r} is not one of: process, none")
    progress = sys.stderr is not None and sys.stderr.isatty()
    outcome = _mdlab.run_pipeline(text, is_text, name, "" if out is None else os.fspath(out), _sets(set),
                                  bool(smoke), bool(force), threads or 0, progress,
                                  dict(callables or {}), isolation)
    return Run(outcome["folder"], outcome)


def open_run(folder):
    """The :class:`Run` of an existing run folder (one holding results.json)."""
    folder = pathlib.Path(folder)
    if not (folder / "results.json").is_file():
        raise _mdlab.InputError(f"{folder}: error: not a run folder (no results.json)")
    return Run(folder)


def _number_or_text(text):
    try:
        return float(text)
    except ValueError:
        return text


def _read_csv(path):
    """The rows of a CSV file as dicts, numbers as floats; [] when the file is absent."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{key: _number_or_text(value) for key, value in row.items()} for row in csv.DictReader(f)]


class Run:
    """A run folder: its results, summary, rate fits, cells and point files.

    .folder: the folder (pathlib.Path); .results: results.csv's rows as dicts (numbers as floats);
    .summary, .rates: summary.csv's and rates.csv's rows; .report_path: report.html; .cells: per
    cell its index, seed, params (the swept keys' values), status (node -> ok|failed|skipped),
    values (node -> {name: number}, a sampler's nfe among them) and folder; .points(node, cell=0): a node's points as a numpy array; .status: ok, failed or
    cancelled; .exit_code: as the command's; .failures: per failed node its cell, node, key,
    message.
    """

    def __init__(self, folder, outcome=None):
        self.folder = pathlib.Path(folder)
        self._outcome = outcome
        with open(self.folder / "results.json") as f:
            self._json = json.load(f)  # read once: the object shows the run as it was then

    def __repr__(self):
        return f"mdlab.Run({str(self.folder)!r}, status={self.status!r}, cells={len(self.cells)})"

    @property
    def status(self):
        return self._json.get("status", "ok")

    @functools.cached_property
    def results(self):
        return _read_csv(self.folder / "results.csv")

    @functools.cached_property
    def summary(self):
        return _read_csv(self.folder / "summary.csv")

    @functools.cached_property
    def rates(self):
        return _read_csv(self.folder / "rates.csv")

    @property
    def report_path(self):
        return self.folder / "report.html"

    def to_pandas(self):
        """results.csv as a pandas DataFrame (needs pandas)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError("Run.to_pandas() needs pandas (Debian: apt install python3-pandas); "
                              "Run.results gives the same rows as dicts") from e
        return pandas.read_csv(self.folder / "results.csv", keep_default_na=False, na_values=[""])

    @property
    def cells(self):
        return [{"index": c["cell"], "seed": c.get("seed"), "params": dict(c.get("sweep", {})),
                 "status": {node: n.get("status") for node, n in c.get("nodes", {}).items()},
                 "values": {node: dict(n["values"]) for node, n in c.get("nodes", {}).items() if "values" in n},
                 "folder": self.folder / "cells" / f"{c['cell']:04d}"}
                for c in self._json.get("cells", [])]

    def _cell(self, cell):
        for c in self._json.get("cells", []):
            if c["cell"] == cell:
                return c
        raise _mdlab.InputError(f"{self.folder}: error: no cell {cell} in this run "
                                f"(it has {len(self._json.get('cells', []))} cells)")

    def points(self, node, cell=0):
        """The points node `node` made in cell `cell` (data or a sampler's samples), as an
        (n, dim) numpy array read from the cell's .npy file, wherever results.json says it lives
        (a cell reusing an earlier cell's training points names that cell's file)."""
        import numpy

        nodes = self._cell(cell).get("nodes", {})
        if node not in nodes:
            raise _mdlab.InputError(f"{self.folder}: error: cell {cell}: no node '{node}' "
                                    f"(nodes: {', '.join(nodes)})")
        entry = nodes[node]
        if "points" not in entry:
            why = f"its status is {entry.get('status')}" if entry.get("status") != "ok" else \
                f"a {entry.get('kind', 'node')} node writes no points"
            raise _mdlab.InputError(f"{self.folder}: error: cell {cell}: node '{node}' has no points ({why})")
        return numpy.load(self.folder / entry["points"])

    @property
    def exit_code(self):
        """As the command's: 0 every cell ran and every node succeeded, 2 a node failed on the
        user's input, 1 otherwise (another failure, or a cancelled run)."""
        if self._outcome is not None:
            return self._outcome["exit_code"]
        if self.status == "ok":
            return 0
        return 2 if any(f["input_error"] for f in self.failures) else 1

    @property
    def failures(self):
        """Per failed node: cell, node, key (the parameter the error named, or None), message,
        input_error (the user's input, not a bug). Nodes skipped after a failure are not listed."""
        if self._outcome is not None:
            return list(self._outcome["failures"])
        failures = []
        for c in self._json.get("cells", []):
            nodes = c.get("nodes", {})
            if not any(n.get("status") == "failed" for n in nodes.values()):
                continue
            # cell.json keeps what results.json leaves out: the key an error named, and its kind.
            with open(self.folder / "cells" / f"{c['cell']:04d}" / "cell.json") as f:
                records = json.load(f)["nodes"]
            for (node, n), record in zip(nodes.items(), records):
                if n.get("status") == "failed":
                    failures.append({"cell": c["cell"], "node": node, "key": record.get("error_key") or None,
                                     "message": n.get("error", ""), "input_error": bool(record.get("input_error"))})
        return failures

    @property
    def resumed_cells(self):
        """Cells an earlier run into the same folder had finished (0 for open_run)."""
        return self._outcome["resumed_cells"] if self._outcome is not None else 0
