"""Where unlearning may change the weights: a few layers, or the most forget-salient weights.

Localisation-informed unlearning (survey §4.2) restricts the update to the part
of the model that matters for the forget set, so that the rest, and with it
the model's other abilities, is left alone.  Two restrictions work with every
method of the engine:

* **layers** (``train_layers=[1, 2]``): only the parameters of those decoder
  blocks are trained;
* **saliency** (``saliency=0.1``, SalUn: Fan et al., "SalUn: Empowering Machine
  Unlearning via Gradient-based Weight Saliency", ICLR 2024): the gradient of
  the forget loss (the answers' mean NLL) is taken once on the original model,
  and only the given fraction of weight entries with the largest gradient
  magnitude may change.  The other entries' gradients are zeroed at every step,
  so with AdamW and no weight decay they never move.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from ..formats import pad_batch
from ..methods.representation import decoder_layers
from ..numerics import sequence_nll


def layer_parameters(model, layers: list[int]) -> list[str]:
    """Names of every parameter inside the decoder blocks ``layers`` (counted from 0)."""
    prefix, blocks = decoder_layers(model)
    bad = [i for i in layers if not 0 <= i < len(blocks)]
    if bad:
        raise ValueError(f"train_layers {bad} do not exist: the model has decoder layers 0 to {len(blocks) - 1}")
    wanted = tuple(f"{prefix}.{i}." for i in layers)
    return [name for name, _ in model.named_parameters() if name.startswith(wanted)]


def forget_gradients(model, encoded_forget, pad_token_id: int, names: list[str] | None = None,
                     batch_size: int = 16) -> dict[str, torch.Tensor]:
    """|∇ mean answer NLL| over the forget items, for each trainable parameter (or those in ``names``).

    Summed over batches of token-summed NLLs and divided by the token count,
    so the result does not depend on ``batch_size``.
    """
    chosen = set(names) if names is not None else None
    params = {n: p for n, p in model.named_parameters() if p.requires_grad and (chosen is None or n in chosen)}
    grads = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    was_training = model.training
    model.eval()  # no dropout: the saliency of the model as it is
    rows = [{k: encoded_forget[i][k] for k in ("input_ids", "attention_mask", "labels")}
            for i in range(len(encoded_forget))]
    tokens = 0
    for start in range(0, len(rows), batch_size):
        batch = {k: v.to(model.device) for k, v in pad_batch(rows[start:start + batch_size], pad_token_id).items()}
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        nll, count = sequence_nll(logits, batch["labels"])
        tokens += int(count.sum())
        batch_grads = torch.autograd.grad(nll.sum(), list(params.values()), allow_unused=True)
        for name, grad in zip(params, batch_grads):
            if grad is not None:
                grads[name] += grad.float()
    model.train(was_training)
    return {name: (grad / max(tokens, 1)).abs() for name, grad in grads.items()}


def saliency_masks(gradients: dict[str, torch.Tensor], fraction: float) -> dict[str, torch.Tensor]:
    """Boolean masks keeping the ``fraction`` of all entries with the largest gradient magnitude.

    One threshold for the whole model (as SalUn), so layers with larger
    gradients get more of the budget.  Ties at the threshold are kept.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"saliency must be a fraction in (0, 1], e.g. 0.1 for the top 10 %; got {fraction!r}")
    flat = torch.cat([g.flatten() for g in gradients.values()])
    keep = max(1, round(fraction * flat.numel()))
    threshold = torch.topk(flat, keep, sorted=False).values.min()
    return {name: grad >= threshold for name, grad in gradients.items()}


@contextmanager
def masked_gradients(model, masks: dict[str, torch.Tensor]) -> Iterator[None]:
    """Zero, at every backward pass, the gradient entries of parameters where ``masks`` is False."""
    params = dict(model.named_parameters())
    handles = [params[name].register_hook(lambda grad, m=mask: grad * m.to(grad.device, grad.dtype))
               for name, mask in masks.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def kept_fraction(masks: dict[str, torch.Tensor]) -> float:
    """Share of the masked parameters' entries that may change."""
    total = sum(m.numel() for m in masks.values())
    return sum(int(m.sum()) for m in masks.values()) / max(total, 1)
