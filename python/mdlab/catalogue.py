"""The plugin catalogue as Python data: what ``mdlab plugins`` and ``mdlab describe`` show."""
import json

from . import _mdlab

__all__ = ["Description", "plugins", "describe", "plugin_doc"]


class Description(dict):
    """A plugin's spec (the dict of ``mdlab describe NAME --json``: name, kind, version, summary,
    library, params, inputs); its docstring and str() are the text ``mdlab describe NAME`` prints."""

    def __init__(self, spec, text):
        super().__init__(spec)
        self.__doc__ = text

    def __str__(self):
        return self.__doc__


def plugins(kind=None):
    """The loaded plugins by kind and name, each a dict with name, kind, version and summary.
    kind: manifold, process, estimator, sampler, metric or data (default: every kind)."""
    keys = ("name", "kind", "version", "summary")
    return [{key: spec[key] for key in keys} for spec in map(json.loads, _mdlab.plugin_specs(kind))]


def describe(name):
    """The plugin's spec as a :class:`Description` (a dict); an unknown name raises
    mdlab.InputError with the closest names."""
    return Description(json.loads(_mdlab.spec_json(name)), _mdlab.spec_text(name))


def plugin_doc(name):
    """The plugin's parameters as a Markdown table (the one docs/plugins.md shows)."""
    return _mdlab.parameter_table(name)
