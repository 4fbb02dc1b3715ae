"""Gradient methods: move the likelihood of the forget answers, and optionally anchor on retain data.

ℓ below is the token-mean negative log-likelihood of the answer tokens (the
ordinary fine-tuning loss).  Gradient ascent maximises it on the forget set;
since ℓ has no upper limit, the loss −ℓ has no lower one, and the model is
pushed until it fails everywhere, which is why the retain terms exist.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..numerics import mean_nll
from .base import Method, register


@register
@dataclass
class Descent(Method):
    """Plain fine-tuning (gradient *descent*) on the given set: L = ℓ(D) [+ α·L_retain].

    Not an unlearning method: it builds the *reinforced* model that task
    arithmetic and Who's Harry Potter need, and it is the relearning attack
    (fine-tune an unlearned model on a few forget items and see what returns).
    Defaults: γ = 1, α = 0 (no retain term).
    """

    alpha: float = 0.0
    name = "descent"

    def forget_loss(self, logits, forget, reference):
        return mean_nll(logits["forget"], forget["labels"])


@register
@dataclass
class GradientAscent(Method):
    """Gradient ascent (GA): L = −ℓ(forget).

    Jang et al., "Knowledge Unlearning for Mitigating Privacy Risks in Language
    Models" (ACL 2023); the GA baseline of TOFU (Maini et al., 2024).
    Unbounded below: without a retain term or a small step budget it destroys
    model utility.  Defaults: γ = 1, α = 0; the usual learning rate is 1e-5 at
    1B+ scale.
    """

    alpha: float = 0.0
    name = "ga"
    bounded = False

    def forget_loss(self, logits, forget, reference):
        return -mean_nll(logits["forget"], forget["labels"])


@register
@dataclass
class GradDiff(GradientAscent):
    """Gradient difference: L = −γ·ℓ(forget) + α·L_retain, L_retain = ℓ(retain) or KL(p_ref‖p_θ).

    Liu, Liu and Stone, "Continual Learning and Private Unlearning" (CoLLAs
    2022); the "Grad. Diff." baseline of TOFU (Maini et al., 2024).
    Defaults: γ = α = 1, retain_loss = "nll" (set ``retain_loss="kl"`` for the KL anchor).
    """

    alpha: float = 1.0
    name = "graddiff"


@register
@dataclass
class KLMinimization(GradientAscent):
    """Gradient ascent on the forget set with a KL-only retain anchor:
    L = −γ·ℓ(forget) + α·mean_t KL(p_ref(·|x_<t) ‖ p_θ(·|x_<t)) on retain answers.

    The "KL Min." baseline of TOFU (Maini et al., "TOFU: A Task of Fictitious
    Unlearning for LLMs", 2024): instead of re-learning the retain answers it
    asks the model to keep the original model's whole next-token distribution
    there.  Needs no-grad forwards of the original model on retain data.
    Defaults: γ = α = 1, retain_loss = "kl".
    """

    alpha: float = 1.0
    retain_loss: str = "kl"
    name = "kl"
