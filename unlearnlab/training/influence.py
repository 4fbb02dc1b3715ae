"""Influence functions and one-step Newton removal, on a chosen subset of a model's weights.

A model trained to a minimum θ̂ of the mean training loss L(θ) = (1/n) Σ_j ℓ_j(θ)
moves, when example i is removed, to the minimum of L − ℓ_i/n.  One Newton step
from θ̂ on that objective gives (Koh and Liang, "Understanding Black-box
Predictions via Influence Functions", ICML 2017, https://arxiv.org/abs/1703.04730):

    θ_{−i} ≈ θ̂ + (1/n) H⁻¹ ∇ℓ_i(θ̂),          H = ∇²L(θ̂) (+ λI, damping),

and the change of a test loss is, to first order,

    Δℓ_test ≈ (1/n) ∇ℓ_testᵀ H⁻¹ ∇ℓ_i        (the *influence* of removing i).

Removing a set R sums the gradients (:func:`newton_removal`).  For a quadratic
loss the step with the Hessian of the loss *without* R lands exactly on the
minimiser without R; with the full H (the influence approximation) it is right
to first order in the removed share (the tests check both).
For a network trained to zero loss the Hessian is nearly singular and indefinite,
so λ decides much of the answer; this is why the course measures the estimates
against exact leave-one-out retraining (:func:`fit` with ``drop=``).

The parameters θ here are a :class:`Subset` of the weights, flattened into one
vector, so that H can be formed (``hessian``) and inverted for a few thousand
entries; :func:`conjugate_gradient` and :func:`lissa` solve H x = b from
Hessian-vector products alone, for subsets too large to form.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..formats import pad_batch
from ..numerics import sequence_nll


# ----- the loss: token-mean answer NLL per item ---------------------------------------------------
def item_losses(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """ℓ per row of a padded batch: the token-mean NLL of its answer (with gradients)."""
    device = next(model.parameters()).device
    logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
    nll_sum, n_tokens = sequence_nll(logits, batch["labels"].to(device))
    return nll_sum / n_tokens.clamp_min(1)


def batch_of(encoded, indices: Sequence[int], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Rows ``indices`` of an encoded dataset (``input_ids``/``attention_mask``/``labels``), padded."""
    rows = [{k: encoded[int(i)][k] for k in ("input_ids", "attention_mask", "labels")} for i in indices]
    return pad_batch(rows, pad_token_id)


@torch.no_grad()
def losses(model, encoded, pad_token_id: int, batch_size: int = 64) -> torch.Tensor:
    """ℓ of every item of ``encoded`` under ``model`` (no gradients), as a CPU tensor."""
    was_training = model.training
    model.eval()
    out = [item_losses(model, batch_of(encoded, range(s, min(s + batch_size, len(encoded))), pad_token_id)).cpu()
           for s in range(0, len(encoded), batch_size)]
    model.train(was_training)
    return torch.cat(out)


# ----- exact leave-out training -----------------------------------------------------------------
def fit(model, encoded, pad_token_id: int, *, epochs: int, learning_rate: float, batch_size: int, seed: int = 0,
        drop: Sequence[int] = (), warmup: float = 0.05) -> list[float]:
    """Train ``model`` in place on ``encoded`` with Adam; ``drop`` leaves those items out; returns the epoch losses.

    Why not ``finetune``: the Trainer draws a new shuffle when the dataset shrinks,
    so a model trained without item i would also see every other item in another
    order, and the two differences could not be told apart.  Here each epoch's
    order is a permutation of *all* n items drawn from ``(seed, epoch)``; a dropped
    item simply contributes nothing to its batch, and each batch's loss is the sum
    of its items' ℓ divided by the nominal ``batch_size`` (so removing an item
    removes exactly its term ℓ_i/B).  Same seed, same initial weights: the only
    difference between two runs is the dropped items.  The schedule is linear
    warm-up then cosine decay to zero, so that training ends near a minimum.
    """
    n = len(encoded)
    dropped = set(int(i) for i in drop)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    warm = max(1, int(warmup * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm))))
    model.train()
    history = []
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(n)
        running = 0.0
        for start in range(0, n, batch_size):
            chosen = [int(i) for i in order[start:start + batch_size] if int(i) not in dropped]
            optimiser.zero_grad(set_to_none=True)
            if chosen:
                loss = item_losses(model, batch_of(encoded, chosen, pad_token_id)).sum() / batch_size
                loss.backward()
                running += float(loss.detach()) * batch_size
            optimiser.step()  # also when the batch was only the dropped item: Adam's state moves the same way
            schedule.step()
        history.append(running / max(1, n - len(dropped)))
    model.eval()
    return history


# ----- the loss as a function of a few weights of the last MLP ----------------------------------------
class HeadLoss:
    """Per-item losses as a function of chosen entries θ of the last block's MLP down-projection.

    Everything below that weight is frozen, so its input a_t and the residual
    stream r_t it is added to are computed once (hooks on one forward pass);
    then for each answer position t

        logits_t(θ) = lm_head(final_norm(r_t + W(θ) a_t)),

    and ℓ_i(θ) is item i's token-mean NLL.  This is *exactly* the network's loss
    as a function of those entries (no later layer exists to change), but costs
    only the last few matrix products, so the Hessian of a thousand entries can
    be formed in seconds.  ``index`` are flat positions in the weight (None: all).
    """

    def __init__(self, model, encoded, pad_token_id: int, index: torch.Tensor | None = None, layer: int = -1):
        block = model.model.layers[layer]
        self.weight_module = block.mlp.down_proj
        weight = self.weight_module.weight
        self.shape = weight.shape
        self.base = weight.detach().clone()
        self.index = torch.arange(weight.numel()) if index is None else index.clone()
        self.norm, self.head = model.model.norm, model.lm_head
        store: dict[str, torch.Tensor] = {}
        hooks = [self.weight_module.register_forward_hook(
                     lambda mod, inp, out: store.update(a=inp[0].detach(), wa=out.detach())),
                 block.register_forward_hook(
                     lambda mod, inp, out: store.update(out=(out[0] if isinstance(out, tuple) else out).detach()))]
        batch = batch_of(encoded, range(len(encoded)), pad_token_id)
        try:
            with torch.no_grad():
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        finally:
            for hook in hooks:
                hook.remove()
        labels = batch["labels"][:, 1:]
        keep = labels != -100  # positions t whose next token is an answer token
        rows = torch.arange(len(encoded)).unsqueeze(1).expand_as(labels)[keep]
        self.a = store["a"][:, :-1][keep]
        self.r = (store["out"] - store["wa"])[:, :-1][keep]
        self.targets = labels[keep]
        self.rows, self.n = rows, len(encoded)
        self.tokens = torch.bincount(rows, minlength=self.n).float()

    def theta0(self) -> torch.Tensor:
        """The trained values of the chosen entries."""
        return self.base.flatten()[self.index].clone()

    def losses(self, theta: torch.Tensor) -> torch.Tensor:
        """ℓ_i(θ) for every item (differentiable in θ)."""
        flat = self.base.flatten().index_put((self.index,), theta)
        logits = self.head(self.norm(self.r + self.a @ flat.view(self.shape).T))
        token_nll = torch.nn.functional.cross_entropy(logits, self.targets, reduction="none")
        return torch.zeros(self.n, dtype=token_nll.dtype).index_add(0, self.rows, token_nll) / self.tokens

    def gradients(self, theta: torch.Tensor, items: Sequence[int] | None = None) -> torch.Tensor:
        """∇_θ ℓ_i for each item (rows), one backward pass per item."""
        theta = theta.detach().requires_grad_(True)
        values = self.losses(theta)
        chosen = range(self.n) if items is None else items
        return torch.stack([torch.autograd.grad(values[i], theta, retain_graph=True)[0] for i in chosen])

    def hessian(self, theta: torch.Tensor, chunk: int = 128) -> torch.Tensor:
        """The exact Hessian of the mean loss (1/n) Σ ℓ_i at θ (symmetrised)."""
        return hessian(lambda t: self.losses(t).mean(), theta, chunk)

    def assign(self, theta: torch.Tensor) -> None:
        """Write θ into the model's weight (in place)."""
        with torch.no_grad():
            self.weight_module.weight.view(-1)[self.index] = theta.to(self.weight_module.weight.dtype)


def hessian(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    """The exact Hessian ∇²fn(θ) of a scalar function of a vector, from batched Hessian-vector products."""
    theta = theta.detach().requires_grad_(True)
    grad = torch.autograd.grad(fn(theta), theta, create_graph=True)[0]
    d = len(theta)
    columns = []
    for start in range(0, d, chunk):
        size = min(chunk, d - start)
        basis = torch.zeros(size, d, dtype=theta.dtype)
        basis[torch.arange(size), torch.arange(start, start + size)] = 1.0
        columns.append(torch.autograd.grad(grad, theta, grad_outputs=basis, retain_graph=True,
                                           is_grads_batched=True)[0].detach())
    h = torch.cat(columns)
    return (h + h.T) / 2


def parameters_hvp_fn(params: Sequence[torch.Tensor], value: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ ∇²value · v over whole tensors ``params`` (flattened and concatenated), for solvers on many weights."""
    params = list(params)
    grads = torch.autograd.grad(value, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grads])

    def product(v: torch.Tensor) -> torch.Tensor:
        parts = torch.autograd.grad(flat, params, grad_outputs=v, retain_graph=True)
        return torch.cat([p.reshape(-1) for p in parts]).detach()
    return product


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iterations: int = 100,
                       tolerance: float = 1e-6) -> torch.Tensor:
    """Solve A x = b for a symmetric positive-definite A given only v ↦ A v (Hestenes and Stiefel, 1952)."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iterations):
        if rr.sqrt() <= tolerance * b.norm():
            break
        ap = matvec(p)
        alpha = rr / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def lissa(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, *, scale: float,
          iterations: int = 200) -> torch.Tensor:
    """H⁻¹ b by the truncated Neumann series of LiSSA (Agarwal, Bullins and Hazan, 2017, arXiv 1602.03943).

    x_0 = b,  x_t = b + x_{t−1} − H x_{t−1} / scale,  H⁻¹ b ≈ x_T / scale.
    Converges when ``scale`` exceeds the largest eigenvalue of H (H positive
    definite, e.g. damped); the course's variant uses the full training set for every
    product instead of LiSSA's random mini-batches, so the only error is truncation.
    """
    x = b.clone()
    for _ in range(iterations):
        x = b + x - matvec(x) / scale
    return x / scale


def damped_solve(h: torch.Tensor, b: torch.Tensor, damping: float) -> torch.Tensor:
    """(H + λI)⁻¹ b for a formed Hessian (float64 for accuracy)."""
    eye = torch.eye(len(h), dtype=torch.float64, device=h.device)
    return torch.linalg.solve(h.double() + damping * eye, b.double()).to(b.dtype)


def influence_on_test(test_gradient: torch.Tensor, item_gradients: torch.Tensor, inverse_hvp_test: torch.Tensor,
                      n: int) -> torch.Tensor:
    """Predicted change of the test loss when each item is removed: (1/n) ∇ℓ_iᵀ H⁻¹ ∇ℓ_test, one per row.

    ``inverse_hvp_test`` is H⁻¹ ∇ℓ_test (one solve serves every item, since H is symmetric);
    ``test_gradient`` is accepted only to check shapes.
    """
    if test_gradient.shape != inverse_hvp_test.shape or item_gradients.shape[1] != len(test_gradient):
        raise ValueError("the gradients must all live on the same subset of weights")
    return item_gradients @ inverse_hvp_test / n


def newton_removal(theta: torch.Tensor, removed_gradient_sum: torch.Tensor, solve: Callable[[torch.Tensor], torch.Tensor],
                   n: int) -> torch.Tensor:
    """θ + (1/n) H⁻¹ Σ_{i∈R} ∇ℓ_i: one Newton step towards the minimum of the training loss without R.

    ``solve(b)`` returns H⁻¹ b (formed: :func:`damped_solve`; iterative:
    :func:`conjugate_gradient`).  With H the Hessian at θ of (1/n) Σ over the
    items *kept*, this is an exact Newton step on the loss without R; with the
    Hessian of the mean over all n items (what influence functions use) it agrees
    to first order.
    """
    return theta + solve(removed_gradient_sum) / n


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank), as scipy computes it."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)
