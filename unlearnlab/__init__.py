"""unlearnlab: learn machine unlearning for large language models by running it.

The package mirrors the course: ``worlds`` (offline data), ``models`` (the model
zoo), ``train`` (fine-tuning), ``engine``/``methods`` (unlearning), ``eval`` (the
multifaceted evaluation suite) and ``plots``.
"""
__version__ = "0.1.0"

from .config import get_profile, profile_name  # noqa: E402
from .devices import device, dtype_for  # noqa: E402

from . import notebook  # noqa: E402

__all__ = ["__version__", "device", "dtype_for", "get_profile", "profile_name", "notebook"]
