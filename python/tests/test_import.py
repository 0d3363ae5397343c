"""The package imports from the build tree and finds the built-in plugins."""
import mdlab


def test_version_is_the_runtime_version():
    assert isinstance(mdlab.__version__, str) and mdlab.__version__.count(".") == 2


def test_errors_are_python_exception_classes():
    assert issubclass(mdlab.InputError, ValueError)
    assert issubclass(mdlab.PluginError, RuntimeError)
