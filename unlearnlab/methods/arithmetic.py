"""Methods built on a *reinforced* model: the target fine-tuned further on the forget set.

Fine-tuning on D_f shows which way the weights (task arithmetic) or the
next-token predictions (Who's Harry Potter) move when the model learns *more*
of the forget knowledge; both methods then go the opposite way.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..numerics import shift
from .base import Finetune, Method, forward_logits, register, require_reference, soft_cross_entropy
from .gradient import Descent


@register
@dataclass
class TaskVector(Descent):
    """Task-vector negation: θ_unlearned = θ_target − s·(θ_reinforced − θ_target).

    Training is plain descent on the forget set (this gives θ_reinforced); at
    the end the weights are moved the same distance the other way, scaled by
    ``scale`` (α in the paper, usually 1–5).  Ilharco et al., "Editing Models
    with Task Arithmetic" (ICLR 2023); the task-vector baseline of "Who's Harry
    Potter" and MUSE.  With LoRA the task vector is the adapter's B·A, so only
    the B matrices are negated and scaled (negating A as well would cancel out).
    Defaults: scale = 1, γ = 1, α = 0.
    """

    scale: float = 1.0
    name = "task_vector"
    needs_original = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("scale", strict=True)

    @torch.no_grad()
    def finalize(self, model, original: dict[str, torch.Tensor]) -> None:
        for name, param in model.named_parameters():
            if name in original and "lora_A" not in name:
                start = original[name].to(param.device)
                param.copy_(start - self.scale * (param - start))


@register
@dataclass
class WhoIsHarryPotter(Method):
    """Who's Harry Potter (soft generic labels):
    L_forget = mean_t CE( softmax(v_base − s·ReLU(v_reinforced − v_base)), p_θ ),

    v_base and v_reinforced the logits of the original and the reinforced model
    on the forget text.  Tokens the reinforced model likes *more* than the base
    model are the ones tied to the forget knowledge; lowering them gives a
    "generic" prediction, which the model is fine-tuned to imitate.  Eldan and
    Russinovich, "Who's Harry Potter? Approximate Unlearning in LLMs" (2023).
    Not implemented here: the paper's second ingredient, replacing anchored
    terms (names, places) in the text with generic ones before computing v_base.

    ``reinforced`` is a model fine-tuned further on the forget set; when it is
    None, :meth:`setup` builds one (plain fine-tuning for ``reinforce_epochs``
    epochs) before training starts.  Defaults: s (``strength``, α in the paper) = 5,
    γ = 1, α = 0.
    """

    alpha: float = 0.0
    strength: float = 5.0
    reinforce_epochs: float = 3.0
    reinforced: Any = field(default=None, repr=False)
    name = "whp"
    live_reference = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("strength")
        self.check_at_least("reinforce_epochs", strict=True)

    def setup(self, model, tokenizer, forget, finetune: Finetune) -> "WhoIsHarryPotter":
        """Fine-tune a copy of the model further on the forget set: the reinforced model, frozen."""
        if self.reinforced is not None:
            return self
        reinforced = finetune(copy.deepcopy(model), forget, self.reinforce_epochs)
        return replace(self, reinforced=reinforced.eval().requires_grad_(False))

    def forget_loss(self, logits, forget, reference):
        require_reference(reference, self.name, "the base logits v_base")
        if self.reinforced is None:
            raise ValueError("whp needs a reinforced model (the target fine-tuned further on the forget set): "
                             "pass reinforced=<model>, or run it through unlearnlab.unlearn(), "
                             "whose setup step builds one.")
        base = reference.logits(forget)
        with torch.no_grad():
            boosted = forward_logits(self.reinforced, forget)
        generic = base.float() - self.strength * torch.relu(boosted.float() - base.float())
        generic, _, mask = shift(generic, forget["labels"])
        return soft_cross_entropy(logits["forget"][:, :-1].float(), torch.softmax(generic, -1), mask)
