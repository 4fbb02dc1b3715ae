"""The frozen original model π_ref, at the lowest memory cost each method allows.

Methods compare the model being unlearned with the model it started from in two
ways, and each gets the cheapest form:

* **Log-probabilities of fixed answers** (NPO, DPO): the forget answers never
  change, so log π_ref(y|x) is computed once, in one no-grad pass before
  training, and stored as a column of the data (:func:`add_reference_logprobs`).
* **Distributions or activations on changing inputs** (KL on retain data,
  UNDIAL, RMU, Who's Harry Potter): :class:`FrozenOriginal` runs the original
  model without gradients.  With LoRA the original model *is* the base model
  with the adapter switched off; otherwise only the trainable parameters are
  copied (all of them for full fine-tuning, a few matrices for RMU), and the
  forward pass swaps them in with :func:`torch.func.functional_call`.
"""
from __future__ import annotations

import contextlib
import warnings

import datasets
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


class FrozenOriginal:
    """No-grad outputs of the original model: ``model`` as it was when this object was created.

    "Original" is the course's word for the model before unlearning (π_ref in the formulas).
    """

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


class FrozenReference(FrozenOriginal):
    """Deprecated name of :class:`FrozenOriginal`."""

    def __init__(self, model):
        warnings.warn("FrozenReference is now FrozenOriginal (the original model, before unlearning)",
                      DeprecationWarning, stacklevel=2)
        super().__init__(model)


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


def add_reference_logprobs(model, dataset, pad_token_id: int = 0, batch_size: int = 16,
                           autocast_dtype: torch.dtype | None = None):
    """Return ``dataset`` (encoded items) with a ``ref_logp`` column: log π_ref(y|x) of every answer.

    One no-grad pass of the model before training replaces a reference model
    that would otherwise run, and sit in memory, at every step; like TRL's
    precomputed reference log-probabilities, the values are a column of the
    data.  A nested ``preferred`` answer (DPO) gets its own ``ref_logp``.  Pass
    the same ``autocast_dtype`` as training (bf16 on GPUs) so that the
    log-ratio log π_θ − log π_ref starts at zero up to rounding.
    """
    if isinstance(dataset, (list, tuple)):
        dataset = datasets.Dataset.from_list(list(dataset))
    dataset = dataset.add_column("ref_logp", answer_logprobs(model, dataset, pad_token_id, batch_size,
                                                             autocast_dtype))
    if "preferred" not in dataset.column_names:
        return dataset
    preferred = answer_logprobs(model, dataset["preferred"], pad_token_id, batch_size, autocast_dtype)
    return dataset.map(lambda row, i: {"preferred": {**row["preferred"], "ref_logp": preferred[i]}},
                       with_indices=True, desc="reference log-probabilities")


def answer_logprobs(model, rows, pad_token_id: int, batch_size: int,
                    autocast_dtype: torch.dtype | None) -> list[float]:
    """log π(y|x) of each encoded row under ``model`` (no gradients, batched)."""
    device = next(model.parameters()).device
    keys = ("input_ids", "attention_mask", "labels")
    was_training = model.training
    model.eval()
    values: list[float] = []
    try:
        for start in range(0, len(rows), batch_size):
            chunk = [rows[i] for i in range(start, min(start + batch_size, len(rows)))]
            batch = pad_batch([{k: row[k] for k in keys} for row in chunk], pad_token_id)
            with torch.no_grad(), torch.autocast(device.type, dtype=autocast_dtype or torch.float32,
                                                 enabled=autocast_dtype is not None):
                logits = model(input_ids=batch["input_ids"].to(device),
                               attention_mask=batch["attention_mask"].to(device)).logits
            nll_sum, _ = sequence_nll(logits, batch["labels"].to(device))
            values.extend((-nll_sum).tolist())
    finally:
        model.train(was_training)
    return values
