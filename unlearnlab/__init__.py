"""unlearnlab: learn machine unlearning for large language models by running it.

The package mirrors the course, lowest layer first: ``worlds`` (offline data),
``models`` (the model zoo: tiny, small, any hub id), ``methods`` (one class per
unlearning objective), ``unlearn`` (training over the Hugging Face Trainer),
``evaluate`` (the multifaceted evaluation suite) and ``notebook`` (figures,
tables and widgets for the chapters).  ``unlearnlab/README.md`` maps every module.

``import unlearnlab`` is cheap and has no side effects beyond two logger levels
(:func:`_quiet_optional_backends`): each name below is imported on first use
(torch and transformers take seconds to import).
"""
from __future__ import annotations

import importlib
import logging
from typing import Any

from ._version import __version__


#: loggers of optional back ends that transformers and peft import when they are installed (torchao, bitsandbytes)
OPTIONAL_BACKEND_LOGGERS = ("torchao", "torch.utils._pytree", "bitsandbytes")


def _quiet_optional_backends(level: int = logging.ERROR) -> None:
    """Raise the loggers of optional quantisation back ends to ERROR, unless the user chose a level.

    Why: when torchao is installed, ``transformers.modeling_utils`` imports it, and it
    logs "Failed to load ..." for GPU kernels that cannot load here, while torch's
    pytree logs a deprecation for two of its enums: six lines of stderr in the first
    cell of every chapter that say nothing about unlearning.  bitsandbytes, which
    peft imports when it is installed, logs a warning about an optional CPU kernel
    package in the same way.  Errors still show.
    It lives here, not in a submodule, because every chapter's first import is
    ``unlearnlab`` and the quieting must come before transformers is imported.
    """
    for name in OPTIONAL_BACKEND_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)


_quiet_optional_backends()

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "worlds": (".worlds", None),
    "models": (".models", None),
    "methods": (".methods", None),
    "eval": (".eval", None),
    "attacks": (".attacks", None),
    "localize": (".localize", None),
    "notebook": (".notebook", None),
    "numerics": (".numerics", None),
    "formats": (".formats", None),
    "cache": (".cache", None),
    "hub": (".hub", None),
    "public": (".public", None),
    "unlearn": (".training", "unlearn"),
    "finetune": (".training", "finetune"),
    "UnlearnConfig": (".training", "UnlearnConfig"),
    "evaluate": (".eval", "evaluate"),
    "load_result": (".eval", "load_result"),
    "compare": (".eval", "compare"),
    "device": (".devices", "device"),
    "dtype_for": (".devices", "dtype_for"),
    "get_profile": (".config", "get_profile"),
    "profile_name": (".config", "profile_name"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'unlearnlab' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name, __name__)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["__version__", *_LAZY]
