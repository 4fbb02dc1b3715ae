"""Loaders for the public benchmarks that the generated worlds stand in for.

Each loader returns a :class:`~unlearnlab.worlds.base.World` whose split names
and item fields match its stand-in world, so the same evaluation code runs on
either:

=================  ===================================  ===========================
benchmark          hub dataset                          stand-in world
=================  ===================================  ===========================
``tofu``           ``locuslab/TOFU``                    ``authors``
``muse-news``      ``muse-bench/MUSE-News``             ``books``
``muse-books``     ``muse-bench/MUSE-Books``            ``books``
``wmdp``           ``cais/wmdp`` (+ ``cais/mmlu``)      ``hazard``
=================  ===================================  ===========================

Data come from the Hugging Face hub when it can be reached, or from a local
folder holding the same files (``local_dir=...``); offline without a folder,
loading stops with a message that says so.
"""
from __future__ import annotations

import difflib
from functools import partial
from typing import Callable

from ..worlds.base import World
from . import muse, tofu, wmdp
from .sources import BenchmarkUnavailable

BENCHMARKS: dict[str, Callable[..., World]] = {
    "tofu": tofu.load,
    "muse-news": partial(muse.load, "news"),
    "muse-books": partial(muse.load, "books"),
    "wmdp": wmdp.load,
}


def load(name: str, **kwargs) -> World:
    """Load a benchmark by name; keyword arguments go to its loader (e.g. ``local_dir``)."""
    if name not in BENCHMARKS:
        close = difflib.get_close_matches(name, BENCHMARKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"unknown benchmark {name!r}{hint}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name](**kwargs)


__all__ = ["BENCHMARKS", "BenchmarkUnavailable", "load", "muse", "tofu", "wmdp"]
