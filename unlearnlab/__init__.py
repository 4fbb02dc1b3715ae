"""unlearnlab: learn machine unlearning for large language models by running it.

The package mirrors the course: ``worlds`` (offline data), ``models`` (the model
zoo), ``train`` (fine-tuning), ``engine``/``methods`` (unlearning), ``eval`` (the
multifaceted evaluation suite) and ``plots``.  The two calls used most are
available at the top level, ``unlearnlab.unlearn`` and ``unlearnlab.evaluate``.
"""
__version__ = "0.1.0"

from .config import get_profile, profile_name  # noqa: E402
from .devices import device, dtype_for  # noqa: E402

from . import notebook  # noqa: E402

_LAZY = {"unlearn": "engine", "evaluate": "eval"}  # imported on first use: both pull in transformers


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'unlearnlab' has no attribute {name!r}")


__all__ = ["__version__", "device", "dtype_for", "get_profile", "profile_name", "notebook", "unlearn", "evaluate"]
