"""The survey's three desiderata as a scorecard, and an unlearning card written from saved results.

Liu et al. (2024) ask three things of unlearning: **generality** (forgetting
reaches in-scope variants of the request, such as paraphrased and indirect
questions, not only the exact forget items), **authenticity** (the knowledge is
gone, not hidden: it does not come back under relearning, quantization,
rephrasing or probing) and **precision** (nothing outside the scope is lost).
Each check here compares a method with the retrained model's seed band, never
with zero: a retrained model also answers some in-scope probes and also
relearns quickly, and that is the level exact unlearning reaches.

The card is a short Markdown record for whoever asked for the removal: what
was removed, how, the evidence, and the residual risks.  It is built only
from saved :class:`~unlearnlab.eval.results.EvalResult` files and attack
numbers, so it can be regenerated without a model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .band import Band, seed_bands
from .results import EvalResult, load_result

#: metrics where the method should not exceed the retrained band (in-scope knowledge left)
GENERALITY_METRICS = ("hard_in_scope_fact_recall", "hard_in_scope_rougeL_recall")
#: metrics where the method should not fall below the retrained band (out-of-scope knowledge kept)
PRECISION_METRICS = ("hard_out_of_scope_fact_recall", "hard_out_of_scope_rougeL_recall", "model_utility")
#: metrics the card's evidence table shows when present
CARD_METRICS = ("forget_fact_recall", "forget_rougeL_recall", "forget_quality", *GENERALITY_METRICS,
                *PRECISION_METRICS, "privleak")
DESIDERATA = ("generality", "authenticity", "precision")


@dataclass(frozen=True)
class Check:
    """One piece of evidence for one desideratum: a value against the retrained band."""

    desideratum: str
    evidence: str
    value: float
    band: Band
    ok: bool

    def line(self) -> str:
        """The check in words, naming the side of the band that matters.

        Every check is one-sided: a generality or authenticity value far *below*
        the band passes (and may be over-forgetting, which the reader should see),
        so "within the band" would misdescribe it.
        """
        if self.desideratum == "precision":
            where = "at or above the floor of" if self.ok else "below"
        else:
            where = "at or below the top of" if self.ok else "above"
        return (f"{self.evidence} = {self.value:.3f} ({where} the retrained band "
                f"[{self.band.low:.3f}, {self.band.high:.3f}])")


def scorecard(summary: Mapping[str, float], bands: Mapping[str, Band],
              attacks: Mapping[str, tuple[float, Band]] | None = None) -> list[Check]:
    """Every check the summary, the bands and the attacks allow.

    ``attacks`` maps an attack's name to (the method's score after the attack,
    the band of retrained models' scores after the same attack), with larger
    scores meaning more forget knowledge recovered.  A method is authentic on
    an attack when it recovers no more than a model that never saw the data.
    """
    checks = [Check("generality", m, summary[m], bands[m], summary[m] <= bands[m].high)
              for m in GENERALITY_METRICS if m in summary and m in bands]
    checks += [Check("authenticity", name, value, band, value <= band.high)
               for name, (value, band) in (attacks or {}).items()]
    checks += [Check("precision", m, summary[m], bands[m], summary[m] >= bands[m].low)
               for m in PRECISION_METRICS if m in summary and m in bands]
    return checks


def desideratum_verdicts(checks: Sequence[Check]) -> dict[str, str]:
    """"met", "not met" or "not measured" per desideratum (met means every check passed)."""
    verdicts = {}
    for name in DESIDERATA:
        mine = [c.ok for c in checks if c.desideratum == name]
        verdicts[name] = "not measured" if not mine else "met" if all(mine) else "not met"
    return verdicts


def attack_band(retrained_scores: Sequence[float], min_margin: float = 0.05) -> Band:
    """The band of several retrained models' scores after one attack (the same rule as seed bands)."""
    return seed_bands([{"score": s} for s in retrained_scores], ["score"], min_margin)["score"]


def unlearning_card(request: str, method: str, unlearned: Sequence[EvalResult | str | Path],
                    retrained: Sequence[EvalResult | str | Path], settings: Mapping[str, object] | None = None,
                    attacks: Mapping[str, tuple[float, Sequence[float]]] | None = None,
                    target: EvalResult | str | Path | None = None) -> str:
    """A Markdown unlearning card from saved results.

    ``unlearned`` holds one result per seed of the method (the checks use their
    mean); ``retrained`` two or more retrained seeds (the band); ``attacks``
    maps an attack's name to (the method's recovered score, the retrained
    seeds' scores under the same attack).  Paths are loaded with
    :func:`~unlearnlab.eval.results.load_result`, which recomputes every
    aggregate from the saved per-item statistics.
    """
    runs, refs = _load_all(unlearned, "unlearned"), _load_all(retrained, "retrained")
    before = _load(target) if target is not None else None
    summary = _mean_summary([r.summary() for r in runs])
    bands = seed_bands([r.summary() for r in refs], CARD_METRICS)
    attack_bands = {name: (value, attack_band(scores)) for name, (value, scores) in (attacks or {}).items()}
    checks = scorecard(summary, bands, attack_bands)
    sections = [_request_section(request, runs[0]), _method_section(method, settings, len(runs), len(refs)),
                _evidence_section(summary, bands, before), _desiderata_section(checks),
                _risks_section(checks, runs[0])]
    return "\n\n".join(sections) + "\n"


def _load(result: EvalResult | str | Path) -> EvalResult:
    return result if isinstance(result, EvalResult) else load_result(result)


def _load_all(results: Sequence[EvalResult | str | Path], role: str) -> list[EvalResult]:
    if not results:
        raise ValueError(f"the card needs at least one {role} result (an EvalResult or a saved JSON path)")
    return [_load(r) for r in results]


def _mean_summary(summaries: Sequence[Mapping[str, float]]) -> dict[str, float]:
    shared = set.intersection(*(set(s) for s in summaries))
    return {m: sum(s[m] for s in summaries) / len(summaries) for m in shared}


def _request_section(request: str, result: EvalResult) -> str:
    meta = result.meta
    forget = result.splits.get("forget")
    size = f"{len(forget.items)} items" if forget is not None else "size unknown"
    return (f"# Unlearning card\n\n## What was removed\n{request}\n\n"
            f"World `{meta.get('world')}`, forget split `{meta.get('forget')}` ({size}), "
            f"profile `{meta.get('profile')}`.")


def _method_section(method: str, settings: Mapping[str, object] | None, n_runs: int, n_refs: int) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in (settings or {}).items()) or "defaults"
    return (f"## How\nMethod `{method}` ({shown}); {n_runs} seed(s), judged against {n_refs} "
            "retrained seed(s) (exact unlearning: trained without the forget set).")


def _evidence_section(summary: Mapping[str, float], bands: Mapping[str, Band], target: EvalResult | None) -> str:
    before = target.summary() if target is not None else {}
    rows = ["| metric | target | unlearned (mean) | retrained band |", "|---|---|---|---|"]
    for m in CARD_METRICS:
        if m in summary:
            band = f"[{bands[m].low:.3f}, {bands[m].high:.3f}]" if m in bands else "—"
            start = f"{before[m]:.3f}" if m in before else "—"
            rows.append(f"| {m} | {start} | {summary[m]:.3f} | {band} |")
    return "## Evidence\n" + "\n".join(rows)


def _desiderata_section(checks: Sequence[Check]) -> str:
    lines = ["## Generality, authenticity, precision"]
    for name, word in desideratum_verdicts(checks).items():
        lines.append(f"- **{name}**: {word}")
        lines += [f"  - {c.line()}" for c in checks if c.desideratum == name]
    return "\n".join(lines)


def _risks_section(checks: Sequence[Check], result: EvalResult) -> str:
    risks = [f"{c.desideratum}: {c.line()}" for c in checks if not c.ok]
    risks += [f"{name} was not measured, so nothing is claimed about it"
              for name, word in desideratum_verdicts(checks).items() if word == "not measured"]
    if result.meta.get("profile") == "ci":
        risks.append("measured in the ci profile on a small world: the numbers are a smoke test, not a guarantee")
    body = "\n".join(f"- {r}" for r in risks) or "- none found by these checks (absence of evidence, not proof)"
    return "## Residual risks\n" + body
