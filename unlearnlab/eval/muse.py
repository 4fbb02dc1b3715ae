"""The MUSE family (Shi et al., 2024): unlearning a corpus such as a book series.

MUSE asks four questions of an unlearned model, all on plain item dicts here:

* **VerbMem** — prompted with the start of a forget passage (``prompt``), does
  the model still continue it verbatim (``continuation``)?  ROUGE-L F1 of the
  greedy continuation.
* **KnowMem** — does it still answer questions about the forget corpus
  (``question``/``answer``)?  ROUGE-L F1 of the greedy answer.
* **PrivLeak** — can a Min-K% membership-inference attack still tell forget
  passages from holdout passages (``text``), relative to the retain-only model?
  (sign convention: :func:`unlearnlab.eval.mia.privleak`).
* **Utility** — KnowMem on questions about the *retain* corpus, which should stay high.

MUSE prompts KnowMem with in-context examples for pretrained models; the course
uses its own ``Question: …\\nAnswer:`` format, which its models are trained on.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..config import get_profile
from ..formats import encode_prompt, encode_text
from . import mia
from .generation import greedy_generate, rouge_scores
from .scoring import score_features
from ..numerics import pad_id


def verbmem(model, tokenizer, items: Sequence[dict], max_new_tokens: int | None = None,
            batch_size: int = 32) -> dict:
    """Mean ROUGE-L F1 between the greedy continuation of each ``prompt`` and its ``continuation``.

    ``max_new_tokens`` defaults to the longest continuation's length in tokens,
    so a perfect recitation is never cut short.
    """
    _require(items, ("prompt", "continuation"), "verbmem")
    prompts = [tokenizer(item["prompt"], add_special_tokens=True)["input_ids"] for item in items]
    if max_new_tokens is None:
        max_new_tokens = max(len(tokenizer(i["continuation"], add_special_tokens=False)["input_ids"]) for i in items)
    texts = greedy_generate(model, tokenizer, prompts, max_new_tokens, batch_size)
    return _scored(items, texts, [item["continuation"] for item in items], "verbmem")


def knowmem(model, tokenizer, items: Sequence[dict], max_new_tokens: int | None = None,
            batch_size: int = 32) -> dict:
    """Mean ROUGE-L F1 between the greedy answer to each ``question`` and its ``answer``."""
    _require(items, ("question", "answer"), "knowmem")
    prompts = [encode_prompt(tokenizer, item["question"]) for item in items]
    texts = greedy_generate(model, tokenizer, prompts, max_new_tokens or get_profile().max_new_tokens, batch_size)
    return _scored(items, texts, [item["answer"] for item in items], "knowmem")


def min_k_auc(model, tokenizer, forget_items: Sequence[dict], holdout_items: Sequence[dict],
              k: float = mia.MIN_K_FRACTION, batch_size: int = 32) -> float:
    """AUC of the Min-K% attack separating forget passages (members) from holdout passages (``text``)."""
    _require(forget_items, ("text",), "min_k_auc (forget)")
    _require(holdout_items, ("text",), "min_k_auc (holdout)")
    pad = pad_id(tokenizer)

    def scores(items: Sequence[dict]) -> list[float]:
        stats = score_features(model, [encode_text(tokenizer, i["text"]) for i in items],
                               tokenizer.eos_token_id, pad, batch_size)
        return [mia.min_k_score(s.token_logprobs, k) for s in stats]

    return mia.mia_auc(scores(forget_items), scores(holdout_items))


def evaluate_muse(model, tokenizer, world, reference: dict | None = None) -> dict[str, float]:
    """All MUSE numbers on a books-style world (splits ``verbmem_forget``, ``knowmem_forget``,
    ``knowmem_retain``, ``forget`` and ``holdout``).

    ``reference`` is the retain-only model's output of this function; without it
    PrivLeak is computed against an AUC of 0.5, as open-unlearning does.
    """
    auc = min_k_auc(model, tokenizer, world.items("forget"), world.items("holdout"))
    ref_auc = reference["mia_auc_min_k"] if reference else 0.5
    return {
        "verbmem_forget": verbmem(model, tokenizer, world.items("verbmem_forget"))["verbmem"],
        "knowmem_forget": knowmem(model, tokenizer, world.items("knowmem_forget"))["knowmem"],
        "knowmem_retain": knowmem(model, tokenizer, world.items("knowmem_retain"))["knowmem"],
        "mia_auc_min_k": auc,
        "privleak": mia.privleak(auc, ref_auc),
    }


def _scored(items: Sequence[dict], texts: list[str], references: list[str], metric: str) -> dict:
    per_item = [{"id": item.get("id"), "generation": text, "rougeL_f1": rouge_scores(text, ref)["rougeL_f1"]}
                for item, text, ref in zip(items, texts, references)]
    return {metric: float(np.mean([row["rougeL_f1"] for row in per_item])), "items": per_item}


def _require(items: Sequence[dict], keys: tuple[str, ...], metric: str) -> None:
    if not items:
        raise ValueError(f"{metric} needs at least one item.")
    missing = [k for k in keys if k not in items[0]]
    if missing:
        raise KeyError(f"{metric} items need the keys {', '.join(keys)}; the first item has {sorted(items[0])}.")
