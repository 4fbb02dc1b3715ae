"""Put several results side by side: a table, a distance to retraining, a Pareto front.

The survey insists that forgetting and utility trade off, so methods should be
compared on a Pareto front rather than by one number, and against the
retrained model (trained without the forget set), which is what exact unlearning would give.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .results import EvalResult

#: columns shown first by :func:`compare` when present (every other aggregate follows): the authors
#: world's, then each other world's own (books: MUSE; records: extraction; behaviour; hazard: WMDP)
HEADLINE = ("forget_quality", "model_utility", "forget_truth_ratio", "forget_prob", "forget_rougeL_recall",
            "retain_rougeL_recall", "hard_in_scope_rougeL_recall", "hard_out_of_scope_rougeL_recall",
            "verbmem_forget", "knowmem_forget", "knowmem_retain", "extract_forget_extracted",
            "extract_retain_extracted", "rude_probe_unwanted_rate_opening", "polite_probe_unwanted_rate_opening",
            "bias_probe_unwanted_rate", "forget_mcq_accuracy", "retain_mcq_accuracy",
            "privleak", "mia_auc_min_k", "forget_repetition", "unlearn_wall_time_s")
#: metrics on which "behaves like the retrained model" is judged by :func:`distance_to_retrain`
RETRAIN_METRICS = ("forget_prob", "forget_truth_ratio", "forget_rougeL_recall", "retain_prob",
                   "retain_truth_ratio", "retain_rougeL_recall", "holdout_prob", "mia_auc_min_k")


def named_results(results: Mapping[str, EvalResult] | Sequence[EvalResult]) -> dict[str, EvalResult]:
    if isinstance(results, Mapping):
        return dict(results)
    return {r.name: r for r in results}


def compare(results: Mapping[str, EvalResult] | Sequence[EvalResult],
            columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per result (named by the mapping's keys or by ``result.name``), one column per aggregate."""
    table = pd.DataFrame({name: r.summary() for name, r in named_results(results).items()}).T
    if columns is None:
        columns = [c for c in HEADLINE if c in table.columns] + sorted(c for c in table.columns if c not in HEADLINE)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"no result has {missing}; available: {', '.join(sorted(table.columns))}")
    return table[list(columns)]


def distance_to_retrain(results: Mapping[str, EvalResult] | Sequence[EvalResult], retrained: str | EvalResult,
                        metrics: Sequence[str] = RETRAIN_METRICS) -> pd.DataFrame:
    """|metric - metric of the retrained model| per result, and their mean (``mean_gap``, 0 = like retraining).

    ``retrained`` is the retrained model's result or its name among ``results``;
    metrics that it lacks are skipped.
    """
    named = named_results(results)
    gold = named[retrained] if isinstance(retrained, str) else retrained
    keys = [m for m in metrics if m in gold.aggregates]
    rows = {}
    for name, result in named.items():
        gaps = {m: abs(result.aggregates[m] - gold.aggregates[m]) for m in keys if m in result.aggregates}
        rows[name] = {**gaps, "mean_gap": float(np.mean(list(gaps.values()))) if gaps else np.nan}
    return pd.DataFrame(rows).T


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both axes (both maximised), sorted by x."""
    points = list(zip(xs, ys))
    front = [i for i, (x, y) in enumerate(points)
             if not any(x2 >= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in points)]
    return sorted(front, key=lambda i: points[i][0])
