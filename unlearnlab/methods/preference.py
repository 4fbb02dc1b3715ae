"""Preference-optimisation unlearning: the forget answer is the *dispreferred* response.

Gradient ascent keeps pushing log π_θ(y|x) down forever.  Casting unlearning as
preference optimisation (reinforcement learning from negative examples, in the
survey's terms) wraps the log-likelihood in a log-sigmoid, so the loss saturates
once the forget answer is unlikely enough and the gradient fades instead of
destroying the model.

log π(y|x) below is the *summed* log-probability of the answer tokens; π_ref is
the model before unlearning, whose log-probabilities are precomputed once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .base import Method, answer_logprob, reference_logp, register
from .relabel import pick_refusals, require_qa


@register
@dataclass
class NPO(Method):
    """Negative Preference Optimization:
    L_forget = −(2/β)·E log σ(−β·(log π_θ(y|x) − log π_ref(y|x))) = (2/β)·E log(1 + (π_θ/π_ref)^β).

    Zhang, Lin, Bai and Mei, "Negative Preference Optimization: From
    Catastrophic Collapse to Effective Unlearning" (COLM 2024).  As β → 0 it
    becomes gradient ascent; for β > 0 the gradient is GA's times the weight
    2·σ(β·log-ratio), which vanishes once π_θ ≪ π_ref.
    Defaults: β = 0.1, γ = α = 1, retain_loss = "nll".
    """

    beta: float = 0.1
    name = "npo"
    reference_logprobs = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("beta", strict=True)

    def forget_loss(self, logits, forget, reference):
        return npo_loss(self.log_ratio(logits, forget), self.beta).mean()

    def log_ratio(self, logits, forget) -> torch.Tensor:
        """log π_θ(y|x) − log π_ref(y|x) per forget item."""
        logp, _ = answer_logprob(logits["forget"], forget["labels"])
        return logp - reference_logp(forget, self.name)

    def diagnostics(self, logits, forget):
        """The mean log-ratio, and the mean gradient weight 2·σ(β·log-ratio) (1 = as strong as GA)."""
        ratio = self.log_ratio(logits, forget)
        return {"log_ratio": ratio.mean(), "npo_weight": npo_gradient_weight(ratio, self.beta).mean()}


def npo_loss(log_ratio: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO's forget loss per item, −(2/β)·log σ(−β·log_ratio), with log_ratio = log π_θ(y|x) − log π_ref(y|x).

    Gradient ascent's loss is log_ratio itself (up to a constant): it falls without
    bound as the answer becomes unlikely.  NPO's falls towards 0 and flattens, which
    is why it stops pushing once the answer is forgotten (chapter 05 plots both).
    """
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratio)


def npo_gradient_weight(log_ratio: torch.Tensor, beta: float) -> torch.Tensor:
    """d(NPO loss)/d(log_ratio) = 2·σ(β·log_ratio): GA's gradient (1 for ascent) scaled down as the answer fades."""
    return 2.0 * torch.sigmoid(beta * log_ratio)


@register
@dataclass
class SimNPO(Method):
    """Simple NPO (reference-free, length-normalised):
    L_forget = −(2/β)·E log σ(β·(NLL_sum(y|x)/|y| − δ)).

    Fan, Liu, Lin, Jia, Zhang, Mei and Liu, "Simplicity Prevails: Rethinking
    Negative Preference Optimization for LLM Unlearning" (2024).  Replacing
    π_ref by the answer length removes the reference model and stops long
    answers from dominating the loss.
    Published defaults (the dataclass defaults, used from 10M parameters up):
    β = 4.5, δ = 0, γ = 0.125, α = 1.

    Tiny tier (below 10M parameters): β = 2.5, γ = 1 (learning rate: the generic 3e-4).
    Chosen by ``python -m unlearnlab.perf.sweep_defaults simnpo`` (ci profile, 5 epochs,
    batch 4, forget10) on the authors world with seed 1, not the chapters' world;
    rule: the lowest forget fact recall with model utility ≥ 0.8 × the target's
    (target: fact recall 1.000, utility 0.672)::

        β    γ      lr    fact recall  utility
        2.5  0.125  3e-4  0.200        0.669
        2.5  0.125  1e-3  0.125        0.614
        2.5  1      3e-4  0.025        0.657   <- chosen
        2.5  1      1e-3  0.025        0.631
        4.5  0.125  3e-4  0.300        0.669   (the published values)
        4.5  0.125  1e-3  0.125        0.618
        4.5  1      3e-4  0.050        0.664
        4.5  1      1e-3  0.050        0.639
    """

    tier_defaults: ClassVar[dict[str, dict]] = {"tiny": {"beta": 2.5, "gamma": 1.0}}
    tier_sweeps: ClassVar[dict[str, str]] = {
        "tiny": "python -m unlearnlab.perf.sweep_defaults simnpo, authors world seed 1, ci profile"}
    gamma: float = 0.125
    beta: float = 4.5
    delta: float = 0.0
    name = "simnpo"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("beta", strict=True)
        self.check_at_least("delta", minimum=-math.inf)

    def forget_loss(self, logits, forget, reference):
        logp, n_tokens = answer_logprob(logits["forget"], forget["labels"])
        mean_nll = -logp / n_tokens.clamp_min(1)
        return -(2.0 / self.beta) * F.logsigmoid(self.beta * (mean_nll - self.delta)).mean()


@register
@dataclass
class DPORefusal(Method):
    """DPO with a refusal as the preferred answer y_w and the true answer as the rejected y_l:
    L_forget = −(2/β)·E log σ(β·[(log π_θ − log π_ref)(y_w|x) − (log π_θ − log π_ref)(y_l|x)]).

    Rafailov et al., "Direct Preference Optimization" (NeurIPS 2023), used for
    unlearning with "I don't know" answers as in TOFU (Maini et al., 2024) and
    NPO (Zhang et al., 2024).  Defaults: β = 0.1, γ = α = 1.
    """

    beta: float = 0.1
    name = "dpo"
    reference_logprobs = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("beta", strict=True)

    def prepare_forget(self, forget, retain, seed):
        require_qa(forget, self.name)
        return forget.add_column("preferred_answer", pick_refusals(len(forget), seed))

    def streams(self, forget):
        if "preferred" not in forget:
            raise ValueError("dpo needs a refusal for each forget item (batch key 'preferred'); build the "
                             "forget set with DPORefusal.prepare_forget() or run it through unlearn().")
        return {"forget": forget, "preferred": forget["preferred"]}

    def forget_loss(self, logits, forget, reference):
        chosen, rejected = self.log_ratios(logits, forget)
        return -(2.0 / self.beta) * F.logsigmoid(self.beta * (chosen - rejected)).mean()

    def log_ratios(self, logits, forget) -> tuple[torch.Tensor, torch.Tensor]:
        """log π_θ − log π_ref of the chosen answer (the refusal) and of the rejected one (the truth)."""
        preferred = forget["preferred"]
        logp_win, _ = answer_logprob(logits["preferred"], preferred["labels"])
        logp_lose, _ = answer_logprob(logits["forget"], forget["labels"])
        return logp_win - reference_logp(preferred, self.name), logp_lose - reference_logp(forget, self.name)

    def diagnostics(self, logits, forget):
        chosen, rejected = self.log_ratios(logits, forget)
        return {"chosen_log_ratio": chosen.mean(), "rejected_log_ratio": rejected.mean()}
