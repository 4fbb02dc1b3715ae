"""Cheap probes to call during unlearning: the mean answer loss, or one layer's activation norm, on item sets.

The full suite takes seconds to minutes; a probe takes a fraction of a second, so
it can run every few steps (``unlearn(..., eval_fn=loss_probe(tok, forget=..., retain=...))``)
and the course can plot how forget and retain losses (or, for RMU, activations)
move while a method trains.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..formats import encode_qa, pad_batch
from ..methods.reference import capture_output
from ..methods.representation import decoder_layers
from ..numerics import answer_nll, pad_id


def mean_answer_loss(model, tokenizer, items: Sequence[dict], batch_size: int = 64) -> float:
    """Mean NLL per answer token of QA ``items`` (the training loss, measured without gradients)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        rows = [encode_qa(tokenizer, r["question"], r["answer"]) for r in items[start:start + batch_size]]
        nll, n = answer_nll(model, pad_batch(rows, pad_id(tokenizer)))
        total, count = total + float(nll.sum()), count + int(n.sum())
    model.train(was_training)
    return total / max(count, 1)


def loss_probe(tokenizer, **item_sets: Sequence[dict]) -> Callable[[object], dict[str, float]]:
    """An ``eval_fn`` for :func:`unlearnlab.unlearn`: the mean answer loss on each named item set.

    ``loss_probe(tok, forget=..., retain=...)`` returns ``model -> {"forget": …, "retain": …}``.
    """
    if not item_sets or any(len(items) == 0 for items in item_sets.values()):
        raise ValueError("loss_probe needs at least one non-empty item set, e.g. forget=world.items('forget10').")
    return lambda model: {name: mean_answer_loss(model, tokenizer, items) for name, items in item_sets.items()}


@torch.no_grad()
def mean_activation_norm(model, tokenizer, items: Sequence[dict], layer: int, batch_size: int = 64) -> float:
    """Mean L2 norm of decoder layer ``layer``'s output over the real tokens of QA ``items``.

    RMU pushes this towards its steering coefficient c on forget inputs and
    keeps it at the original model's value on retain inputs, so it is the
    quantity to watch while RMU trains, and the scale c must be chosen against.
    """
    was_training = model.training
    model.eval()
    module = decoder_layers(model)[1][layer]
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        rows = [encode_qa(tokenizer, r["question"], r["answer"]) for r in items[start:start + batch_size]]
        batch = pad_batch(rows, pad_id(tokenizer))
        with capture_output(module) as captured:
            model(input_ids=batch["input_ids"].to(model.device), attention_mask=batch["attention_mask"].to(model.device))
        mask = batch["attention_mask"].to(captured[0].device).bool()
        norms = captured[0].float().norm(dim=-1)[mask]
        total, count = total + float(norms.sum()), count + int(norms.numel())
    model.train(was_training)
    return total / max(count, 1)


def activation_probe(tokenizer, layer: int, **item_sets: Sequence[dict]) -> Callable[[object], dict[str, float]]:
    """An ``eval_fn`` for :func:`unlearnlab.unlearn`: the mean activation norm at ``layer`` on each item set."""
    if not item_sets or any(len(items) == 0 for items in item_sets.values()):
        raise ValueError("activation_probe needs at least one non-empty item set, e.g. forget=world.items('forget_qa').")
    return lambda model: {name: mean_activation_norm(model, tokenizer, items, layer)
                          for name, items in item_sets.items()}
