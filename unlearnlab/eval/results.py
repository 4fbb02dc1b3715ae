"""The result of an evaluation: per-item statistics, the aggregates computed from them, JSON.

An :class:`EvalResult` keeps, for every evaluated item, what the model did on it
(teacher-forced statistics of the answer, its paraphrase and each perturbed
answer; the greedy generation and its scores; GradNorm; the retain-only model's
NLL).  **Every aggregate is a function of those statistics** (plus a small
``reference_log`` extracted from the retain-only model's result and the
unlearning run's ``run_log``), computed by :func:`compute_aggregates`.  That is
what lets forget quality use a reference model's saved log, lets a result be
judged against a new reference later (:meth:`EvalResult.against`), and lets a
JSON file be re-checked without any model.

Aggregate names (``{s}`` is a split name: ``forget``, ``retain``, ``holdout``,
``world_facts``, ``hard_in_scope``, ``hard_out_of_scope``, ...):

===============================  ==========================================================
``{s}_prob``                     mean p(answer) = exp(-NLL) (TOFU "Prob.")
``{s}_prob_normalised``          mean p(answer) / (p(answer) + Σ p(perturbed))
``{s}_nll``                      mean answer NLL
``{s}_truth_ratio``              the split's default truth-ratio aggregation (below)
``{s}_truth_ratio_closer_to_1``  mean min(R, 1/R); default on forget, holdout, hard_in_scope
``{s}_truth_ratio_true_better``  mean max(0, 1 - R); default on every other split
``{s}_rougeL_recall``            greedy answer vs. reference, ROUGE-L recall (TOFU)
``{s}_rougeL_f1``                ROUGE-L F1 (MUSE); also ``{s}_rouge1_recall``
``{s}_exact_match``              fraction of greedy answers equal to the reference
``{s}_repetition``               mean repeated-bigram fraction of the answers (fluency)
``{s}_exact_memorization``       teacher-forced token accuracy
``{s}_extraction_strength``      1 - k*/|y|
``{s}_accuracy``                 multiple-choice splits (WMDP style); ``{s}_chance`` beside it
``forget_gen_ref_ppl``           perplexity of the forget-set answers under the reference model
``forget_quality``               KS-test p-value against the retain-only model's forget truth ratios
``model_utility``                harmonic mean of retain and world-fact numbers (see ``notes``)
``mia_auc_{attack}``             forget (members) vs. holdout AUC; attacks in ``mia.ATTACKS``
``privleak_{attack}``            relative AUC change vs. the retain-only model, in %
``privleak``                     ``privleak_min_k`` (the MUSE/open-unlearning choice)
``unlearn_*``                    wall time, peak memory and FLOPs of the unlearning run
===============================  ==========================================================

Aggregates that cannot be computed (no reference, no holdout split) are left out
and ``notes`` says why.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import mcq, memorization, mia, tofu
from .efficiency import efficiency_aggregates
from .scoring import SequenceStats

# splits where the desired truth ratio is "truth and lies equally likely"
IN_SCOPE_SPLITS = ("forget", "holdout", "hard_in_scope")
# multiple-answer sets: probability is normalised over the options in model utility
FACT_SPLITS = ("world_facts", "real_authors", "real_world")
# choices made when aggregating (not when scoring), so a saved result can be re-aggregated
DEFAULT_SETTINGS = {"truth_ratio_base": "paraphrased", "min_k": mia.MIN_K_FRACTION,
                    "privleak_convention": "open-unlearning", "privleak_attack": "min_k"}
FORMAT_VERSION = 1
MISSING_ATTACK_NOTES = {
    "reference": "needs the retain-only model's NLLs: pass reference_model= or reference= to evaluate()",
    "gradnorm": "needs gradients: evaluate() with gradnorm=True",
}


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
    zlib_bytes: int | None = None
    ref_nll_mean: float | None = None
    gradnorm: float | None = None
    generation_ref_nll: float | None = None
    choice_logliks: list[float] = field(default_factory=list)
    answer_index: int | None = None

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
    reference_log: dict[str, Any] | None = None
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

    def against(self, reference: "EvalResult") -> "EvalResult":
        """A copy judged against another retain-only result (forget quality, privleak)."""
        copy = EvalResult.from_dict(self.to_dict())
        copy.reference_log = reference_log(reference)
        return copy.refresh()

    def with_settings(self, **settings) -> "EvalResult":
        """A copy with aggregates recomputed under other settings (keys of ``DEFAULT_SETTINGS``)."""
        unknown = [k for k in settings if k not in DEFAULT_SETTINGS]
        if unknown:
            raise KeyError(f"unknown settings {unknown}; known: {', '.join(DEFAULT_SETTINGS)}")
        copy = EvalResult.from_dict(self.to_dict())
        copy.settings.update(settings)
        return copy.refresh()

    def summary(self) -> dict[str, float]:
        """The aggregates as one flat dict, ready for a table row."""
        return dict(self.aggregates)

    # ----- per-item views -----------------------------------------------------------------
    def truth_ratios(self, split: str = "forget", base: str | None = None) -> list[float]:
        """Per-item truth ratios R of a split (items without perturbed answers are skipped).

        ``base`` defaults to the result's ``truth_ratio_base`` setting.
        """
        base = base or self.settings["truth_ratio_base"]
        return [r for r in (i.truth_ratio(base) for i in self.split(split).items) if r is not None]

    def mia_scores(self, attack: str, split: str) -> list[float]:
        """Per-item scores of a membership-inference attack on a split (lower = looks trained on)."""
        return [score for score in (_attack_score(i, attack, self.settings) for i in self.split(split).items)
                if score is not None]

    def items_frame(self, split: str):
        """A pandas DataFrame with one row per item: NLL, probability, truth ratio, ROUGE, generation."""
        import pandas as pd

        rows = []
        for item in self.split(split).items:
            row = {"id": item.id, "truth_ratio": item.truth_ratio(self.settings["truth_ratio_base"]),
                   "generation": item.generation,
                   **item.rouge, "repetition": item.repetition}
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
                "reference_log": self.reference_log, "run_log": self.run_log,
                "aggregates": self.aggregates, "notes": self.notes,
                "splits": {k: s.to_dict() for k, s in self.splits.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "EvalResult":
        return cls(name=data["name"], splits={k: SplitResult.from_dict(s) for k, s in data["splits"].items()},
                   meta=data.get("meta", {}), settings={**DEFAULT_SETTINGS, **data.get("settings", {})},
                   reference_log=data.get("reference_log"), run_log=data.get("run_log"),
                   aggregates=data.get("aggregates", {}), notes=data.get("notes", {}))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> "EvalResult":
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def load_result(path: str | Path) -> EvalResult:
    """Read a result written by :meth:`EvalResult.save`."""
    return EvalResult.from_json(Path(path).read_text(encoding="utf-8"))


def reference_log(reference: EvalResult) -> dict[str, Any]:
    """What a result needs from the retain-only model's result: forget truth ratios and MIA AUCs."""
    if "forget" not in reference.splits:
        raise ValueError(f"reference result {reference.name!r} has no forget split to compare with.")
    aucs = {a: reference.aggregates[f"mia_auc_{a}"] for a in mia.ATTACKS
            if f"mia_auc_{a}" in reference.aggregates}
    ratios = {base: reference.truth_ratios("forget", base) for base in tofu.TRUTH_RATIO_BASES}
    return {"name": reference.name, "forget_truth_ratios": ratios, "mia_auc": aucs}


def _json_default(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


# ======================================================================================
# aggregates
# ======================================================================================
def compute_aggregates(result: EvalResult) -> tuple[dict[str, float], dict[str, str]]:
    """All aggregates of a result and notes on those that could not be computed."""
    out: dict[str, float] = {}
    notes: dict[str, str] = {}
    for name, split in result.splits.items():
        out.update(split_aggregates(name, split.items, result.settings))
    out.update(_forget_quality(result, notes))
    out.update(_model_utility(out, notes))
    out.update(_membership_inference(result, notes))
    if result.run_log:
        out.update(efficiency_aggregates(result.run_log))
    return out, notes


def split_aggregates(name: str, items: list[ItemResult], settings: Mapping[str, Any]) -> dict[str, float]:
    """Per-split means: probability, truth ratio, memorisation, generation scores, MCQ accuracy."""
    out = _likelihood_aggregates(name, [i for i in items if i.answer is not None], settings)
    out.update(_generation_aggregates(name, items))
    choices = [i for i in items if i.choice_logliks]
    if choices:
        logliks = [i.choice_logliks for i in choices]
        out[f"{name}_accuracy"] = mcq.accuracy(logliks, [i.answer_index for i in choices])
        out[f"{name}_chance"] = mcq.chance(logliks)
    return out


def _likelihood_aggregates(name: str, scored: list[ItemResult], settings: Mapping[str, Any]) -> dict[str, float]:
    """What teacher forcing tells: probabilities, truth ratios, memorisation."""
    if not scored:
        return {}
    out = {f"{name}_prob": tofu.probability([i.answer.nll_mean for i in scored]),
           f"{name}_nll": float(np.mean([i.answer.nll_mean for i in scored]))}
    with_options = [i for i in scored if i.perturbed]
    if with_options:
        out[f"{name}_prob_normalised"] = tofu.normalised_probability(
            [i.answer.nll_mean for i in with_options], [[p.nll_mean for p in i.perturbed] for i in with_options])
        ratios = [i.truth_ratio(settings["truth_ratio_base"]) for i in with_options]
        for how in tofu.TRUTH_RATIO_AGGREGATIONS:
            out[f"{name}_truth_ratio_{how}"] = tofu.aggregate_truth_ratio(ratios, how)
        default = "closer_to_1" if name in IN_SCOPE_SPLITS else "true_better"
        out[f"{name}_truth_ratio"] = out[f"{name}_truth_ratio_{default}"]
    hits = [i.answer.token_correct for i in scored if i.answer.token_correct]
    if hits:
        out[f"{name}_exact_memorization"] = float(np.mean([memorization.exact_memorization(h) for h in hits]))
        out[f"{name}_extraction_strength"] = float(np.mean([memorization.extraction_strength(h) for h in hits]))
    return out


def _generation_aggregates(name: str, items: list[ItemResult]) -> dict[str, float]:
    """What the greedy answers tell: ROUGE, exact match, fluency."""
    out = {}
    for key in ("rougeL_recall", "rougeL_f1", "rouge1_recall"):
        values = [i.rouge[key] for i in items if key in i.rouge]
        if values:
            out[f"{name}_{key}"] = float(np.mean(values))
    for key in ("exact_match", "repetition"):
        values = [float(getattr(i, key)) for i in items if getattr(i, key) is not None]
        if values:
            out[f"{name}_{key}"] = float(np.mean(values))
    ref_nlls = [i.generation_ref_nll for i in items if i.generation_ref_nll is not None]
    if ref_nlls:
        out[f"{name}_gen_ref_ppl"] = math.exp(float(np.mean(ref_nlls)))
    return out


def _forget_quality(result: EvalResult, notes: dict[str, str]) -> dict[str, float]:
    if "forget" not in result.splits:
        return {}
    if not result.reference_log:
        notes["forget_quality"] = "no reference: pass reference=<EvalResult of the retain-only model>"
        return {}
    ratios = result.truth_ratios("forget")
    reference_ratios = result.reference_log["forget_truth_ratios"][result.settings["truth_ratio_base"]]
    if not ratios or not reference_ratios:
        notes["forget_quality"] = "no forget items with perturbed answers in this result or the reference"
        return {}
    pvalue, statistic = tofu.forget_quality(ratios, reference_ratios)
    return {"forget_quality": pvalue, "forget_quality_ks_statistic": statistic}


def _model_utility(aggregates: Mapping[str, float], notes: dict[str, str]) -> dict[str, float]:
    """TOFU's model utility: probability, ROUGE-L recall and truth ratio on retain and fact sets.

    TOFU uses retain, real-authors and world-facts sets (9 numbers); a world
    without real-world sets uses the ones it has, and ``notes`` lists them.
    """
    wanted = ["retain_prob", "retain_rougeL_recall", "retain_truth_ratio_true_better"]
    facts = [s for s in FACT_SPLITS if f"{s}_prob_normalised" in aggregates]
    for split in facts:
        wanted += [f"{split}_prob_normalised", f"{split}_rougeL_recall", f"{split}_truth_ratio_true_better"]
    missing = [key for key in wanted if key not in aggregates]
    if missing:
        notes["model_utility"] = f"not computed: missing {', '.join(missing)}"
        return {}
    absent = [s for s in FACT_SPLITS if s not in facts]
    notes["model_utility"] = (f"harmonic mean of {len(wanted)} numbers: {', '.join(wanted)}"
                              + (f" (this world has no {', '.join(absent)} split)" if absent else ""))
    return {"model_utility": tofu.model_utility({k: aggregates[k] for k in wanted})}


def _membership_inference(result: EvalResult, notes: dict[str, str]) -> dict[str, float]:
    if "forget" not in result.splits or "holdout" not in result.splits:
        notes["mia"] = "membership inference needs both a forget and a holdout split"
        return {}
    out: dict[str, float] = {}
    ref_aucs = (result.reference_log or {}).get("mia_auc", {})
    for attack in mia.ATTACKS:
        members, others = result.mia_scores(attack, "forget"), result.mia_scores(attack, "holdout")
        if len(members) < len(result.splits["forget"].items) or len(others) < len(result.splits["holdout"].items):
            notes[f"mia_auc_{attack}"] = MISSING_ATTACK_NOTES.get(
                attack, "not every forget/holdout item has this attack's statistics")
            continue
        auc = mia.mia_auc(members, others)
        out[f"mia_auc_{attack}"] = auc
        ref_auc = ref_aucs.get(attack)
        if ref_auc is None:
            ref_auc = 0.5
            notes[f"privleak_{attack}"] = "no reference AUC: compared with 0.5, as open-unlearning does"
        out[f"privleak_{attack}"] = mia.privleak(auc, ref_auc, result.settings["privleak_convention"])
    chosen = f"privleak_{result.settings['privleak_attack']}"
    if chosen in out:
        out["privleak"] = out[chosen]
    return out


def _attack_score(item: ItemResult, attack: str, settings: Mapping[str, Any]) -> float | None:
    """An item's score under one attack (lower = looks trained on); None if its statistics are missing."""
    if attack not in mia.ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; use one of {mia.ATTACKS}")
    stats = item.answer
    if attack == "gradnorm":
        return item.gradnorm
    if stats is None:
        return None
    if attack == "loss":
        return stats.nll_mean
    if attack == "zlib":
        return None if item.zlib_bytes is None else mia.zlib_score(stats.nll_mean, item.zlib_bytes)
    if attack == "reference":
        return None if item.ref_nll_mean is None else mia.reference_score(stats.nll_mean, item.ref_nll_mean)
    if not stats.token_logprobs:  # logs without token-level statistics (e.g. TOFU's)
        return None
    if attack == "min_k":
        return mia.min_k_score(stats.token_logprobs, settings["min_k"])
    return mia.min_k_plus_plus_score(stats.token_logprobs, stats.vocab_mean, stats.vocab_var, settings["min_k"])
