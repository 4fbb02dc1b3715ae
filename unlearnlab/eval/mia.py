"""Membership inference: can an attacker still tell the forget set from unseen data?

Each attack gives every item a score where LOWER means "looks like training
data" (a small loss, say).  The AUC of those scores separating the forget set
(members, label 0) from the holdout set (non-members, label 1) is open-unlearning's
convention: **AUC 1 = forget items are clearly recognisable as training data**,
0.5 = indistinguishable from unseen data.  The retrained model, which never saw
the forget set, sits near 0.5; a good unlearning run should too.

Attacks (scores from the saved teacher-forced statistics, except GradNorm):

* ``loss``: the answer's mean NLL (Yeom et al.);
* ``zlib``: NLL divided by the zlib-compressed length of the answer text in bytes
  (Carlini et al.), discounting answers that are simply easy to compress;
* ``reference``: NLL minus the retrained model's NLL on the same answer, which
  calibrates away how hard an answer is for any model (the literature's
  "reference model" is the retrained one here);
* ``min_k``: minus the mean of the lowest k% token log-probabilities (Shi et al.);
* ``min_k_plus_plus``: the same on standardised log-probabilities
  (log p(y_t) - μ_t) / σ_t, with μ_t and σ_t² the mean and variance of log p
  under the model's own next-token distribution (Zhang et al.);
* ``gradnorm``: the mean over parameter tensors of the L2 norm of the gradient of
  the answer loss; training data sits near a minimum, so its gradients are small.
"""
from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ..formats import pad_batch
from ..numerics import IGNORE_INDEX, shift
from .progress import bar
from .scoring import position_ids_from_mask

ATTACKS = ("loss", "zlib", "reference", "min_k", "min_k_plus_plus", "gradnorm")
MIN_K_FRACTION = 0.4  # open-unlearning's TOFU/MUSE setting
PRIVLEAK_CONVENTIONS = ("open-unlearning", "auc")


def zlib_bytes(text: str) -> int:
    """Length in bytes of the zlib-compressed text: a crude measure of its information content."""
    return len(zlib.compress(text.encode("utf-8")))


def zlib_score(nll_mean: float, compressed_bytes: int) -> float:
    return nll_mean / max(compressed_bytes, 1)


def reference_score(nll_mean: float, retrained_nll_mean: float) -> float:
    return nll_mean - retrained_nll_mean


def min_k_score(token_logprobs: Sequence[float], k: float = MIN_K_FRACTION) -> float:
    """Minus the mean of the lowest ``k`` fraction (at least one) of token log-probabilities."""
    if len(token_logprobs) == 0:
        return 0.0
    lowest = np.sort(np.asarray(token_logprobs, dtype=float))[: max(1, int(len(token_logprobs) * k))]
    return float(-lowest.mean())


def min_k_plus_plus_score(token_logprobs: Sequence[float], vocab_mean: Sequence[float],
                          vocab_var: Sequence[float], k: float = MIN_K_FRACTION) -> float:
    """Min-K% on z-scores (log p(y_t) - μ_t) / σ_t; the variance is floored at 1e-6 as in open-unlearning."""
    if len(token_logprobs) == 0:
        return 0.0
    sigma = np.sqrt(np.maximum(np.asarray(vocab_var, dtype=float), 1e-6))
    z = (np.asarray(token_logprobs, dtype=float) - np.asarray(vocab_mean, dtype=float)) / sigma
    return min_k_score(z.tolist(), k)


def mia_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """ROC AUC with members labelled 0 and non-members 1 (1 = members clearly detected)."""
    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError("mia_auc needs scores for at least one member and one non-member item.")
    labels = [0] * len(member_scores) + [1] * len(nonmember_scores)
    return float(roc_auc_score(labels, list(member_scores) + list(nonmember_scores)))


def roc_points(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve of an attack as (false-positive rates, true-positive rates), in :func:`mia_auc`'s convention.

    A threshold t calls an item a *member* when its score is at most t (lower =
    looks trained on); the curve sweeps t over every observed score.  TPR is the
    share of members caught, FPR the share of non-members wrongly called members,
    so the area under these points is exactly :func:`mia_auc` (why a chapter can
    draw the curve and quote the AUC side by side).
    """
    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError("roc_points needs scores for at least one member and one non-member item.")
    members = np.asarray(member_scores, dtype=float)
    others = np.asarray(nonmember_scores, dtype=float)
    thresholds = np.unique(np.concatenate([members, others]))
    tpr = np.concatenate([[0.0], [(members <= t).mean() for t in thresholds]])
    fpr = np.concatenate([[0.0], [(others <= t).mean() for t in thresholds]])
    return fpr, tpr


def bootstrap_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float], n_boot: int = 1000,
                  level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """:func:`mia_auc` with a percentile bootstrap interval: (AUC, low, high).

    With a few dozen items per side an AUC moves by several points when the items
    change, so a difference between two models' AUCs means something only when it
    is larger than this interval.  Members and non-members are resampled
    separately (each with replacement, at their own sizes), as the two sets were
    drawn separately.  ``seed`` makes the interval reproducible.
    """
    members = np.asarray(member_scores, dtype=float)
    others = np.asarray(nonmember_scores, dtype=float)
    auc = mia_auc(members, others)
    rng = np.random.default_rng(seed)
    draws = [_fast_auc(members[rng.integers(0, len(members), len(members))],
                       others[rng.integers(0, len(others), len(others))]) for _ in range(n_boot)]
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return auc, float(low), float(high)


def _fast_auc(members: np.ndarray, others: np.ndarray) -> float:
    """AUC as P(non-member score > member score) + ½ P(tie): the Mann-Whitney form, equal to :func:`mia_auc`."""
    diff = others[None, :] - members[:, None]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def privleak(auc: float, retrained_auc: float, convention: str = "open-unlearning") -> float:
    """Privacy leakage in percent relative to the retrained model's AUC (MUSE); 0 is ideal.

    ``open-unlearning`` (default): ((1 - AUC) - (1 - AUC_ref)) / (1 - AUC_ref) x 100.
    MUSE reports AUCs the other way round (1 - ours), and open-unlearning flips
    them to reproduce MUSE's numbers.  **Negative = under-unlearned** (the forget
    set is still recognisable: the target model scores about -100), positive =
    over-unlearned (the forget set now looks *less* familiar than unseen data).

    ``auc``: the formula applied to our AUC directly, (AUC - AUC_ref) / AUC_ref x 100,
    with the opposite sign: positive = under-unlearned, and a different scale.
    """
    if convention == "open-unlearning":
        score, ref = 1.0 - auc, 1.0 - retrained_auc
    elif convention == "auc":
        score, ref = auc, retrained_auc
    else:
        raise ValueError(f"unknown privleak convention {convention!r}; use one of {PRIVLEAK_CONVENTIONS}")
    return (score - ref) / (ref + 1e-10) * 100.0


def attack_score(item, attack: str, min_k: float = MIN_K_FRACTION) -> float | None:
    """An evaluated item's score under one attack (lower = looks trained on); None if a statistic is missing.

    ``item`` is an :class:`~unlearnlab.eval.results.ItemResult`: every attack but
    GradNorm reads the teacher-forced statistics of its answer.
    """
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; use one of {ATTACKS}")
    stats = item.answer
    if attack == "gradnorm":
        return item.gradnorm
    if stats is None:
        return None
    if attack == "loss":
        return stats.nll_mean
    if attack == "zlib":
        return None if item.zlib_bytes is None else zlib_score(stats.nll_mean, item.zlib_bytes)
    if attack == "reference":
        return None if item.retrained_nll_mean is None else reference_score(stats.nll_mean, item.retrained_nll_mean)
    if not stats.token_logprobs:  # logs without token-level statistics (e.g. TOFU's)
        return None
    if attack == "min_k":
        return min_k_score(stats.token_logprobs, min_k)
    return min_k_plus_plus_score(stats.token_logprobs, stats.vocab_mean, stats.vocab_var, min_k)


def gradnorm_scores(model, features: Sequence[dict], eos_token_id: int | None, pad_token_id: int,
                    batch_size: int = 1, progress: bool | None = None) -> list[float]:
    """Per-example mean over parameter tensors of ‖∇ loss‖₂ (open-unlearning's GradNorm, p = 2).

    The loss is the mean NLL of the answer tokens without the final EOS, as for
    the other token-level attacks.  Gradients come from ``torch.autograd.grad``,
    so the model's ``.grad`` buffers (an optimiser's state) are left untouched.
    ``batch_size`` is 1 by default because each example needs its own backward
    pass, and a backward pass from one row of a batched forward still runs
    through the whole batch's graph: with 16 rows a batch costs about 16 full
    backward passes instead of 16 small ones (3x slower on a CPU for the tiny
    model, same scores).  ``progress``: see :mod:`unlearnlab.eval.progress`.
    """
    params = [p for p in model.parameters() if p.requires_grad] or list(model.parameters())
    saved_flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    device = next(model.parameters()).device
    scores: list[float] = []
    shown = bar(len(features), "GradNorm", progress)
    try:
        for start in range(0, len(features), batch_size):
            rows = [{k: f[k] for k in ("input_ids", "attention_mask", "labels")}
                    for f in features[start:start + batch_size]]
            batch = {k: v.to(device) for k, v in pad_batch(rows, pad_token_id, side="right").items()}
            losses = _content_losses(model, batch, eos_token_id)
            for i, loss in enumerate(losses):
                grads = torch.autograd.grad(loss, params, retain_graph=i < len(losses) - 1, allow_unused=True)
                norms = [g.norm(2) for g in grads if g is not None]
                scores.append(float(torch.stack(norms).mean()))
            shown.update(len(rows))
    finally:
        shown.close()
        for p, flag in zip(params, saved_flags):
            p.requires_grad_(flag)
    return scores


def _content_losses(model, batch: dict[str, torch.Tensor], eos_token_id: int | None) -> list[torch.Tensor]:
    mask = batch["attention_mask"]
    with torch.enable_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=mask,
                       position_ids=position_ids_from_mask(mask)).logits
        logits, targets, _ = shift(logits, batch["labels"])
        logp = torch.log_softmax(logits, dim=-1)
        losses = []
        for row_logp, row_targets in zip(logp, targets):
            scored = (row_targets != IGNORE_INDEX).nonzero().squeeze(-1)
            if len(scored) > 1 and int(row_targets[scored[-1]]) == eos_token_id:
                scored = scored[:-1]
            token_lp = row_logp[scored].gather(-1, row_targets[scored].unsqueeze(-1))
            losses.append(-token_lp.mean())
    return losses
