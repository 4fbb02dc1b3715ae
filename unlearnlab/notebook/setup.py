"""What every course notebook does first: report the environment, fix the seeds, set the display.

A learner comparing their plots with the book needs to know which device,
profile and library versions produced them, and that the same seed gives the
same numbers.  ``setup()`` prints exactly that, applies the house plot style,
shows full table cells (answers are the point of many tables), and routes the
package's log messages to the notebook as short lines.
"""
from __future__ import annotations

import logging
import platform

from .._version import __version__
from ..config import get_profile


def setup(seed: int = 0, threads: int | None = None) -> dict:
    """Seed every generator, apply the plot style and print versions, device and profile."""
    import datasets
    import pandas as pd
    import torch
    import transformers

    from ..devices import describe, device
    from .style import use_style

    transformers.set_seed(seed)  # seeds random, numpy and torch
    if threads:
        torch.set_num_threads(threads)
    # Keep the training progress bar (the Trainer's) but not the bars of tokenising and loading.
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    pd.set_option("display.max_colwidth", None)
    show_messages()
    use_style()
    info = {
        "unlearnlab": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": describe(device()),
        "profile": get_profile().name,
        "seed": seed,
    }
    print("  ".join(f"{k}: {v}" for k, v in info.items()))
    return info


def show_messages(level: int = logging.INFO) -> None:
    """Print the ``unlearnlab`` logger's messages as plain ``[unlearnlab] …`` lines (once per process)."""
    logger = logging.getLogger("unlearnlab")
    logger.setLevel(level)
    if not any(getattr(h, "_unlearnlab", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[unlearnlab] %(message)s"))
        handler._unlearnlab = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
