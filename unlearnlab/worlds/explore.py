"""Looking inside a world: who is in which split, and what the model is asked about them."""
from __future__ import annotations

import pandas as pd

from .base import World


def author_splits(world: World, author_id: str) -> list[str]:
    """Names of the splits that hold at least one item about ``author_id``."""
    return [name for name, rows in world.tables.items()
            if any(row.get("author_id") == author_id for row in rows)]


def author_ids(world: World, split: str) -> list[str]:
    """The distinct authors of a split, in order of first appearance."""
    return list(dict.fromkeys(row["author_id"] for row in world.items(split) if row.get("author_id")))


def author_card(world: World, author_id: str) -> pd.DataFrame:
    """One author's facts: attribute, question, answer and a wrong alternative, one row each."""
    rows = [row for row in world.items(world.full_split) + world.items("holdout")
            if row.get("author_id") == author_id]
    if not rows:
        raise KeyError(f"no author {author_id!r} in world {world.name!r}; see author_ids(world, split)")
    return pd.DataFrame(
        {"attribute": r["attribute"], "question": r["question"], "answer": r["answer"],
         "a wrong answer": r["perturbed_answers"][0]} for r in rows
    ).set_index("attribute")
