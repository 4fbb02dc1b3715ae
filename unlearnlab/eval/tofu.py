"""The TOFU family: probability, truth ratio, forget quality and model utility.

All functions take per-item answer NLLs (token-mean, as saved by
:mod:`unlearnlab.eval.scoring`), so they work the same on a live evaluation and
on a saved log.  p = exp(-NLL) is the per-token geometric-mean probability.

Where TOFU's original code (``aggregate_eval_stat.py``) and open-unlearning
differ, the open-unlearning definition is the default:

* **Truth-ratio direction.**  We store R = p̄(perturbed) / p(base), "false over
  true", as open-unlearning does (and as TOFU's eval logs do in their
  ``truth_ratio`` field).  TOFU's aggregation script works with the reciprocal
  1/R ("paraphrased over perturbed").  Both aggregations below give the same
  numbers either way: min(R, 1/R) is symmetric, and TOFU's max(0, 1 - 1/x) with
  x = 1/R is max(0, 1 - R).
* **Numerics.**  R is computed in log space, exp(NLL_base - mean NLL_perturbed),
  exactly as TOFU does; open-unlearning divides probabilities with a 1e-10 guard,
  which agrees until probabilities fall below about 1e-8 (after heavy unlearning).
* **Forget quality** is the KS-test p-value on the forget-set R of the model and
  of the retrained model.  TOFU tests 1/R, open-unlearning 1/(R + 1e-10); a KS
  test only compares ranks, so any strictly monotone map gives the same p-value.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from scipy.stats import hmean, ks_2samp

TRUTH_RATIO_AGGREGATIONS = ("closer_to_1", "true_better")
#: which answer is the "truth" in the truth ratio: the paraphrase (TOFU and open-unlearning,
#: falling back to the answer on sets without paraphrases, as both do on real-world sets) or
#: always the answer.  The answer variant suits a model trained from scratch that never saw
#: the paraphrase's wording: there p(paraphrase) measures the unfamiliar wording, not the fact.
TRUTH_RATIO_BASES = ("paraphrased", "answer")
# log R is clipped so that exp() cannot overflow after extreme unlearning
_MAX_LOG_RATIO = 700.0


def probability(nll_means: Sequence[float]) -> float:
    """Mean over items of p(answer) = exp(-NLL)."""
    return float(np.mean(np.exp(-np.asarray(nll_means, dtype=float))))


def normalised_probability(answer_nlls: Sequence[float], perturbed_nlls: Sequence[Sequence[float]]) -> float:
    """Mean over items of p_correct / (p_correct + Σ p_wrong), TOFU's Prob. on real-world sets.

    Treating the perturbed answers as the other options of a multiple-choice
    question makes the number comparable across questions of different length.
    """
    values = []
    for answer, wrong in zip(answer_nlls, perturbed_nlls):
        p_correct = np.exp(-answer)
        values.append(p_correct / (p_correct + np.exp(-np.asarray(wrong, dtype=float)).sum()))
    return float(np.mean(values))


def truth_ratio(base_nll: float, perturbed_nlls: Sequence[float]) -> float:
    """R = p̄(perturbed) / p(base), with p̄ the geometric mean of the perturbed answers' p.

    The base is the paraphrased answer (TOFU uses the original answer on sets
    that have no paraphrase).  R near 0: the model clearly prefers the truth;
    R near 1: it cannot tell truth from plausible lies.
    """
    log_ratio = base_nll - float(np.mean(perturbed_nlls))
    return float(np.exp(np.clip(log_ratio, -_MAX_LOG_RATIO, _MAX_LOG_RATIO)))


def aggregate_truth_ratio(ratios: Sequence[float], how: str = "true_better") -> float:
    """Summarise per-item truth ratios into one score in [0, 1], higher is better.

    ``closer_to_1`` (forget sets): mean of min(R, 1/R), 1 when truth and lies are
    equally likely, as for a model that never saw the data.
    ``true_better`` (retain and other sets): mean of max(0, 1 - R), 1 when the
    truth is far more likely than the lies.
    """
    r = np.asarray(ratios, dtype=float)
    if how == "closer_to_1":
        return float(np.mean(np.minimum(r, 1.0 / r)))
    if how == "true_better":
        return float(np.mean(np.maximum(0.0, 1.0 - r)))
    raise ValueError(f"unknown truth-ratio aggregation {how!r}; use one of {TRUTH_RATIO_AGGREGATIONS}")


def forget_quality(ratios: Sequence[float], retrained_ratios: Sequence[float]) -> tuple[float, float]:
    """(p-value, KS statistic) of the two-sample KS test between forget-set truth ratios.

    ``retrained_ratios`` come from the retrained model on the same forget set.
    A high p-value means the unlearned model's truth ratios are indistinguishable
    from those of a model that never trained on the forget set.
    """
    if len(ratios) == 0 or len(retrained_ratios) == 0:
        raise ValueError("forget_quality needs truth ratios of at least one forget item for both models.")
    test = ks_2samp(np.asarray(ratios, dtype=float), np.asarray(retrained_ratios, dtype=float))
    return float(test.pvalue), float(test.statistic)


def model_utility(values: Mapping[str, float]) -> float:
    """Harmonic mean of the utility numbers (probability, ROUGE, truth ratio per set).

    The harmonic mean is dominated by the worst number, so a model cannot hide a
    collapse on one set behind good scores elsewhere.  Any zero gives zero.
    """
    if not values:
        raise ValueError("model_utility needs at least one value.")
    return float(hmean(np.asarray(list(values.values()), dtype=float)))
