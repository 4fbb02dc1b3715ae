"""Thin ipywidgets wrappers over package functions, for exploring in the notebooks.

Each explorer only wires controls to a function that the notebooks also call
directly (so the logic is tested and runs in CI); nothing here computes.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
from IPython.display import display

from .worlds.base import World
from .worlds.explore import author_card, author_ids, author_splits


def _explorer(control: widgets.Widget, render: Callable[[object], object]) -> widgets.VBox:
    """A control above an output area that shows ``render(control.value)``."""
    out = widgets.Output()

    def refresh(_=None):
        out.clear_output(wait=True)
        with out:
            display(render(control.value))

    control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([control, out])


def author_explorer(world: World, split: str = "forget10") -> widgets.VBox:
    """Pick an author and see their facts and the splits they belong to."""
    ids = author_ids(world, split) + author_ids(world, world.retain_split(split))[:20]
    names = {row["author_id"]: row["author"] for row in world.items(world.full_split)}
    options = [(f"{names[i]} ({i})", i) for i in ids]
    picker = widgets.Dropdown(options=options, description="author")

    def render(author_id):
        print(f"{names[author_id]} is in: {', '.join(author_splits(world, author_id))}")
        return author_card(world, author_id)

    return _explorer(picker, render)
