"""The one pattern every explorer uses: a control above an output that re-renders on change."""
from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
from IPython.display import display


def explorer(control: widgets.Widget, render: Callable[[object], object]) -> widgets.VBox:
    """A control above an output area that shows ``render(control.value)``."""
    out = widgets.Output()

    def refresh(_=None):
        out.clear_output(wait=True)
        with out:
            shown = render(control.value)
            if shown is not None:
                display(shown)

    control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([control, out])
