"""Maximum entropy on the forget answers (ME): the solution of chapter 14's write-your-own-method exercise.

Gradient ascent pushes the true answer token down without limit, and the model
finds the cheapest way to do that: put all its probability on some *other*
token, which is how repetition and babbling start.  Yuan et al., "A Closer Look
at Machine Unlearning for Large Language Models" (ICLR 2025,
https://arxiv.org/abs/2410.08109), ask instead for no preference at all: at
each answer position the next-token distribution should be uniform, the
behaviour of a model that never saw the answer and has no idea what comes next.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..numerics import shift
from .base import Method, register


@register
@dataclass
class MaxEntropy(Method):
    """Maximum entropy (ME): L_forget = mean over answer positions t of KL(U ‖ p_θ(·|x, y_<t)),

    with U the uniform distribution over the K tokens of the vocabulary, so

        KL(U ‖ p) = Σ_v (1/K)·log((1/K) / p_v) = −log K − (1/K)·Σ_v log p_v  ≥ 0,

    zero exactly when p is uniform.  Its gradient with respect to the logits z
    is p − 1/K: it lowers every token above 1/K (the true answer first) and
    raises every token below, so the loss is bounded and cannot be lowered by
    moving all the probability to one wrong token (gradient ascent can).
    Yuan et al., "A Closer Look at Machine Unlearning for Large Language Models"
    (2024, arXiv:2410.08109), used with a retain term (their ME+GD).
    Defaults: γ = α = 1, retain_loss = "nll".
    """

    name = "me"

    def forget_loss(self, logits, forget, reference):
        return uniform_kl(logits["forget"], forget["labels"])


def uniform_kl(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over answer positions of KL(uniform ‖ softmax(logits)): −log K − mean_v log p_v.

    Positions are those whose *next* token is scored (labels ≠ −100), as for the
    ordinary answer NLL, so ME reads exactly the positions gradient ascent reads.
    """
    scored, _, mask = shift(logits, labels)
    logp = F.log_softmax(scored.float(), dim=-1)
    per_position = -math.log(logp.shape[-1]) - logp.mean(-1)
    return (per_position * mask).sum() / mask.sum().clamp_min(1)
