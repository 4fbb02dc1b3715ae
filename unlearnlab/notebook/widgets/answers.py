"""Explorers that show what models answer."""
from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as widgets

from ..tables import answers_table
from .base import explorer


def answer_explorer(models: Mapping[str, object], tokenizer, items_by_split: Mapping[str, Sequence[dict]],
                    n: int = 5) -> widgets.VBox:
    """Choose a split and compare the first ``n`` answers of every model on it."""
    picker = widgets.ToggleButtons(options=list(items_by_split), description="split")
    return explorer(picker, lambda split: answers_table(models, tokenizer, list(items_by_split[split])[:n]))
