"""Where SalUn's salient weights sit: the share of kept entries per decoder block and module.

SalUn keeps the weight entries with the largest forget-loss gradient, one
threshold for the whole model (``training.masks.saliency_masks``).  Summing its
masks by block and module shows whether the forget set's gradient, and with it
the update, concentrates where causal tracing found the facts.
"""
from __future__ import annotations

import re

import pandas as pd
import torch

#: the module kinds of a Llama block, in the order a figure shows them
MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "norm")


def _place(name: str) -> tuple[str, str]:
    """(block, module) of a parameter name: ``model.layers.2.mlp.up_proj.weight`` -> ("2", "up_proj")."""
    match = re.search(r"layers\.(\d+)\.(.+)\.weight$", name)
    if not match:
        return ("embeddings / final norm", "other")
    module = match.group(2).split(".")[-1]
    return (match.group(1), "norm" if module.endswith("layernorm") else module)


def saliency_by_module(masks: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Share of each (block, module)'s entries that the masks keep; columns: blocks, kept, total, share."""
    rows = {}
    for name, mask in masks.items():
        key = _place(name)
        kept, total = rows.get(key, (0, 0))
        rows[key] = (kept + int(mask.sum()), total + mask.numel())
    frame = pd.DataFrame([{"block": b, "module": m, "kept": k, "total": t} for (b, m), (k, t) in rows.items()])
    frame["share"] = frame["kept"] / frame["total"]
    return frame.set_index(["block", "module"]).sort_index()
