"""What every course notebook does first: report the environment and fix the seeds.

A learner comparing their plots with the book needs to know which device,
profile and library versions produced them, and that the same seed gives the
same numbers.  ``setup()`` prints exactly that.
"""
from __future__ import annotations

import platform
import random

import datasets
import numpy as np
import torch
import transformers

from . import __version__
from .config import get_profile
from .devices import describe, device
from .plots import use_style


def setup(seed: int = 0, threads: int | None = None) -> dict:
    """Seed every generator, apply the plot style and print versions, device and profile."""
    random.seed(seed)
    np.random.seed(seed)
    transformers.set_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    # Keep the training progress bar (the Trainer's) but not the bars of tokenising and loading.
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
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
