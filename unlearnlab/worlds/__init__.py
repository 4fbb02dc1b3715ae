"""Offline worlds: generated, deterministic stand-ins for public unlearning benchmarks.

``load(name)`` returns a :class:`~unlearnlab.worlds.base.World` sized by the active
profile; ``describe(world)`` prints its splits and a few items.
"""
from __future__ import annotations

from importlib import import_module

from ..config import get_profile
from .base import World

# world name -> module that defines ``load_world(profile) -> World``
REGISTRY: dict[str, str] = {
    "authors": "unlearnlab.worlds.authors",
    "hazard": "unlearnlab.worlds.hazard",
    "books": "unlearnlab.worlds.books",
    "records": "unlearnlab.worlds.records",
    "behaviour": "unlearnlab.worlds.behaviour",
}


def load(name: str = "authors", profile: str | None = None) -> World:
    """Load a world for a profile (the active one when ``profile`` is None)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown world {name!r}; known worlds: {', '.join(sorted(REGISTRY))}")
    module = import_module(REGISTRY[name])
    return module.load_world(get_profile(profile))


def describe(world: World, n_examples: int = 2) -> str:
    """Sizes of every split and a few items of each kind (QA, multiple choice, prompt, text)."""
    lines = [f"world {world.name!r} (profile {world.profile!r}, fingerprint {world.fingerprint})"]
    for split in world.splits:
        lines.append(f"  {split:<22} {len(world.tables[split]):>6} items")
    for split in _example_splits(world):
        for row in world.tables[split][:n_examples]:
            lines.append(f"  [{split}] {format_item(row)}")
    return "\n".join(lines)


def _example_splits(world: World) -> list[str]:
    """The first non-empty split of each kind of item, forget splits first."""
    order = [*world.forget_to_retain, *world.forget_to_retain.values(), *world.splits]
    chosen: dict[str, str] = {}
    for split in order:
        rows = world.tables.get(split)
        if rows:
            chosen.setdefault(_kind(rows[0]), split)
    return list(chosen.values())


def _kind(row: dict) -> str:
    for key in ("choices", "prompt", "question", "text"):
        if key in row:
            return key
    return "other"


def format_item(row: dict, width: int = 100) -> str:
    """One item on one line: question -> answer, the options with the key marked, or a text's start."""
    kind = _kind(row)
    if kind == "choices":
        marked = row.get("answer", row.get("unwanted"))
        options = " | ".join(("*" if i == marked else "") + c for i, c in enumerate(row["choices"]))
        return f"{row.get('question', '')} [{options}]"
    if kind == "prompt":
        return f"...{row['prompt'][-width // 2:]!r} -> {row['continuation'][:width // 2]!r}"
    if kind == "question":
        return f"{row['question']} -> {row.get('answer', '')}"
    text = str(row.get("text", row)).replace("\n", " / ")
    return text[:width] + ("..." if len(text) > width else "")


__all__ = ["World", "load", "describe", "format_item", "REGISTRY"]
