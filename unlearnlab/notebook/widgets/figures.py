"""Explorers that redraw a figure: one option at a time of results a chapter already computed."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt

from ..figures import trace_heatmap
from .base import explorer


def figure_explorer(options: Sequence, draw: Callable[[object], object], description: str = "show",
                    slider: bool = False) -> widgets.VBox:
    """A dropdown (or a slider, for ordered settings) over ``options`` that shows ``draw(option)``.

    ``draw`` makes one figure for one option: the same function a chapter calls for
    its static figure, so the widget adds a way to look, never a computation of its own.
    """
    options = list(options)
    layout = widgets.Layout(width="60%")
    control = (widgets.SelectionSlider(options=options, description=description, layout=layout) if slider
               else widgets.Dropdown(options=options, description=description, layout=layout))

    def render(option):
        draw(option)
        plt.show()  # inside the explorer's output area

    return explorer(control, render)


def trace_explorer(traces: Mapping[str, object]) -> widgets.VBox:
    """A dropdown over facts (label -> :func:`unlearnlab.localize.trace_fact` result) drawing each one's heatmap."""
    return figure_explorer(list(traces), lambda label: trace_heatmap(traces[label]), "fact")
