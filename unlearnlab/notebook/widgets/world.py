"""Explorers of a world's content."""
from __future__ import annotations

import ipywidgets as widgets

from ...worlds.base import World
from ..tables import author_card, author_ids, author_splits
from .base import explorer


def author_explorer(world: World, split: str = "forget10") -> widgets.VBox:
    """Pick an author and see their facts and the splits they belong to."""
    ids = author_ids(world, split) + author_ids(world, world.retain_split(split))[:20]
    names = {row["author_id"]: row["author"] for row in world.items(world.full_split)}
    options = [(f"{names[i]} ({i})", i) for i in ids]
    picker = widgets.Dropdown(options=options, description="author")

    def render(author_id):
        print(f"{names[author_id]} is in: {', '.join(author_splits(world, author_id))}")
        return author_card(world, author_id)

    return explorer(picker, render)
