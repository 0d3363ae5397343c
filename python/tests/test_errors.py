"""mdlab's errors in Python: bad pipelines and parameters raise mdlab.InputError (a ValueError)
with the command's text (file:line:col, node, key, the valid choices)."""
import pytest

import mdlab
from tiny_pipeline import GEN, tiny

GOOD = tiny(sweep=None, rates=None)  # one cell


def test_bad_json_text_names_line_and_column(tmp_path):
    with pytest.raises(mdlab.InputError, match=r"<string>:2:\d+"):
        mdlab.run('{"name": "x",\n  "nodes": [ }', out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_json_file_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n "name": "x",\n "nodes": [,]\n}\n')
    with pytest.raises(ValueError, match=rf"{path}:3:\d+"):
        mdlab.run(path, out=tmp_path / "run")


def test_bad_param_names_node_key_and_choices(tmp_path):
    with pytest.raises(mdlab.InputError) as e:
        mdlab.run(GOOD, out=tmp_path / "run", set={"gen.grid": "log-snr"})
    text = str(e.value)
    assert "'gen'" in text and "grid" in text and "log_snr" in text


def test_bad_param_in_a_dict_names_the_dict(tmp_path):
    bad = tiny(sweep=None, rates=None)
    bad["nodes"][GEN]["params"]["steps"] = -3
    with pytest.raises(mdlab.InputError, match=r"<dict>:\d+:\d+(.|\n)*steps"):
        mdlab.run(bad, out=tmp_path / "run")


def test_unknown_plugin_in_a_pipeline_suggests(tmp_path):
    bad = tiny(sweep=None, rates=None)
    bad["nodes"][GEN]["plugin"] = "euler_maruyam"
    with pytest.raises(mdlab.InputError, match="euler_maruyama"):
        mdlab.run(bad, out=tmp_path / "run")


def test_bad_set_text(tmp_path):
    with pytest.raises(mdlab.InputError, match="expected --set <node id>.<param>=<value>"):
        mdlab.run(GOOD, out=tmp_path / "run", set=["gen.steps"])


def test_missing_file(tmp_path):
    with pytest.raises(mdlab.InputError, match="nope.json"):
        mdlab.run(tmp_path / "nope.json", out=tmp_path / "run")


def test_threads_must_be_positive(tmp_path):
    with pytest.raises(mdlab.InputError, match="key 'threads'"):
        mdlab.run(GOOD, out=tmp_path / "run", threads=0)


def test_out_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(mdlab.InputError, match="exists and is not a folder"):
        mdlab.run(GOOD, out=tmp_path / "file")


def test_a_pipeline_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="path, a JSON string or a dict"):
        mdlab.run(42)


def test_a_node_failing_on_input_does_not_raise(tmp_path):
    # Found only when the metric runs: it asks for more samples than the sampler gives.
    bad = tiny(sweep=None, rates=None)
    bad["nodes"][-1]["params"]["samples_used"] = 41
    r = mdlab.run(bad, out=tmp_path / "run")
    assert r.exit_code == 2 and r.status == "failed"
    assert r.failures == [{"cell": 0, "node": "w", "key": "samples_used", "input_error": True,
                           "message": "wasserstein: samples_used = 41 but the sampler gave 40 samples"}]
    assert mdlab.open_run(r.folder).failures == r.failures and mdlab.open_run(r.folder).exit_code == 2
