"""Sophia, a clipped second-order optimiser, for SOUL-style unlearning (``optimizer="sophia"``).

SOUL (Jia et al., "SOUL: Unlocking the Power of Second-Order Optimization for LLM
Unlearning", 2024, https://arxiv.org/abs/2404.18239) keeps a method's unlearning
objective and replaces AdamW by Sophia (Liu et al., "Sophia: A Scalable Stochastic
Second-order Optimizer for Language Model Pre-training", 2023,
https://arxiv.org/abs/2305.14342).  Per weight, with g the gradient of the objective:

    m ← β₁ m + (1 − β₁) g                        (momentum)
    h ← β₂ h + (1 − β₂) ĥ      every k steps      (EMA of a Hessian-diagonal estimate ĥ)
    θ ← θ − η·λ·θ                                  (decoupled weight decay)
    θ ← θ − η · clip(m / max(γ·h, ε), 1)          (clip elementwise to [−1, 1])

Where the curvature is large the step is a scaled Newton step m/h; where it is
flat (or h is not yet estimated) the clip makes it a sign step of size η.

ĥ is the Gauss–Newton–Bartlett estimate (:func:`gnb_estimate`): sample answers ŷ
from the model's own next-token distributions, take the gradient ĝ of the mean
cross-entropy on ŷ over the B answer tokens, ĥ = B·ĝ⊙ĝ.  Its expectation is the
diagonal of the Gauss–Newton matrix of the token log-likelihood, which does not
depend on the true labels and is never negative; so for gradient ascent and its
relatives it measures how sensitive the model's predictions are to each weight,
not the (negative) curvature of the ascent objective.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch


class Sophia(torch.optim.Optimizer):
    """θ ← θ − η·clip(m / max(γ·h, ε), 1), h an EMA of Hessian-diagonal estimates (Liu et al., 2023).

    Call :meth:`update_hessian` with one estimate per parameter (in parameter
    order) every few steps; the unlearning Trainer does this with
    :func:`gnb_estimate` when ``UnlearnConfig.optimizer == "sophia"``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-4, betas: tuple[float, float] = (0.965, 0.99),
                 gamma: float = 0.01, eps: float = 1e-12, weight_decay: float = 0.0):
        if lr <= 0 or gamma <= 0 or eps <= 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Sophia needs lr, gamma, eps > 0 and betas in [0, 1); got lr={lr}, gamma={gamma}, "
                             f"eps={eps}, betas={betas}")
        super().__init__(params, {"lr": lr, "betas": betas, "gamma": gamma, "eps": eps,
                                  "weight_decay": weight_decay})

    def _state(self, p: torch.Tensor) -> dict:
        state = self.state[p]
        if not state:
            state["momentum"] = torch.zeros_like(p)
            state["hessian"] = torch.zeros_like(p)
        return state

    @torch.no_grad()
    def update_hessian(self, estimates: Sequence[torch.Tensor | None]) -> None:
        """h ← β₂ h + (1 − β₂) ĥ for each parameter (``estimates`` in the order of the parameter groups)."""
        params = [p for group in self.param_groups for p in group["params"]]
        if len(estimates) != len(params):
            raise ValueError(f"one estimate per parameter: got {len(estimates)} for {len(params)} parameters")
        position = 0
        for group in self.param_groups:
            beta2 = group["betas"][1]
            for p in group["params"]:
                estimate = estimates[position]
                position += 1
                if estimate is not None:
                    self._state(p)["hessian"].mul_(beta2).add_(estimate, alpha=1 - beta2)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1 = group["betas"][0]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state(p)
                state["momentum"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                ratio = state["momentum"] / (group["gamma"] * state["hessian"]).clamp_min(group["eps"])
                p.add_(ratio.clamp(-1.0, 1.0), alpha=-group["lr"])
        return loss


def gnb_estimate(model, batch: dict[str, torch.Tensor], params: Sequence[torch.Tensor],
                 generator: torch.Generator | None = None) -> list[torch.Tensor | None]:
    """Gauss–Newton–Bartlett diagonal estimate ĥ = B·ĝ⊙ĝ for ``params`` on a batch's answer tokens.

    ĝ is the gradient of the mean cross-entropy of answers *sampled from the model*
    at the batch's answer positions (``labels`` ≠ −100), B the number of those
    positions.  Computed with ``torch.autograd.grad``, so the ``.grad`` fields that
    the Trainer accumulates are left alone.
    """
    device = next(model.parameters()).device
    logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
    logits = logits[:, :-1].float()
    answer = batch["labels"][:, 1:].to(device) != -100
    chosen = logits[answer]
    with torch.no_grad():
        sampled = torch.multinomial(torch.softmax(chosen, -1), 1, generator=generator).squeeze(-1)
    tokens = max(1, int(answer.sum()))
    loss = torch.nn.functional.cross_entropy(chosen, sampled, reduction="sum") / tokens
    grads = torch.autograd.grad(loss, list(params), allow_unused=True)
    return [None if g is None else tokens * g.detach() ** 2 for g in grads]
