"""mdlab: a laboratory for diffusion models on data manifolds, from Python.

The package wraps mdlab's runtime (the extension module ``mdlab._mdlab``): the same plugins,
pipelines, run folders and errors as the ``mdlab`` command. See docs/python.md.
"""
import os as _os
import sys as _sys

# The plugins resolve the SDK's symbols against the module that loads them, as they do against
# the mdlab executable: the extension must be loaded with its symbols global.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_GLOBAL)
try:
    from . import _mdlab
finally:
    _sys.setdlopenflags(_flags)

from ._mdlab import InputError, PluginError, __version__  # noqa: E402
from .runs import Run, run, open_run  # noqa: E402
from .catalogue import plugins, describe, plugin_doc  # noqa: E402
from .components import *  # noqa: E402,F401,F403  (components in process)
from . import components as _components  # noqa: E402

__all__ = ["InputError", "PluginError", "__version__"]
__all__ += ["Run", "run", "open_run"]
__all__ += ["plugins", "describe", "plugin_doc"]
__all__ += _components.__all__

# Python score functions (callables.py)
from .callables import run_with_callables, sample_with_callable, score_function  # noqa: E402

__all__ += ["run_with_callables", "sample_with_callable", "score_function"]
