"""Offline worlds: generated, deterministic stand-ins for public unlearning benchmarks.

``load(name)`` returns a :class:`~unlearnlab.worlds.base.World` sized by the active
profile; ``load(name, seed=1, n_authors=60)`` another, equally deterministic world;
``describe(world)`` prints its splits and a few items.
"""
from __future__ import annotations

from importlib import import_module

from ..config import get_profile
from .base import World

# world name -> module that defines ``load_world(profile, *, seed=None, **sizes) -> World`` and ``SIZES``
REGISTRY: dict[str, str] = {
    "authors": "unlearnlab.worlds.authors",
    "hazard": "unlearnlab.worlds.hazard",
    "books": "unlearnlab.worlds.books",
    "records": "unlearnlab.worlds.records",
    "behaviour": "unlearnlab.worlds.behaviour",
}


def load(name: str = "authors", profile: str | None = None, *, seed: int | None = None,
         **sizes: int | None) -> World:
    """Load a world for a profile (the active one when ``profile`` is None).

    ``seed`` and the world's sizes (``size_parameters(name)`` lists them, e.g. ``n_authors``
    and ``n_holdout`` for the authors world) default to the committed world cut to
    the profile.  Any other value builds another world, deterministically, into
    the cache; its fingerprint differs, so models cached for one world are never
    reused for another.
    """
    module = _module(name)
    unknown = sorted(set(sizes) - set(module.SIZES))
    if unknown:
        raise TypeError(f"world {name!r} has no size {', '.join(unknown)}; "
                        f"its sizes are {', '.join(module.SIZES)} (and seed)")
    return module.load_world(get_profile(profile), seed=seed, **sizes)


def size_parameters(name: str = "authors") -> dict[str, str]:
    """The size parameters of a world, each with the profile field it overrides."""
    return dict(_module(name).SIZES)


def _module(name: str):
    if name not in REGISTRY:
        raise KeyError(f"unknown world {name!r}; known worlds: {', '.join(sorted(REGISTRY))}")
    return import_module(REGISTRY[name])


def describe(world: World, n_examples: int = 2) -> str:
    """Sizes of every split and a few items of each kind (QA, multiple choice, prompt, text)."""
    chosen = ", ".join(f"{k}={v}" for k, v in world.params.items() if v is not None)
    lines = [f"world {world.name!r} (profile {world.profile!r}{', ' + chosen if chosen else ''}, "
             f"fingerprint {world.fingerprint})"]
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


__all__ = ["World", "load", "size_parameters", "describe", "format_item", "REGISTRY"]
