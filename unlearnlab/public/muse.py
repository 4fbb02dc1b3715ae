"""MUSE (Shi et al., 2024), the benchmark the books world stands in for.

``muse-bench/MUSE-News`` (BBC news) and ``muse-bench/MUSE-Books`` (Harry Potter)
share one layout of hub configs:

* ``raw``: the text, splits ``forget``, ``retain1``, ``retain2``, ``holdout`` (``text``);
* ``verbmem``: split ``forget``, ``prompt`` and ``gt`` (the true continuation);
* ``knowmem``: ``forget_qa`` and ``retain_qa`` (``retain2_qa`` in MUSE-Books and
  older releases), plus few-shot ``*_qa_icl`` examples (``question``, ``answer``);
* ``privleak``: 100 texts each of ``forget``, ``retain`` (or ``retain2``), ``holdout``;
* ``scal`` / ``sust``: ``forget_1`` … ``forget_4``, the forget sets of the
  scalability (growing) and sustainability (successive) settings.

Rows are mapped to the same split names and fields as the books world
(``gt`` becomes ``continuation``), so the evaluation suite runs on either.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Sequence

from ..config import get_profile
from ..worlds.base import World
from .sources import read_first

HUB_IDS = {"news": "muse-bench/MUSE-News", "books": "muse-bench/MUSE-Books"}
# part -> (hub config, world split -> candidate hub splits, newest name first)
PARTS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "raw": ("raw", {"forget": ("forget",), "retain": ("retain1",), "retain2": ("retain2",),
                    "holdout": ("holdout",)}),
    "verbmem": ("verbmem", {"verbmem_forget": ("forget",)}),
    "knowmem": ("knowmem", {"knowmem_forget": ("forget_qa",), "knowmem_retain": ("retain_qa", "retain2_qa"),
                            "knowmem_forget_icl": ("forget_qa_icl",),
                            "knowmem_retain_icl": ("retain_qa_icl", "retain2_qa_icl")}),
    "privleak": ("privleak", {"privleak_forget": ("forget",), "privleak_retain": ("retain", "retain2"),
                              "privleak_holdout": ("holdout",)}),
    "scal": ("scal", {f"scal_{k}": (f"forget_{k}",) for k in range(1, 5)}),
    "sust": ("sust", {f"sust_{k}": (f"forget_{k}",) for k in range(1, 5)}),
}
DEFAULT_PARTS = ("raw", "verbmem", "knowmem", "privleak")


def load(corpus: str = "news", local_dir: str | Path | None = None,
         parts: Sequence[str] = DEFAULT_PARTS) -> World:
    """MUSE-News or MUSE-Books as a :class:`World`, from the hub or a local copy.

    ``parts`` picks hub configs (``scal`` and ``sust`` are large, so not read by
    default).  ``full`` is forget + retain, the text the target was trained on.
    """
    hub_id = _hub_id(corpus)
    tables: dict[str, list[dict]] = {}
    for part in parts:
        config, splits = _part(part)
        for split, candidates in splits.items():
            rows = read_first(hub_id, config, candidates, local_dir)
            tables[split] = [to_item(row, f"muse-{corpus}.{split}.{i:04d}") for i, row in enumerate(rows)]
    forget_to_retain = {}
    if "forget" in tables:
        tables["full"] = tables["forget"] + tables["retain"]
        forget_to_retain = {"forget": "retain"}
    return World(name=f"muse-{corpus}", profile=get_profile().name, tables=tables,
                 forget_to_retain=forget_to_retain, full_split="full")


def to_item(row: dict, item_id: str) -> dict:
    """A MUSE row in the course's schema: ``gt`` is renamed ``continuation``; other fields are kept."""
    item = {"id": item_id, **{k: v for k, v in row.items() if k != "gt"}}
    if "gt" in row:
        item["continuation"] = row["gt"]
    return item


def _hub_id(corpus: str) -> str:
    if corpus not in HUB_IDS:
        raise KeyError(f"MUSE has no corpus {corpus!r}; choose {' or '.join(HUB_IDS)}")
    return HUB_IDS[corpus]


def _part(part: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    if part not in PARTS:
        close = difflib.get_close_matches(part, PARTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"MUSE has no part {part!r}{hint}; choose from {', '.join(PARTS)}")
    return PARTS[part]
