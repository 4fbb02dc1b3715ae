"""Explorers of what happens during unlearning."""
from __future__ import annotations

from typing import Mapping

import ipywidgets as widgets
import pandas as pd

from .base import explorer


def step_explorer(snapshots: Mapping[int, pd.DataFrame]) -> widgets.VBox:
    """A slider over optimiser steps showing the recorded answers at each step.

    ``snapshots`` comes from :func:`unlearnlab.answers.answers_during_unlearning`.
    """
    slider = widgets.SelectionSlider(options=sorted(snapshots), description="step",
                                     layout=widgets.Layout(width="60%"))
    return explorer(slider, lambda step: snapshots[step])
