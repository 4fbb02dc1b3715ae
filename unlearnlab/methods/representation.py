"""Representation misdirection: scramble what one layer computes on forget data.

Output-level methods change which answer comes out; RMU changes the internal
representation at one layer, so that everything downstream of it sees noise on
forget inputs while retain inputs keep their original activations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .base import Method, joint_logits, register, require_reference
from .reference import capture_output


def decoder_layers(model) -> tuple[str, nn.ModuleList]:
    """Name and module of the model's list of transformer blocks (any architecture, LoRA or not)."""
    n_layers = model.config.num_hidden_layers
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n_layers:
            return name, module
    raise ValueError(f"found no list of {n_layers} decoder layers in {type(model).__name__}")


def wmdp_layer(n_layers: int) -> int:
    """The layer WMDP steers, scaled to depth: layer 7 of Zephyr-7B's 32 is at 7/32 of the stack."""
    return min(n_layers - 1, round(n_layers * 7 / 32))


@register
@dataclass
class RMU(Method):
    """Representation Misdirection for Unlearning:
    L = γ·mean_t ‖h_ℓ(x_f)_t − c·u‖² + α·mean_t ‖h_ℓ(x_r)_t − h_ℓ^ref(x_r)_t‖²,

    with h_ℓ the output of decoder layer ℓ, u a fixed random unit vector (drawn
    once from U[0,1)^d and normalised, as in WMDP), ‖·‖² averaged over hidden
    units and over all real tokens, and only a few MLP weights at and below
    layer ℓ trained.  Li et al., "The WMDP Benchmark: Measuring and Reducing
    Malicious Use with Unlearning" (ICML 2024).

    Published defaults (the dataclass defaults, used from 10M parameters up) follow
    WMDP's Zephyr-7B setting scaled to depth: ``layer`` = round(7/32 · depth) (7 of 32),
    trained ``param_names`` = ``mlp.down_proj.weight`` of layers ``layer − 2 … layer``;
    c = 6.5, α = 1200, γ = 1.  The retain term matches activations of the frozen
    model (``retain_loss`` is not used).

    Tiny tier (below 10M parameters): c = 4897, α = 100, learning rate 1e-2.  c and α
    depend on the scale of the activations: the tiny target's activations at the
    steered layer have a mean norm of about 50-80, so c = 6.5 is lost among them and
    the default call changes nothing.  Chosen by ``python -m unlearnlab.perf.sweep_defaults rmu``
    (ci profile, 5 epochs, batch 4) on the hazard world with seed 1, not the chapters'
    world: c = 4, 16, 64 × the mean activation norm (76.5 at layer 1), α ∈ {10, 100},
    learning rate 1e-2 (the tests' working value); rule: the lowest forget-domain MCQ
    accuracy with the retain domain within 0.05 of the target's (both 1.000 before)::

        c       α    forget MCQ  retain MCQ
        306     10   0.483       0.983
        306     100  0.767       1.000
        1224    10   0.350       0.783
        1224    100  0.483       0.983
        4897    10   0.267       0.500
        4897    100  0.417       0.950   <- chosen

    Pass ``steering_coeff`` and ``alpha`` to choose your own; a model of another
    scale needs c rescaled to its activation norm.
    """

    alpha: float = 1200.0
    steering_coeff: float = 6.5
    layer: int | None = None
    param_layers: tuple[int, ...] | None = None
    param_names: tuple[str, ...] = ("mlp.down_proj.weight",)
    name = "rmu"
    live_reference = True
    tier_defaults: ClassVar[dict[str, dict]] = {
        "tiny": {"steering_coeff": 4897.0, "alpha": 100.0, "learning_rate": 1e-2}}
    tier_sweeps: ClassVar[dict[str, str]] = {
        "tiny": "python -m unlearnlab.perf.sweep_defaults rmu, hazard world seed 1, ci profile"}
    control: torch.Tensor | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least("steering_coeff", strict=True)

    def steered_layer(self, model) -> int:
        return self.layer if self.layer is not None else wmdp_layer(model.config.num_hidden_layers)

    def trainable_parameters(self, model) -> list[str]:
        prefix, _ = decoder_layers(model)
        layer = self.steered_layer(model)
        layers = self.param_layers if self.param_layers is not None else range(max(0, layer - 2), layer + 1)
        names = [f"{prefix}.{i}.{param}" for i in layers for param in self.param_names]
        known = dict(model.named_parameters())
        missing = [n for n in names if n not in known]
        if missing:
            examples = [n for n in known if n.startswith(f"{prefix}.0.")]
            raise ValueError(f"rmu: no parameters named {missing}; names in layer 0 are {examples}")
        return names

    def compute_loss(self, model, forget, retain, reference=None):
        inner = getattr(model, "module", model)  # under DistributedDataParallel, the wrapped model
        module = decoder_layers(inner)[1][self.steered_layer(inner)]
        batches = {"forget": forget}
        if self.uses_retain:
            require_reference(reference, self.name, "the retain activations")
            batches["retain"] = retain
        width = max(b["input_ids"].shape[1] for b in batches.values())
        with capture_output(module) as captured:  # one pass over forget and retain; the hook keeps layer ℓ
            joint_logits(model, batches, start=width - 1)  # RMU reads no logits: skip all but the last
        forget_acts = captured[0][: len(forget["input_ids"])]
        forget_loss = masked_mse(forget_acts, self.control_vector(forget_acts).expand_as(forget_acts),
                                 forget["attention_mask"])
        loss, parts = self.gamma * forget_loss, {"forget": forget_loss.detach()}
        if self.uses_retain:
            retain_acts = captured[0][len(forget["input_ids"]):]
            target = reference.activations(retain, module)
            retain_loss = masked_mse(retain_acts, target, retain["attention_mask"])
            loss = loss + self.alpha * retain_loss
            parts["retain"] = retain_loss.detach()
        return loss, parts

    def control_vector(self, activations: torch.Tensor) -> torch.Tensor:
        """c·u, drawn on first use from the (seeded) global generator and then kept fixed."""
        if self.control is None:
            u = torch.rand(activations.shape[-1])
            self.control = self.steering_coeff * u / u.norm()
        return self.control.to(device=activations.device, dtype=activations.dtype)


def masked_mse(activations: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared error averaged over hidden units, then over the real (unpadded) tokens."""
    width = mask.shape[1]
    per_token = (activations[:, :width].float() - target[:, :width].float()).pow(2).mean(-1)
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp_min(1)
