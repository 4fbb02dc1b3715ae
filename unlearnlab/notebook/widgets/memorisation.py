"""Explorers of what a model memorised, token by token."""
from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt

from ..tables import token_losses
from ..figures import token_heatmap
from .base import explorer


def token_loss_explorer(models: Mapping[str, object], tokenizer, items: Sequence[dict]) -> widgets.VBox:
    """Pick an item and see each model's loss on every token of its answer."""
    picker = widgets.Dropdown(options=[(item["question"], k) for k, item in enumerate(items)],
                              description="question", layout=widgets.Layout(width="95%"))

    def render(k):
        figure = token_heatmap(token_losses(models, tokenizer, items[k])).figure
        plt.close(figure)  # shown once, by the explorer's output area
        return figure

    return explorer(picker, render)
