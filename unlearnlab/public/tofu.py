"""TOFU (Maini et al., 2024), the benchmark the authors world stands in for.

``locuslab/TOFU`` holds 200 fictitious authors with 20 QA pairs each, in hub
configs: ``full``; ``forget01/05/10`` and their complements ``retain99/95/90``;
evaluation configs with a paraphrased and perturbed answers
(``forget01/05/10_perturbed``, ``retain_perturbed``, ``real_authors_perturbed``,
``world_facts_perturbed``); and ``holdout01/05/10`` (authors never trained on).
Every config has one split, ``train``.

Rows are mapped to the course's item schema, so the evaluation suite runs on
TOFU exactly as on the authors world: ``perturbed_answer`` (a list in TOFU)
becomes ``perturbed_answers``.  The forget splits come from the ``*_perturbed``
configs (same questions, plus the evaluation fields).  Real-author and
world-fact rows have no paraphrase in TOFU, whose evaluation compares the
perturbed answers with the answer itself; ``paraphrased_answer`` is therefore
the answer.  Unlike the authors world, TOFU trains on ``full`` alone: real
authors and world facts test what a pretrained model already knew.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..config import get_profile
from ..worlds.base import World
from .sources import read_rows

HUB_ID = "locuslab/TOFU"
FORGET_TO_RETAIN = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}
# world split -> TOFU config that holds it
CONFIGS = {
    "full": "full",
    **{forget: f"{forget}_perturbed" for forget in FORGET_TO_RETAIN},
    **{retain: retain for retain in FORGET_TO_RETAIN.values()},
    "retain_perturbed": "retain_perturbed",
    "real_authors": "real_authors_perturbed",
    "world_facts": "world_facts_perturbed",
    "holdout01": "holdout01", "holdout05": "holdout05", "holdout10": "holdout10",
}


def load(local_dir: str | Path | None = None, splits: Sequence[str] | None = None) -> World:
    """TOFU as a :class:`World`, from the hub or from a folder holding its JSON files.

    ``splits`` chooses which world splits to read (default: all of ``CONFIGS``);
    a local copy that lacks some files can be read with a shorter list.
    ``holdout`` is ``holdout10``, the holdout matching ``forget10``.
    """
    splits = list(splits or CONFIGS)
    unknown = [split for split in splits if split not in CONFIGS]
    if unknown:
        raise KeyError(f"TOFU has no split(s) {unknown}; choose from {', '.join(CONFIGS)}")
    tables = {split: read_split(split, local_dir) for split in splits}
    if "holdout10" in tables:
        tables["holdout"] = tables["holdout10"]
    forget_to_retain = {f: r for f, r in FORGET_TO_RETAIN.items() if f in tables and r in tables}
    return World(name="tofu", profile=get_profile().name, tables=tables, forget_to_retain=forget_to_retain,
                 full_split="full")


def read_split(split: str, local_dir: str | Path | None = None) -> list[dict]:
    """One world split, read from its TOFU config and mapped to the item schema."""
    config = CONFIGS[split]
    rows = read_rows(HUB_ID, config, "train", local_dir, stems=(_old_name(config),))
    return [to_item(row, f"tofu.{split}.{i:04d}") for i, row in enumerate(rows)]


def _old_name(config: str) -> str:
    """The file name of the first hub release (``all_dataset.json`` for ``full``)."""
    return "all_dataset" if config == "full" else f"{config}_dataset"


def to_item(row: dict, item_id: str) -> dict:
    """A TOFU row in the course's schema; fields the schema does not know are kept as they are."""
    item = {"id": item_id, **{k: v for k, v in row.items() if k != "perturbed_answer"}}
    if "perturbed_answer" in row:
        perturbed = row["perturbed_answer"]
        item["perturbed_answers"] = list(perturbed) if isinstance(perturbed, list) else [perturbed]
        item.setdefault("paraphrased_answer", row["answer"])
    return item
