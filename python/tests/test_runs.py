"""mdlab.run and mdlab.open_run: the same run folder and results.csv bytes as `mdlab run`, path,
text and dict sources, set=, resume and force, cells and points, Ctrl-C."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy
import pytest

import mdlab
from reproducible_csv import without_wall_times
from tiny_pipeline import GEN, tiny

SOURCE_DIR = pathlib.Path(os.environ.get("MDLAB_TEST_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
QUICKSTART = SOURCE_DIR / "pipelines" / "quickstart.json"
# The quickstart made small: fewer samples and steps.
QUICKSTART_SMALL = {"full.n": 60, "early.n": 60, "full.steps": 40, "early.steps": 40, "train.n": 80}

TINY = tiny()


def cli_run(pipeline, out, *args):
    """`mdlab run` on a file; the run folder."""
    subprocess.run([os.environ["MDLAB_EXECUTABLE"], "run", str(pipeline), "--out", str(out), "--quiet", *args],
                   check=True, stdout=subprocess.DEVNULL)
    return pathlib.Path(out)


def results_bytes(folder, name="results.csv"):
    """The file's bytes but for its wall-time columns, which no two runs share."""
    return without_wall_times((pathlib.Path(folder) / name).read_bytes())


@pytest.fixture
def tiny_file(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


needs_cli = pytest.mark.skipif("MDLAB_EXECUTABLE" not in os.environ, reason="MDLAB_EXECUTABLE not set")


@needs_cli
def test_quickstart_results_are_the_commands_bytes(tmp_path):
    sets = [f"{key}={value}" for key, value in QUICKSTART_SMALL.items()]
    cli = cli_run(QUICKSTART, tmp_path / "cli", *[a for s in sets for a in ("--set", s)])
    py = mdlab.run(QUICKSTART, out=tmp_path / "py", set=QUICKSTART_SMALL)
    assert py.exit_code == 0 and py.failures == []
    assert results_bytes(py.folder) == results_bytes(cli)
    assert results_bytes(py.folder, "summary.csv") == results_bytes(cli, "summary.csv")


@needs_cli
def test_smoke_gives_the_commands_bytes(tmp_path):
    smoked = tiny(smoke={"set": {"gen.n": 20, "w.samples_used": 20}, "sweep": {"seed": [3]}})
    path = tmp_path / "smoked.json"
    path.write_text(json.dumps(smoked))
    cli = cli_run(path, tmp_path / "cli", "--smoke")
    py = mdlab.run(smoked, out=tmp_path / "py", smoke=True)
    assert results_bytes(py.folder) == results_bytes(cli)
    assert len(py.cells) == 2 and py.points("gen").shape == (20, 2)


@needs_cli
def test_path_text_and_dict_sources_give_the_same_bytes(tmp_path, tiny_file):
    cli = cli_run(tiny_file, tmp_path / "cli")
    runs = [mdlab.run(str(tiny_file), out=tmp_path / "str"),
            mdlab.run(tiny_file, out=tmp_path / "pathlike"),
            mdlab.run(json.dumps(TINY), out=tmp_path / "text"),
            mdlab.run(TINY, out=tmp_path / "dict", threads=1)]
    for r in runs:
        assert results_bytes(r.folder) == results_bytes(cli), r.folder


def test_set_as_a_dict_or_as_texts(tmp_path):
    a = mdlab.run(TINY, out=tmp_path / "a", set={"gen.grid": "log_snr", "train.n": 30})
    b = mdlab.run(TINY, out=tmp_path / "b", set=["gen.grid=log_snr", "train.n=30"])
    c = mdlab.run(TINY, out=tmp_path / "c")
    assert results_bytes(a.folder) == results_bytes(b.folder) != results_bytes(c.folder)
    assert a.points("train").shape == (30, 2)


def test_results_summary_rates_and_cells(tmp_path):
    r = mdlab.run(TINY, out=tmp_path / "run")
    assert r.folder == tmp_path / "run" and r.status == "ok" and r.report_path.is_file()
    assert [row["cell"] for row in r.results] == [0.0, 1.0, 2.0, 3.0]
    first = r.results[0]
    assert first["node"] == "w" and first["status"] == "ok" and isinstance(first["w1"], float)
    assert first["gen.steps"] == 5.0 and first["seed"] == 1.0
    assert {row["value"] for row in r.summary} >= {"w1", "w2"}
    assert r.rates[0]["metric"] == "w.w1" and r.rates[0]["status"] == "too_few_points"
    assert [c["index"] for c in r.cells] == [0, 1, 2, 3]
    assert r.cells[3]["params"] == {"seed": 2, "gen.steps": 10}
    assert r.cells[1]["values"]["gen"]["nfe"] == 10.0
    assert r.cells[0]["status"]["gen"] == "ok" and r.cells[0]["folder"] == r.folder / "cells" / "0000"


def test_points_follow_results_json_to_the_cell_holding_the_file(tmp_path):
    r = mdlab.run(TINY, out=tmp_path / "run")
    gen = r.points("gen", cell=1)
    assert gen.shape == (40, 2) and gen.dtype == numpy.float64
    # Cell 1 (seed 1, 10 steps) reuses cell 0's training points: their file lives in cells/0000.
    assert not (r.cells[1]["folder"] / "train.npy").exists()
    numpy.testing.assert_array_equal(r.points("train", cell=1), r.points("train", cell=0))
    assert r.points("train").shape == (50, 2)
    with pytest.raises(mdlab.InputError, match="no node 'nope'"):
        r.points("nope")
    with pytest.raises(mdlab.InputError, match="node 'w' has no points"):
        r.points("w")
    with pytest.raises(mdlab.InputError, match="no cell 9"):
        r.points("gen", cell=9)


def test_open_run_reads_a_folder_the_command_wrote(tmp_path, tiny_file):
    made = mdlab.run(tiny_file, out=tmp_path / "run")
    opened = mdlab.open_run(str(tmp_path / "run"))
    assert opened.results == made.results and opened.cells == made.cells
    numpy.testing.assert_array_equal(opened.points("gen", cell=1), made.points("gen", cell=1))
    assert opened.exit_code == 0 and opened.failures == []
    with pytest.raises(mdlab.InputError, match="not a run folder"):
        mdlab.open_run(tmp_path)


def test_a_second_run_resumes_and_force_reruns(tmp_path):
    first = mdlab.run(TINY, out=tmp_path / "run")
    again = mdlab.run(TINY, out=tmp_path / "run")
    assert again.resumed_cells == 4 and results_bytes(again.folder) == results_bytes(first.folder)
    forced = mdlab.run(TINY, out=tmp_path / "run", force=True)
    assert forced.resumed_cells == 0 and results_bytes(forced.folder) == results_bytes(first.folder)


def test_to_pandas(tmp_path):
    pandas = pytest.importorskip("pandas")
    frame = mdlab.run(TINY, out=tmp_path / "run").to_pandas()
    assert isinstance(frame, pandas.DataFrame) and list(frame["cell"]) == [0, 1, 2, 3]


def test_to_pandas_without_pandas_says_what_to_install(tmp_path, monkeypatch):
    r = mdlab.run(TINY, out=tmp_path / "run")
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match="needs pandas"):
        r.to_pandas()


def test_the_default_folder_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = mdlab.run(TINY)
    assert r.folder.parent == pathlib.Path("runs") and r.folder.name.startswith("pipeline-")
    assert (tmp_path / r.folder / "results.csv").is_file()


# Twelve slow cells: a Ctrl-C after the first lands while the run is busy.
SLOW = tiny(sweep={"grid": {"seed": list(range(1, 13))}}, rates=None)
SLOW["nodes"][GEN]["params"] = {"n": 2000, "steps": 100}


def interrupt_after_first_cell(folder):
    """A thread sending this process SIGINT (Ctrl-C) once the run in `folder` has finished a cell."""
    def wait_and_interrupt():
        for _ in range(6000):
            if (folder / "cells" / "0000" / "cell.json").exists():
                break
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
    thread = threading.Thread(target=wait_and_interrupt)
    thread.start()
    return thread


def test_ctrl_c_stops_the_run_and_the_folder_resumes(tmp_path):
    interrupter = interrupt_after_first_cell(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        mdlab.run(SLOW, out=tmp_path / "run", threads=1)
    interrupter.join()
    stopped = mdlab.open_run(tmp_path / "run")
    finished = sum(all(s == "ok" for s in c["status"].values()) for c in stopped.cells)
    assert stopped.status == "cancelled" and 0 < finished < 12
    resumed = mdlab.run(SLOW, out=tmp_path / "run", threads=1)
    assert resumed.exit_code == 0 and resumed.resumed_cells == finished
    whole = mdlab.run(SLOW, out=tmp_path / "whole", threads=1)
    assert results_bytes(resumed.folder) == results_bytes(whole.folder)


def test_the_walk_through_in_docs_runs(tmp_path, monkeypatch):
    """docs/python.md's walk-through, its Python blocks run in order."""
    text = (SOURCE_DIR / "docs" / "python.md").read_text()
    walk = text[text.index("## Walk-through"):]
    blocks = [b.split("```", 1)[0] for b in walk.split("```python\n")[1:]]
    monkeypatch.chdir(tmp_path)
    scope = {}
    for block in blocks:
        exec(compile(block, "docs/python.md", "exec"), scope)
    assert scope["run"].status == "ok" and len(scope["run"].cells) == 45
    assert scope["x"].shape == (500, 2)


@needs_cli
def test_a_crashing_plugin_fails_its_cell_only(tmp_path):
    """Cells run in a worker process from Python too: a segfault in a plugin fails its cell, the
    interpreter lives on; isolation="none" is accepted, a misspelt mode refused."""
    fixtures = pathlib.Path(os.environ["MDLAB_EXECUTABLE"]).parents[1] / "tests" / "fixtures" / "faulty"
    pipeline = {
        "seed": 4,
        "nodes": [
            {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
            {"id": "vp", "plugin": "vp"},
            {"id": "score", "plugin": "faulty_score", "inputs": {"process": "vp"}},
            {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 20, "steps": 20}, "inputs": {"score": "score"}},
            {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}},
        ],
        "sweep": {"grid": {"score.fault": ["none", "segv", "none"]}},
    }
    script = (
        "import json, sys, mdlab\n"
        "r = mdlab.run(json.loads(sys.argv[1]), out=sys.argv[2])\n"
        "print(r.exit_code)\n"
        "print(json.dumps(r.failures))\n"
        "try:\n"
        "    mdlab.run(json.loads(sys.argv[1]), out=sys.argv[2] + '-x', isolation='threads')\n"
        "except mdlab.InputError as e:\n"
        "    print('refused:', e)\n"
    )
    env = dict(os.environ, MDLAB_PLUGIN_PATH=str(fixtures))
    done = subprocess.run([sys.executable, "-c", script, json.dumps(pipeline), str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1"
    failures = json.loads(lines[1])
    assert [f["cell"] for f in failures] == [1]
    assert "the cell's worker process was killed by signal" in failures[0]["message"]
    assert "node 'gen' (plugin 'euler_maruyama', which calls score (faulty_score))" in failures[0]["message"]
    assert lines[2].startswith("refused:") and "isolation" in lines[2]
    rows = (tmp_path / "run" / "results.csv").read_text().splitlines()
    assert sum(",ok," in row for row in rows) == 2
