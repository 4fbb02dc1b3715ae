"""A ROME-style rank-one edit of one MLP down-projection.

ROME (Meng et al., 2022, https://arxiv.org/abs/2202.05262) treats an MLP's
output projection ``W`` (d × m) as a linear associative memory: a *key* k (the
projection's input at one token, m numbers) is mapped to a *value* W k.  To make
the model say something else about one fact, pick the key the fact produces,
find a value v that makes the model output the new answer, and change W as
little as possible, in the metric of the keys' second moment C, so that W k = v:

    W ← W + (v − W k) (C⁻¹ k)ᵀ / (kᵀ C⁻¹ k)

Keys that are orthogonal to k under C⁻¹ (kᵀ C⁻¹ k' = 0) keep their values exactly;
the more a key resembles k, the more it moves with it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from ..formats import encode_qa
from ..methods.representation import decoder_layers
from .tracing import fact_prompt


def down_proj(model, layer: int) -> torch.nn.Linear:
    """The output projection of block ``layer``'s MLP (Llama: ``mlp.down_proj``)."""
    return decoder_layers(model)[1][layer].mlp.down_proj


@contextmanager
def _capture_inputs(module) -> Iterator[list[torch.Tensor]]:
    seen: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    try:
        yield seen
    finally:
        handle.remove()


def key_position(fact, position: str) -> int:
    """``last``: the prompt's last token; ``subject``: the last subject token (ROME's choice)."""
    if position == "last":
        return len(fact.input_ids) - 1
    if position == "subject":
        return fact.subject_positions[-1]
    raise ValueError(f"position must be 'last' or 'subject', not {position!r}")


@torch.no_grad()
def fact_keys(model, tokenizer, items: Sequence[dict], layer: int, position: str = "last") -> torch.Tensor:
    """(n, m) keys: the down-projection's input at ``position`` of each item's traced prompt."""
    proj, keys = down_proj(model, layer), []
    device = next(model.parameters()).device
    for item in items:
        fact = fact_prompt(tokenizer, item)
        with _capture_inputs(proj) as seen:
            model(input_ids=torch.tensor([fact.input_ids], device=device))
        keys.append(seen[0][0, key_position(fact, position)].float())
    return torch.stack(keys)


@torch.no_grad()
def key_second_moment(model, tokenizer, items: Sequence[dict], layer: int, ridge: float = 1e-3) -> torch.Tensor:
    """C = E[k kᵀ] over every token of the items' question + answer, plus ``ridge``·mean(diag)·I.

    Uncentred, as in ROME.  The ridge keeps C invertible when few keys are seen.
    """
    proj, total, count = down_proj(model, layer), None, 0
    device = next(model.parameters()).device
    for item in items:
        ids = encode_qa(tokenizer, item["question"], item["answer"])["input_ids"]
        with _capture_inputs(proj) as seen:
            model(input_ids=torch.tensor([ids], device=device))
        k = seen[0][0].float()
        total = k.T @ k if total is None else total + k.T @ k
        count += k.shape[0]
    c = total / count
    return c + ridge * c.diagonal().mean() * torch.eye(c.shape[0], device=c.device)


def rank_one_update(weight: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    second_moment: torch.Tensor) -> torch.Tensor:
    """ΔW = (v − W k)(C⁻¹ k)ᵀ / (kᵀ C⁻¹ k), so that (W + ΔW) k = v (in float32 at least, float64 if given)."""
    dtype = torch.promote_types(weight.dtype, torch.float32)
    w, k, v = weight.to(dtype), key.to(dtype), value.to(dtype)
    c_inv_k = torch.linalg.solve(second_moment.to(dtype), k)
    return torch.outer(v - w @ k, c_inv_k) / (k @ c_inv_k)


def optimise_value(model, tokenizer, item: dict, new_value: str, layer: int, position: str = "last",
                   steps: int = 150, lr: float = 1.0,
                   norm_weight: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The key k of ``item``, a value v = W k + δ that makes the model continue with ``new_value``, and its NLL.

    δ is added to the down-projection's output at the key's position only and
    trained with Adam to minimise the NLL of ``new_value``'s tokens after the
    traced prompt, plus ``norm_weight``·‖δ‖² (a small change is preferred).  The
    returned NLL (nats per token of ``new_value``) is that of the last step, with δ
    added at the key's position only: what the weight edit aims to reproduce.
    """
    fact = fact_prompt(tokenizer, item)
    at = key_position(fact, position)
    new_ids = tokenizer(" " + new_value.strip(), add_special_tokens=False)["input_ids"]
    device = next(model.parameters()).device
    ids = torch.tensor([fact.input_ids + new_ids], device=device)
    start = len(fact.input_ids)
    proj = down_proj(model, layer)
    with torch.no_grad(), _capture_inputs(proj) as seen:
        model(input_ids=ids)
    key = seen[0][0, at].float()
    base = (proj.weight.float() @ key).detach()
    delta = torch.zeros_like(base, requires_grad=True)
    hook = proj.register_forward_hook(lambda m, args, out: out.index_put(
        (torch.tensor([0], device=device), torch.tensor([at], device=device)), out[0, at] + delta.to(out.dtype)))
    optimiser = torch.optim.Adam([delta], lr=lr)
    was_training = model.training
    model.eval()
    requires = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for _ in range(steps):
            logits = model(input_ids=ids).logits[0, start - 1:-1].float()
            loss = torch.nn.functional.cross_entropy(logits, ids[0, start:]) + norm_weight * delta.pow(2).sum()
            nll = float((loss - norm_weight * delta.pow(2).sum()).detach())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        hook.remove()
        for p, r in zip(model.parameters(), requires):
            p.requires_grad_(r)
        model.train(was_training)
    return key, (base + delta).detach(), nll


@dataclass
class Edit:
    """What an edit did: where, the key and value, and ΔW (so it can be undone or inspected)."""
    layer: int
    key: torch.Tensor
    value: torch.Tensor
    delta: torch.Tensor


@torch.no_grad()
def apply_edit(model, layer: int, key: torch.Tensor, value: torch.Tensor, second_moment: torch.Tensor) -> Edit:
    """Add the rank-one update to block ``layer``'s down-projection in place; returns the :class:`Edit`."""
    proj = down_proj(model, layer)
    delta = rank_one_update(proj.weight, key, value, second_moment)
    proj.weight += delta.to(proj.weight.dtype)
    return Edit(layer, key, value, delta)
