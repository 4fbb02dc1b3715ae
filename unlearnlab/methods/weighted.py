"""Token-level methods: decide per answer token how hard to unlearn it.

Gradient ascent treats every token alike and spends most of its push on tokens
that are already unlikely, which is where the damage to the rest of the model
comes from.  WGA down-weights those tokens; UNDIAL replaces the moving target
by a fixed one derived from the original model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..numerics import shift
from .base import Method, register, require_reference, soft_cross_entropy


@register
@dataclass
class WGA(Method):
    """Weighted gradient ascent: L_forget = −mean_t [ p_θ(y_t|x, y_<t)^β ]_sg · CE_t.

    Wang, Zhang, Bao, Han, Liu and Han, "Rethinking LLM Unlearning Objectives:
    A Gradient Perspective and Go Beyond" (ICLR 2025).  The weight p^β (held
    constant, "sg" = stop-gradient) fades as a token is forgotten, so ascent
    slows down by itself.  Defaults: β = 1, γ = α = 1.
    """

    beta: float = 1.0
    name = "wga"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("beta")

    def forget_loss(self, logits, forget, reference):
        token_logits, targets, mask = shift(logits["forget"], forget["labels"])
        ce = F.cross_entropy(token_logits.transpose(1, 2), targets, ignore_index=-100, reduction="none")
        weight = torch.exp(-ce).detach() ** self.beta
        return -(weight * ce * mask).sum() / mask.sum().clamp_min(1)


@register
@dataclass
class UNDIAL(Method):
    """UNDIAL, self-distillation with adjusted logits:
    L_forget = mean_t CE( softmax(z_ref,t − β·onehot(y_t)), p_θ(·|x, y_<t) ).

    Dong, Lin, Belkin, Huerta and Vulić, "UNDIAL: Self-Distillation with
    Adjusted Logits for Robust Unlearning in Large Language Models" (NAACL
    2025).  The target is the original model's distribution with the true
    token's logit lowered by β: fixed and bounded, so training cannot run away.
    Needs no-grad forwards of the original model on the forget batch.
    Defaults: β = 10, γ = 1, α = 0.
    """

    alpha: float = 0.0
    beta: float = 10.0
    name = "undial"
    live_reference = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("beta")

    def forget_loss(self, logits, forget, reference):
        require_reference(reference, self.name, "its distillation targets")
        ref_logits, targets, mask = shift(reference.logits(forget), forget["labels"])
        index = targets.clamp_min(0).unsqueeze(-1)  # unscored positions are masked out below
        adjusted = ref_logits.scatter_add(-1, index, torch.full(index.shape, -self.beta, device=index.device))
        soft_targets = torch.softmax(adjusted, dim=-1)
        return soft_cross_entropy(logits["forget"][:, :-1].float(), soft_targets, mask)
