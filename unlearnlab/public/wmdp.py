"""WMDP (Li et al., 2024), the benchmark the hazard world stands in for.

``cais/wmdp`` holds four-option multiple-choice questions on hazardous
knowledge in three configs, ``wmdp-bio``, ``wmdp-cyber`` and ``wmdp-chem``, each
with one split, ``test``, and the fields ``question``, ``choices`` (4 strings)
and ``answer`` (the index of the correct choice), which are already the
course's MCQ schema.  RMU is judged by pushing this accuracy to chance (25 %)
while neighbouring knowledge holds; WMDP measures the neighbour with MMLU
(``cais/mmlu``, same fields), here its closest subjects.  RMU's own training text
is ``cais/wmdp-corpora`` (``text``): the cyber forget and retain corpora are
public, the bio forget corpus is given out on request, and the bio retain
corpus is about 1 GB, so no corpus is read unless asked for.

Split names match the hazard world: ``forget_mcq`` (every WMDP config read),
``retain_mcq`` (the MMLU subjects), ``forget_corpus`` / ``retain_corpus``, plus one
split per WMDP config (``bio``, ``cyber``, ``chem``).
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Sequence

from ..config import get_profile
from ..worlds.base import World
from .sources import read_rows

HUB_ID = "cais/wmdp"
MMLU_ID = "cais/mmlu"
CORPORA_ID = "cais/wmdp-corpora"
SUBSETS = ("wmdp-bio", "wmdp-cyber", "wmdp-chem")
NEIGHBOURS = ("college_biology", "virology", "college_computer_science", "computer_security")


def load(subsets: Sequence[str] = SUBSETS, local_dir: str | Path | None = None,
         neighbours: Sequence[str] = NEIGHBOURS, mmlu_dir: str | Path | None = None,
         corpora: tuple[str, str] | None = None, corpora_dir: str | Path | None = None) -> World:
    """WMDP questions (and optionally MMLU neighbours and RMU corpora) as a :class:`World`.

    Each dataset is read from the hub, or from its own local folder
    (``local_dir`` for ``cais/wmdp``, ``mmlu_dir`` for ``cais/mmlu``,
    ``corpora_dir`` for ``cais/wmdp-corpora``).  ``corpora`` names a forget and a
    retain corpus, e.g. ``("cyber-forget-corpus", "cyber-retain-corpus")``.
    """
    tables: dict[str, list[dict]] = {}
    for subset in subsets:
        tables[subset.removeprefix("wmdp-")] = _mcqs(HUB_ID, _checked(subset, SUBSETS), local_dir)
    tables["forget_mcq"] = [row for subset in subsets for row in tables[subset.removeprefix("wmdp-")]]
    if neighbours:
        tables["retain_mcq"] = [row for subject in neighbours for row in _mcqs(MMLU_ID, subject, mmlu_dir)]
    if corpora:
        for role, config in zip(("forget_corpus", "retain_corpus"), corpora):
            rows = read_rows(CORPORA_ID, config, "train", corpora_dir)
            tables[role] = [{"id": f"{config}.{i:05d}", "text": row["text"]} for i, row in enumerate(rows)]
    return World(name="wmdp", profile=get_profile().name, tables=tables, forget_to_retain={})


def _mcqs(hub_id: str, config: str, local_dir: str | Path | None) -> list[dict]:
    rows = read_rows(hub_id, config, "test", local_dir)
    return [to_item(row, f"{config}.{i:04d}", config) for i, row in enumerate(rows)]


def to_item(row: dict, item_id: str, source: str) -> dict:
    """A WMDP or MMLU row in the MCQ schema; the answer index is checked against the choices."""
    choices = list(row["choices"])
    answer = int(row["answer"])
    if not 0 <= answer < len(choices):
        raise ValueError(f"{item_id}: answer index {answer} is outside its {len(choices)} choices")
    return {"id": item_id, "question": row["question"], "choices": choices, "answer": answer,
            "source": source, **({"subject": row["subject"]} if row.get("subject") else {})}


def _checked(subset: str, known: Sequence[str]) -> str:
    if subset not in known:
        close = difflib.get_close_matches(subset, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"WMDP has no subset {subset!r}{hint}; choose from {', '.join(known)}")
    return subset
