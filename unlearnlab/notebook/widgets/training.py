"""Explorers of what happens during unlearning."""
from __future__ import annotations

from typing import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd

from ..figures import forget_loss_curves
from .base import explorer


def step_explorer(snapshots: Mapping[int, pd.DataFrame]) -> widgets.VBox:
    """A slider over optimiser steps showing the recorded answers at each step.

    ``snapshots`` comes from :func:`unlearnlab.notebook.tables.answers_during_unlearning`.
    """
    return run_explorer({step: snapshots[step] for step in sorted(snapshots)}, "step")


def run_explorer(tables: Mapping[object, pd.DataFrame], description: str = "run") -> widgets.VBox:
    """A slider over precomputed runs (e.g. one per λ) showing each run's table, in the given order.

    ``tables`` maps a setting to a table such as :func:`unlearnlab.notebook.tables.answers_table` returns.
    """
    slider = widgets.SelectionSlider(options=list(tables), description=description,
                                     layout=widgets.Layout(width="60%"))
    return explorer(slider, lambda key: tables[key])


def npo_beta_explorer(betas=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0)) -> widgets.VBox:
    """A slider over β redrawing :func:`unlearnlab.notebook.figures.forget_loss_curves` for that β."""
    slider = widgets.SelectionSlider(options=list(betas), value=0.1 if 0.1 in betas else betas[0],
                                     description="β", layout=widgets.Layout(width="60%"))

    def render(beta):
        forget_loss_curves(betas=(beta,))
        plt.show()  # inside the explorer's output area

    return explorer(slider, render)
