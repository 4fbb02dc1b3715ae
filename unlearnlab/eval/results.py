"""The result of an evaluation: per-item statistics, the aggregates computed from them, JSON.

An :class:`EvalResult` keeps, for every evaluated item, what the model did on it
(teacher-forced statistics of the answer, its paraphrase and each perturbed
answer; the greedy generation and its scores; choice log-likelihoods; GradNorm;
the retrained model's NLL).  **Every aggregate is a function of those
statistics** (plus a small ``retrained_log`` taken from the retrained model's
result and the unlearning run's ``run_log``), computed by the registered
functions of :mod:`unlearnlab.eval.aggregates`.  That is what lets forget
quality use a retrained model's saved result, lets a result be judged against
another retrained model later (:meth:`EvalResult.against`), and lets a JSON file
be checked without any model (:func:`load_result` recomputes every aggregate).

Vocabulary: the **retrained** model is trained without the forget set (exact
unlearning, the gold standard every aggregate compares with); the **original**
model is the frozen model before unlearning.  ``reference`` used to name the
first; it survives as deprecated aliases for one release.

JSON format 2 (written by :meth:`EvalResult.save`) renamed ``reference_log`` to
``retrained_log`` and the item fields ``ref_nll_mean``/``generation_ref_nll`` to
``retrained_nll_mean``/``generation_retrained_nll``; format 1 files are read and
converted.
"""
from __future__ import annotations

import json
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import write_new
from . import mia, tofu
from .aggregates import compute_aggregates
from .scoring import SequenceStats

logger = logging.getLogger(__name__)

# choices made when aggregating (not when scoring), so a saved result can be re-aggregated
DEFAULT_SETTINGS = {"truth_ratio_base": "paraphrased", "min_k": mia.MIN_K_FRACTION,
                    "privleak_convention": "open-unlearning", "privleak_attack": "min_k"}
FORMAT_VERSION = 2
# names that format 2 changed, {old: new}, at the top level and in every item
RENAMED_IN_FORMAT_2 = {"reference_log": "retrained_log"}
RENAMED_ITEM_FIELDS_IN_FORMAT_2 = {"ref_nll_mean": "retrained_nll_mean",
                                   "generation_ref_nll": "generation_retrained_nll"}
#: what must agree between a result and the retrained model's result it is judged against
COMPARABLE_META = ("world", "world_fingerprint", "profile", "forget")


@dataclass
class ItemResult:
    """Everything measured on one item; absent measurements stay None/empty."""

    id: str
    answer: SequenceStats | None = None
    paraphrased: SequenceStats | None = None
    perturbed: list[SequenceStats] = field(default_factory=list)
    generation: str | None = None
    rouge: dict[str, float] = field(default_factory=dict)
    exact_match: bool | None = None
    repetition: float | None = None
    fact_recalled: bool | None = None
    extracted: bool | None = None
    zlib_bytes: int | None = None
    retrained_nll_mean: float | None = None
    gradnorm: float | None = None
    generation_retrained_nll: float | None = None
    choice_logliks: list[float] = field(default_factory=list)
    answer_index: int | None = None
    opening_logliks: list[float] = field(default_factory=list)
    unwanted_index: int | None = None

    def truth_ratio(self, base: str = "paraphrased") -> float | None:
        """R = p̄(perturbed) / p(base); None without perturbed answers.

        ``base="paraphrased"`` (TOFU, open-unlearning) uses the paraphrase where
        the item has one and the answer otherwise; ``base="answer"`` always uses
        the answer (see :data:`unlearnlab.eval.tofu.TRUTH_RATIO_BASES`).
        """
        if base not in tofu.TRUTH_RATIO_BASES:
            raise ValueError(f"unknown truth-ratio base {base!r}; use one of {tofu.TRUTH_RATIO_BASES}")
        truth = (self.paraphrased or self.answer) if base == "paraphrased" else self.answer
        if not self.perturbed or truth is None:
            return None
        return tofu.truth_ratio(truth.nll_mean, [p.nll_mean for p in self.perturbed])

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        for key in ("answer", "paraphrased"):
            out[key] = out[key].to_dict() if out[key] is not None else None
        out["perturbed"] = [p.to_dict() for p in self.perturbed]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ItemResult":
        data = dict(data)
        for key in ("answer", "paraphrased"):
            data[key] = SequenceStats.from_dict(data[key]) if data.get(key) is not None else None
        data["perturbed"] = [SequenceStats.from_dict(p) for p in data.get("perturbed", [])]
        return cls(**data)


@dataclass
class SplitResult:
    """The items of one evaluated split; ``source`` is the world's split name (e.g. forget10)."""

    name: str
    source: str
    items: list[ItemResult]

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "items": [i.to_dict() for i in self.items]}

    @classmethod
    def from_dict(cls, data: dict) -> "SplitResult":
        return cls(data["name"], data["source"], [ItemResult.from_dict(i) for i in data["items"]])


@dataclass
class EvalResult:
    """Per-item statistics of one model on one world, with aggregates computed from them."""

    name: str
    splits: dict[str, SplitResult]
    meta: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    retrained_log: dict[str, Any] | None = None
    run_log: dict[str, Any] | None = None
    aggregates: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    # ----- computing ----------------------------------------------------------------------
    def recompute(self) -> dict[str, float]:
        """Aggregates computed afresh from the per-item statistics (no model needed)."""
        return compute_aggregates(self)[0]

    def refresh(self) -> "EvalResult":
        """Recompute ``aggregates`` and ``notes`` in place; returns self."""
        self.aggregates, self.notes = compute_aggregates(self)
        return self

    def against(self, retrained: "EvalResult") -> "EvalResult":
        """A copy judged against another retrained model's result (forget quality, PrivLeak).

        Refuses a result from another world, profile or forget split: its truth
        ratios and AUCs would describe other items.
        """
        log = retrained_log_from(retrained)
        check_comparable(self.meta, log, self.name)
        copy = self.copy()
        copy.retrained_log = log
        return copy.refresh()

    def with_settings(self, **settings) -> "EvalResult":
        """A copy with aggregates recomputed under other settings (keys of ``DEFAULT_SETTINGS``)."""
        unknown = [k for k in settings if k not in DEFAULT_SETTINGS]
        if unknown:
            raise KeyError(f"unknown settings {unknown}; known: {', '.join(DEFAULT_SETTINGS)}")
        copy = self.copy()
        copy.settings.update(settings)
        return copy.refresh()

    def copy(self) -> "EvalResult":
        """An independent copy (through JSON, so nothing is shared with this result)."""
        return EvalResult.from_json(self.to_json())

    def summary(self) -> dict[str, float]:
        """The aggregates as one flat dict, ready for a table row."""
        return dict(self.aggregates)

    @property
    def reference_log(self) -> dict[str, Any] | None:
        """Deprecated name of :attr:`retrained_log` (removed in the next release)."""
        warnings.warn("EvalResult.reference_log is now EvalResult.retrained_log", DeprecationWarning, stacklevel=2)
        return self.retrained_log

    @reference_log.setter
    def reference_log(self, value: dict[str, Any] | None) -> None:
        warnings.warn("EvalResult.reference_log is now EvalResult.retrained_log", DeprecationWarning, stacklevel=2)
        self.retrained_log = value

    # ----- per-item views -----------------------------------------------------------------
    def truth_ratios(self, split: str = "forget", base: str | None = None) -> list[float]:
        """Per-item truth ratios R of a split (items without perturbed answers are skipped).

        ``base`` defaults to the result's ``truth_ratio_base`` setting.
        """
        base = base or self.settings["truth_ratio_base"]
        return [r for r in (i.truth_ratio(base) for i in self.split(split).items) if r is not None]

    def mia_scores(self, attack: str, split: str) -> list[float]:
        """Per-item scores of a membership-inference attack on a split (lower = looks trained on)."""
        return [score for score in (mia.attack_score(i, attack, self.settings["min_k"])
                                    for i in self.split(split).items) if score is not None]

    def items_frame(self, split: str):
        """A pandas DataFrame with one row per item: NLL, probability, truth ratio, ROUGE, generation."""
        import pandas as pd

        rows = []
        for item in self.split(split).items:
            row = {"id": item.id, "truth_ratio": item.truth_ratio(self.settings["truth_ratio_base"]),
                   "generation": item.generation, **item.rouge, "repetition": item.repetition,
                   "fact_recalled": item.fact_recalled, "extracted": item.extracted}
            if item.answer is not None:
                row.update(nll=item.answer.nll_mean, prob=item.answer.prob)
            rows.append(row)
        return pd.DataFrame(rows)

    def split(self, name: str) -> SplitResult:
        if name not in self.splits:
            raise KeyError(f"result {self.name!r} has no split {name!r}; it has {', '.join(self.splits)}")
        return self.splits[name]

    # ----- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, "name": self.name, "meta": self.meta, "settings": self.settings,
                "retrained_log": self.retrained_log, "run_log": self.run_log,
                "aggregates": self.aggregates, "notes": self.notes,
                "splits": {k: s.to_dict() for k, s in self.splits.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "EvalResult":
        """A result from :meth:`to_dict` output (format 1 or 2), stored aggregates kept as they are."""
        data = _upgrade(data)
        return cls(name=data["name"], splits={k: SplitResult.from_dict(s) for k, s in data["splits"].items()},
                   meta=data.get("meta", {}), settings={**DEFAULT_SETTINGS, **data.get("settings", {})},
                   retrained_log=data.get("retrained_log"), run_log=data.get("run_log"),
                   aggregates=data.get("aggregates", {}), notes=data.get("notes", {}))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> "EvalResult":
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the result as JSON, atomically; an existing file is replaced only with ``overwrite=True``."""
        return write_new(path, self.to_json(), overwrite=overwrite)


def load_result(path: str | Path, recompute: bool = False) -> EvalResult:
    """Read a result written by :meth:`EvalResult.save`, with its aggregates recomputed and checked.

    The aggregates served are always recomputed from the per-item statistics.
    If a stored value disagrees (edited by hand, or saved by a version whose
    formula differed), loading fails and names the aggregates, unless
    ``recompute=True`` accepts the recomputed values.  Stored aggregates that no
    registered function computes any more are dropped with a warning.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); was it cut off while being written?") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text file, so not an unlearnlab evaluation result.") from None
    if not isinstance(data, dict) or not {"format", "name", "splits"} <= set(data):
        raise ValueError(f"{path} is not an unlearnlab evaluation result "
                         "(expected a JSON object with 'format', 'name' and 'splits').")
    if data["format"] not in (1, FORMAT_VERSION):
        raise ValueError(f"{path} has result format {data['format']!r}; this version of unlearnlab reads "
                         f"formats 1 and {FORMAT_VERSION}.")
    result = EvalResult.from_dict(data)
    stored = result.aggregates
    result.refresh()
    differing = sorted(k for k in stored if k in result.aggregates and not _same(stored[k], result.aggregates[k]))
    if differing and not recompute:
        raise ValueError(f"{path}: stored aggregates differ from those recomputed from its per-item statistics: "
                         f"{', '.join(differing[:8])}{' ...' if len(differing) > 8 else ''}. The file was edited "
                         "or written by another version; load_result(path, recompute=True) uses the recomputed values.")
    dropped = sorted(set(stored) - set(result.aggregates))
    if dropped:
        logger.warning("%s: no registered aggregate computes %s any more; dropped", path, ", ".join(dropped))
    return result


def retrained_log_from(retrained: EvalResult) -> dict[str, Any]:
    """What a result needs from the retrained model's result: forget truth ratios, MIA AUCs, their origin."""
    if "forget" not in retrained.splits:
        raise ValueError(f"retrained model's result {retrained.name!r} has no forget split to compare with.")
    aucs = {a: retrained.aggregates[f"mia_auc_{a}"] for a in mia.ATTACKS
            if f"mia_auc_{a}" in retrained.aggregates}
    ratios = {base: retrained.truth_ratios("forget", base) for base in tofu.TRUTH_RATIO_BASES}
    origin = {key: retrained.meta[key] for key in COMPARABLE_META if key in retrained.meta}
    return {"name": retrained.name, **origin, "forget_truth_ratios": ratios, "mia_auc": aucs}


def reference_log(reference: EvalResult) -> dict[str, Any]:
    """Deprecated name of :func:`retrained_log_from` (removed in the next release)."""
    warnings.warn("reference_log() is now retrained_log_from()", DeprecationWarning, stacklevel=2)
    return retrained_log_from(reference)


def check_comparable(meta: dict[str, Any], retrained_log: dict[str, Any], name: str = "result") -> None:
    """Refuse a retrained model's result from another world, profile or forget split.

    Forget quality and PrivLeak compare per-item statistics of the same items;
    numbers from other items still look plausible (a p-value, a percentage), so
    a mismatch is an error.  Keys missing on either side (e.g. TOFU's logs) are
    not checked.
    """
    differing = [key for key in COMPARABLE_META
                 if meta.get(key) is not None and retrained_log.get(key) is not None
                 and meta[key] != retrained_log[key]]
    if differing:
        detail = "; ".join(f"{key}: {meta[key]!r} here, {retrained_log[key]!r} in the retrained model's result"
                           for key in differing)
        raise ValueError(f"cannot judge {name!r} against {retrained_log.get('name')!r}: {detail}. "
                         "Evaluate the retrained model on the same world, profile and forget split.")


def _upgrade(data: dict) -> dict:
    """Format 1 -> 2: ``reference`` became ``retrained`` in the stored names."""
    if data.get("format", FORMAT_VERSION) >= 2:
        return data
    data = {RENAMED_IN_FORMAT_2.get(k, k): v for k, v in data.items()}
    data["splits"] = {
        key: {**split, "items": [{RENAMED_ITEM_FIELDS_IN_FORMAT_2.get(k, k): v for k, v in item.items()}
                                 for item in split["items"]]}
        for key, split in data["splits"].items()}
    return data


def _same(a: float, b: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _json_default(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
