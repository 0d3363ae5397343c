"""mdlab.plugins, mdlab.describe and mdlab.plugin_doc: the catalogue of `mdlab plugins` and
`mdlab describe` as Python data."""
import json
import os
import subprocess

import pytest

import mdlab

needs_cli = pytest.mark.skipif("MDLAB_EXECUTABLE" not in os.environ, reason="MDLAB_EXECUTABLE not set")


def cli(*args):
    return subprocess.run([os.environ["MDLAB_EXECUTABLE"], *args], check=True, capture_output=True, text=True).stdout


def test_plugins_lists_every_plugin_with_name_kind_version_summary():
    listed = mdlab.plugins()
    assert sorted(p["name"] for p in listed) == sorted(mdlab._mdlab.plugin_names())
    empirical = next(p for p in listed if p["name"] == "empirical")
    assert set(empirical) == {"name", "kind", "version", "summary"} and empirical["kind"] == "estimator"


def test_plugins_of_one_kind():
    samplers = mdlab.plugins("sampler")
    assert samplers and all(p["kind"] == "sampler" for p in samplers)
    assert "euler_maruyama" in {p["name"] for p in samplers}


def test_an_unknown_kind_names_the_kinds():
    with pytest.raises(mdlab.InputError, match="(?s)unknown kind 'samplr'.*sampler"):
        mdlab.plugins("samplr")


@needs_cli
def test_describe_is_the_commands_json_and_text():
    d = mdlab.describe("euler_maruyama")
    assert d == json.loads(cli("describe", "euler_maruyama", "--json"))
    assert d["kind"] == "sampler" and any(p["key"] == "steps" for p in d["params"])
    assert str(d) == d.__doc__ == cli("describe", "euler_maruyama")


@needs_cli
def test_plugins_match_the_commands_list():
    specs = json.loads(cli("plugins", "--json"))
    in_python_only = {"callable"}  # the in-process plugin of Python score functions (mdlab.callables)
    assert [p["name"] for p in mdlab.plugins() if p["name"] not in in_python_only] == [s["name"] for s in specs]


def test_describe_an_unknown_plugin_suggests_names():
    with pytest.raises(mdlab.InputError, match=r"unknown plugin 'empirica'(.|\n)*did you mean 'empirical'"):
        mdlab.describe("empirica")


def test_plugin_doc_is_the_markdown_parameter_table():
    doc = mdlab.plugin_doc("euler_maruyama")
    assert doc.startswith("| parameter | type | default |") and "\n| `steps` | int | `500` |" in doc
    with pytest.raises(mdlab.InputError):
        mdlab.plugin_doc("nope")
