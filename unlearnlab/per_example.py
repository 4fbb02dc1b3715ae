"""Per-example views of memorisation: which answers a model learned, and by how much.

An aggregate like "forget ROUGE-L = 0.97" hides that some facts are memorised
outright while others are guessed from base rates.  Comparing the target with
the retain-only reference *per item* separates the two: the reference never saw
the forget authors, so whatever it still gets right is not memorisation.  The
difference of their losses is the item's *counterfactual memorisation*.
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd
import torch

from .data import encode_qa, pad_batch
from .eval.memorization import exact_memorization, extraction_strength
from .eval.results import EvalResult
from .logprobs import token_logprobs


def memorisation_frame(target: EvalResult, reference: EvalResult, split: str = "forget") -> pd.DataFrame:
    """One row per item of ``split``: losses under both models and memorisation scores.

    ``counterfactual`` = summed answer NLL under the reference − under the target
    (nats per answer): how much more likely training on the item made its whole
    answer.  Summed rather than averaged, so that a long answer (a book title)
    is not diluted by its easy template tokens.
    """
    ref_items = {item.id: item for item in reference.split(split).items}
    rows = []
    for item in target.split(split).items:
        ref = ref_items.get(item.id)
        if item.answer is None or ref is None or ref.answer is None:
            continue
        rows.append({
            "id": item.id,
            "attribute": item.id.split(".", 1)[-1],
            "target_nll": item.answer.nll_mean,
            "reference_nll": ref.answer.nll_mean,
            "counterfactual": ref.answer.nll_sum - item.answer.nll_sum,
            "exact_memorization": exact_memorization(item.answer.token_correct),
            "extraction_strength": extraction_strength(item.answer.token_correct),
            "reference_exact_memorization": exact_memorization(ref.answer.token_correct),
        })
    return pd.DataFrame(rows)


@torch.no_grad()
def token_losses(models: Mapping[str, object], tokenizer, item: dict) -> pd.DataFrame:
    """Per-token NLL of an item's answer under each model (rows: answer tokens incl. EOS)."""
    encoded = encode_qa(tokenizer, item["question"], item["answer"])
    batch = pad_batch([encoded], tokenizer.pad_token_id)
    scored = [i for i, label in enumerate(encoded["labels"]) if label != -100]
    tokens = [tokenizer.decode([encoded["input_ids"][i]]) for i in scored]
    table = pd.DataFrame({"token": tokens})
    for name, model in models.items():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logp, mask = token_logprobs(logits, batch["labels"])
        table[name] = (-logp[0][mask[0]]).tolist()
    return table


def log_ratios(result: EvalResult, original: EvalResult, split: str = "forget") -> pd.Series:
    """Per item of ``split``: log π_θ(y|x) − log π_orig(y|x) of the true answer, from two saved results.

    This is the quantity inside NPO's loss (with the model before unlearning as
    π_ref): 0 before unlearning, very negative once an answer has been pushed down.
    """
    original_nll = {item.id: item.answer.nll_sum for item in original.split(split).items if item.answer}
    return pd.Series({item.id: original_nll[item.id] - item.answer.nll_sum
                      for item in result.split(split).items if item.answer and item.id in original_nll},
                     name="log_ratio", dtype=float)
