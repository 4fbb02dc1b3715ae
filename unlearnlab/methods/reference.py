"""The frozen original model π_ref, at the lowest memory cost each method allows.

Methods compare the model being unlearned with the model it started from in two
ways, and each gets the cheapest form:

* **Log-probabilities of fixed answers** (NPO, DPO): the forget answers never
  change, so log π_ref(y|x) is computed once, in one no-grad pass before
  training, and stored with each item (:func:`add_reference_logprobs`).
* **Distributions or activations on changing inputs** (KL on retain data,
  UNDIAL, RMU, Who's Harry Potter): :class:`FrozenReference` runs the original
  model without gradients.  With LoRA the original model *is* the base model
  with the adapter switched off; otherwise only the trainable parameters are
  copied (all of them for full fine-tuning, a few matrices for RMU), and the
  forward pass swaps them in with :func:`torch.func.functional_call`.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import torch
from torch.func import functional_call

from ..formats import pad_batch
from ..numerics import sequence_nll
from .base import forward_logits


def snapshot_trainable(model) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter that training will change."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def is_peft(model) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


class FrozenReference:
    """No-grad outputs of ``model`` as it was when this object was created."""

    def __init__(self, model):
        self.model = model
        self.originals = None if is_peft(model) else snapshot_trainable(model)
        self.tokens = 0  # tokens processed so far, for cost accounting

    @contextlib.contextmanager
    def _frozen_mode(self):
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                if self.originals is None:
                    with self.model.disable_adapter():
                        yield
                else:
                    yield
        finally:
            self.model.train(was_training)

    def _forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.tokens += int(batch["attention_mask"].sum())
        if self.originals is None:
            return forward_logits(self.model, batch)
        return forward_logits(lambda **kwargs: functional_call(self.model, self.originals, (), kwargs), batch)

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the original model on a padded batch (from ``batch["logits_start"]`` on)."""
        with self._frozen_mode():
            return self._forward(batch)

    def activations(self, batch: dict[str, torch.Tensor], module: torch.nn.Module) -> torch.Tensor:
        """Output of ``module`` (e.g. one decoder layer) in the original model."""
        with self._frozen_mode(), capture_output(module) as captured:
            self._forward(batch)
        return captured[0]


@contextlib.contextmanager
def capture_output(module: torch.nn.Module):
    """Collect the (first) output of ``module`` on each forward pass while the context is open."""
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        captured.append(output[0] if isinstance(output, tuple) else output)

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def add_reference_logprobs(model, items: Sequence[dict], pad_token_id: int = 0, batch_size: int = 16,
                           autocast_dtype: torch.dtype | None = None) -> list[dict]:
    """Add ``ref_logp`` = log π_ref(y|x) to every encoded item (and to its ``preferred`` answer).

    One no-grad pass of the model before training replaces a reference model
    that would otherwise run, and sit in memory, at every step.  Pass the same
    ``autocast_dtype`` as training (bf16 on GPUs) so that the log-ratio
    log π_θ − log π_ref starts at zero up to rounding.
    """
    rows = list(items) + [item["preferred"] for item in items if "preferred" in item]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            keys = ("input_ids", "attention_mask", "labels")
            batch = pad_batch([{k: row[k] for k in keys} for row in chunk], pad_token_id)
            with torch.no_grad(), torch.autocast(device.type, dtype=autocast_dtype or torch.float32,
                                                 enabled=autocast_dtype is not None):
                logits = model(input_ids=batch["input_ids"].to(device),
                               attention_mask=batch["attention_mask"].to(device)).logits
            nll_sum, _ = sequence_nll(logits, batch["labels"].to(device))
            for row, value in zip(chunk, (-nll_sum).tolist()):
                row["ref_logp"] = value
    finally:
        model.train(was_training)
    return list(items)
