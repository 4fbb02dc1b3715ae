"""Read the original TOFU code's per-item eval logs into an :class:`EvalResult`.

TOFU's ``evaluate_util.py`` writes one JSON file per evaluated set, each a dict
of statistics keyed by item index (``avg_gt_loss``, ``avg_paraphrased_loss``,
``average_perturb_loss`` as a list per item, ``rougeL_recall``, ...), and
``eval_log_aggregated.json`` holds all four under their file names.  Loading them
here lets the course recompute TOFU's truth ratio, forget quality and model
utility with its own code, and check that it agrees with TOFU's
``aggregate_eval_stat.py``.

One detail matters for exact agreement: on its real-world sets TOFU has no
paraphrases and scores the original answer a second time as the truth ratio's
base (``avg_paraphrased_loss``).  We keep that second score as the item's
``paraphrased`` statistics, so the truth ratio uses the same number TOFU does.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from .generation import exact_match, repetition_rate
from .results import EvalResult, ItemResult, SplitResult, retrained_log_from
from .scoring import SequenceStats

#: TOFU's eval-log file -> split name in the course
TOFU_FILES = {
    "eval_log_forget.json": "forget",
    "eval_log.json": "retain",
    "eval_real_author_wo_options.json": "real_authors",
    "eval_real_world_wo_options.json": "world_facts",
}


def from_tofu_logs(logs: Mapping | str | Path, retain_logs: Mapping | str | Path | None = None,
                   name: str = "tofu") -> EvalResult:
    """An :class:`EvalResult` from TOFU logs (the aggregated dict or its JSON path).

    ``retain_logs`` are the retrained (retain-only) model's logs, for forget quality.
    """
    logs = _read(logs)
    unknown = [key for key in logs if key not in TOFU_FILES]
    if unknown:
        raise KeyError(f"unknown TOFU eval-log entries {unknown}; expected a dict keyed by file name, "
                       f"as in eval_log_aggregated.json, with some of {list(TOFU_FILES)} "
                       "(wrap a single file's log as {'eval_log_forget.json': log}).")
    splits = {TOFU_FILES[key]: SplitResult(TOFU_FILES[key], key, _items(log)) for key, log in logs.items()}
    result = EvalResult(name=name, splits=splits, meta={"source": "TOFU eval logs"})
    if retain_logs is not None:
        result.retrained_log = retrained_log_from(from_tofu_logs(retain_logs, name=f"{name}-retain"))
    return result.refresh()


def _read(logs: Mapping | str | Path) -> dict:
    if isinstance(logs, (str, Path)):
        return json.loads(Path(logs).read_text(encoding="utf-8"))
    return dict(logs)


def _items(log: Mapping) -> list[ItemResult]:
    items = []
    for key in log["avg_gt_loss"]:
        item = ItemResult(id=str(key), answer=_stats(log, "avg_gt_loss", "gt_loss", "num_token_gt", key))
        if "avg_paraphrased_loss" in log:
            item.paraphrased = _stats(log, "avg_paraphrased_loss", "paraphrased_loss", "num_token_paraphrased", key)
        for j, mean in enumerate(log.get("average_perturb_loss", {}).get(key, [])):
            total = log.get("perturb_loss", {}).get(key, [mean] * (j + 1))[j]
            count = log.get("num_token_perturb", {}).get(key, [1] * (j + 1))[j]
            item.perturbed.append(SequenceStats(nll_mean=mean, nll_sum=total, n_tokens=count))
        item.rouge = {k: log[k][key] for k in ("rougeL_recall", "rouge1_recall") if key in log.get(k, {})}
        if key in log.get("generated_text", {}):
            _, generated, truth = log["generated_text"][key]
            item.generation = generated
            item.exact_match = exact_match(generated, truth)
            item.repetition = repetition_rate(generated)
        items.append(item)
    return items


def _stats(log: Mapping, mean_key: str, sum_key: str, count_key: str, item_key: str) -> SequenceStats:
    mean = log[mean_key][item_key]
    return SequenceStats(nll_mean=mean, nll_sum=log.get(sum_key, {}).get(item_key, mean),
                         n_tokens=log.get(count_key, {}).get(item_key, 1))
