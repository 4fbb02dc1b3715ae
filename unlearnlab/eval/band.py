"""Judge an unlearned model against the retrained model's seed band, not against zero.

Exact unlearning (retraining without the forget set) is the goal, so a method
has forgotten well when its numbers look like a retrained model's.  But two
retrained models that differ only in their random seed already differ a little:
that spread is the *noise floor*, and a gap smaller than it means nothing.
This module turns a few retrained seeds into a band per metric and says, in
words, where a method lands: like retraining, still remembering, forgetting
past retraining (over-forgetting, e.g. babbling), or collapsed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

#: metrics a verdict reads, and which way is "more forgetting" (lower forget recall, more repetition)
FORGET_METRICS = ("forget_fact_recall", "forget_rougeL_recall")
UTILITY_METRICS = ("retain_rougeL_f1", "model_utility")
FLUENCY_METRIC = "forget_repetition"


@dataclass(frozen=True)
class Band:
    """The range of one metric over retrained seeds, widened by a margin."""

    low: float
    high: float
    seeds: tuple[float, ...]

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def seed_bands(retrained: Sequence[Mapping[str, float]], metrics: Sequence[str],
               min_margin: float = 0.05) -> dict[str, Band]:
    """One band per metric from the summaries of several retrained seeds.

    The band is [min − m, max + m] over the seeds, with the margin m the seeds'
    own spread (max − min) but at least ``min_margin``: with two or three seeds
    the observed spread underestimates the true one, so a floor keeps the band
    from being absurdly thin.  Metrics missing from any seed are skipped.
    """
    if len(retrained) < 2:
        raise ValueError("a seed band needs the results of at least two retrained seeds; "
                         f"got {len(retrained)}. Train more with models.retrained(..., seed=k).")
    bands = {}
    for metric in metrics:
        values = [summary[metric] for summary in retrained if metric in summary]
        if len(values) < len(retrained):
            continue
        margin = max(max(values) - min(values), min_margin)
        bands[metric] = Band(min(values) - margin, max(values) + margin, tuple(values))
    return bands


def verdict(summary: Mapping[str, float], bands: Mapping[str, Band]) -> str:
    """Where a model lands relative to retraining, in a few words.

    ``collapsed`` when retain answers or utility fall to half the band's floor
    or less (a collapsed model also "forgets", so nothing else is said);
    ``like retrained`` when nothing below applies; otherwise the problems,
    joined by "; ":

    * ``still remembers``: more forget facts recalled than the band allows
      (ROUGE-L stands in when facts are not measured: a wrong answer in the
      right words scores high ROUGE-L, so facts are the better judge);
    * ``over-forgets``: forget answers further from the truth's wording than a
      retrained model's (ROUGE-L below the band), or repetitive (babbling);
    * ``utility below retrained``.
    """
    def has(metric: str) -> bool:
        return metric in bands and metric in summary

    if any(has(m) and summary[m] < 0.5 * bands[m].low for m in UTILITY_METRICS):
        return "collapsed"
    recall = next((m for m in FORGET_METRICS if has(m)), None)
    problems = []
    if recall is not None and summary[recall] > bands[recall].high:
        problems.append("still remembers")
    below = any(has(m) and summary[m] < bands[m].low for m in FORGET_METRICS)
    if below or (has(FLUENCY_METRIC) and summary[FLUENCY_METRIC] > bands[FLUENCY_METRIC].high):
        problems.append("over-forgets")
    if any(has(m) and summary[m] < bands[m].low for m in UTILITY_METRICS):
        problems.append("utility below retrained")
    return "; ".join(problems) or "like retrained"


def seed_table(results: Mapping[str, Sequence[Mapping[str, float]]], metrics: Sequence[str]):
    """Mean, standard deviation, min and max of each metric over the seeds of each run.

    ``results`` maps a run's name (a method, or "retrained") to the summaries
    of its seeds.  A conclusion drawn from a difference between two runs needs
    this table: a gap smaller than the runs' own spread across seeds is noise.
    Returns a frame with one row per run and columns ``(metric, statistic)``.
    """
    import pandas as pd

    rows = {}
    for name, summaries in results.items():
        if not summaries:
            raise ValueError(f"run {name!r} has no seeds; pass the summaries of one or more runs")
        row = {}
        for metric in metrics:
            values = pd.Series([s[metric] for s in summaries if metric in s], dtype=float)
            row.update({(metric, "mean"): values.mean(), (metric, "std"): values.std(ddof=1),
                        (metric, "min"): values.min(), (metric, "max"): values.max(),
                        (metric, "n"): len(values)})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table
