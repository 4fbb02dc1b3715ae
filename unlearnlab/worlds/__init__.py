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
}


def load(name: str = "authors", profile: str | None = None) -> World:
    """Load a world for a profile (the active one when ``profile`` is None)."""
    if name not in REGISTRY:
        raise KeyError(f"unknown world {name!r}; known worlds: {', '.join(sorted(REGISTRY))}")
    module = import_module(REGISTRY[name])
    return module.load_world(get_profile(profile))


def describe(world: World, n_examples: int = 2) -> str:
    """Sizes of every split and a few sampled items, as printable text."""
    lines = [f"world {world.name!r} (profile {world.profile!r}, fingerprint {world.fingerprint})"]
    for split in world.splits:
        lines.append(f"  {split:<22} {len(world.tables[split]):>6} items")
    for split in list(world.forget_to_retain)[:1] + world.always_trained[:1]:
        for row in world.tables[split][:n_examples]:
            question = row.get("question") or row.get("text", "")[:80]
            lines.append(f"  [{split}] {question} -> {row.get('answer', '')}")
    return "\n".join(lines)


__all__ = ["World", "load", "describe", "REGISTRY"]
