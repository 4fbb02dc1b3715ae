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
                   steps: int = 200, lr: float = 0.5, norm_weight: float = 1e-4, stop_nll: float = 0.05,
                   max_norm: float = 4.0) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The key k of ``item``, a value v = W k + δ that makes the model continue with ``new_value``, and its NLL.

    δ is added to the down-projection's output at the key's position only and
    trained with Adam to minimise the NLL of ``new_value``'s tokens after the
    traced prompt, plus ``norm_weight``·‖δ‖² (a small change is preferred).  As in
    ROME, the optimisation stops as soon as the NLL is below ``stop_nll`` (a
    longer run only lengthens δ, and a longer δ moves every other key more), and
    ‖δ‖ is clamped to ``max_norm``·‖W k‖ after each step.  ROME's KL term on
    "X is a" prompts is left out: it keeps the *subject's* other facts when δ
    sits at the subject, but at the prompt's last token no other prompt shares δ.

    The returned NLL (nats per token of ``new_value``) is that of the returned δ,
    added at the key's position only: what the weight edit aims to reproduce.  If
    it stays high at every layer, even the last one (whose δ reaches the final
    norm directly), the new value is out of the model's reach: the final norm
    fixes the length of the last hidden state, and a token the model was never
    trained to output may win in no direction (chapter 07's " Stockholm").
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
    limit = max_norm * float(base.norm())
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
        for step in range(steps + 1):  # the last pass only measures the final δ
            logits = model(input_ids=ids).logits[0, start - 1:-1].float()
            nll_t = torch.nn.functional.cross_entropy(logits, ids[0, start:])
            nll = float(nll_t.detach())
            if nll < stop_nll or step == steps:
                break
            optimiser.zero_grad()
            (nll_t + norm_weight * delta.pow(2).sum()).backward()
            optimiser.step()
            with torch.no_grad():
                norm = delta.norm()
                if norm > limit:
                    delta.mul_(limit / norm)
    finally:
        hook.remove()
        for p, r in zip(model.parameters(), requires):
            p.requires_grad_(r)
        model.train(was_training)
    return key, (base + delta).detach(), nll


def output_ceiling(model, token_id: int, steps: int = 300, lr: float = 0.1) -> float:
    """The highest probability *any* last hidden state can give ``token_id``: an upper bound for every edit.

    Llama's final RMSNorm rescales the last hidden state h to length √d before its
    gain g, so the output layer only sees h's direction: p(token) = softmax(E (g ⊙
    √d·h/‖h‖)).  Maximising that over directions (Adam on a free vector, a few
    hundred cheap steps: no transformer pass) bounds what a δ at any layer, and so
    any weight edit, can reach.  A token the model was never trained to output can
    have a low ceiling; then no learning rate or step count helps.  The norm's ε
    is ignored (it only shortens h a little further).
    """
    norm, head = model.model.norm, model.get_output_embeddings()
    gain = norm.weight.detach().float()
    weight = head.weight.detach().float()
    bias = head.bias.detach().float() if getattr(head, "bias", None) is not None else None
    d = gain.shape[0]
    direction = (weight[token_id] * gain).clone().requires_grad_(True)  # start where the token's row points
    optimiser = torch.optim.Adam([direction], lr=lr)

    def log_p() -> torch.Tensor:
        logits = weight @ (gain * direction * (d ** 0.5 / direction.norm()))
        return (logits + bias if bias is not None else logits).log_softmax(-1)[token_id]

    for _ in range(steps):
        optimiser.zero_grad()
        (-log_p()).backward()
        optimiser.step()
    with torch.no_grad():
        return float(log_p().exp())


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
