"""The MUSE family (Shi et al., 2024): unlearning a corpus such as a book series.

MUSE asks four questions of an unlearned model:

* **VerbMem** — prompted with the start of a forget passage (``prompt``), does
  the model still continue it verbatim (``continuation``)?  ROUGE-L F1 of the
  greedy continuation.
* **KnowMem** — does it still answer questions about the forget corpus
  (``question``/``answer``)?  ROUGE-L F1 of the greedy answer.
* **PrivLeak** — can a Min-K% membership-inference attack still tell forget
  passages from holdout passages (``text``), relative to the retrained model?
  (sign convention: :func:`unlearnlab.eval.mia.privleak`).
* **Utility** — KnowMem on questions about the *retain* corpus, which should stay high.

:func:`~unlearnlab.eval.suite.evaluate` computes all of them on the books world
(splits ``verbmem_*``, ``knowmem_*``, ``forget`` and ``holdout``) into one saved,
recomputable result; the functions here are shortcuts that run it on a few item
lists and return plain numbers.

MUSE prompts KnowMem with in-context examples for pretrained models; the course
uses its own ``Question: …\\nAnswer:`` format, which its models are trained on.
"""
from __future__ import annotations

from typing import Sequence

from ..worlds.base import World
from . import mia
from .results import EvalResult
from .suite import evaluate

MUSE_SPLITS = ("forget", "holdout", "verbmem_forget", "knowmem_forget", "knowmem_retain")


def verbmem(model, tokenizer, items: Sequence[dict], batch_size: int = 32) -> dict:
    """Mean ROUGE-L F1 between the greedy continuation of each ``prompt`` and its ``continuation``.

    The model may generate as many tokens as the longest continuation has, so a
    perfect recitation is never cut short.
    """
    _require(items, ("prompt", "continuation"), "verbmem")
    return _per_item(_run(model, tokenizer, items, batch_size), "verbmem")


def knowmem(model, tokenizer, items: Sequence[dict], max_new_tokens: int | None = None,
            batch_size: int = 32) -> dict:
    """Mean ROUGE-L F1 between the greedy answer to each ``question`` and its ``answer``."""
    _require(items, ("question", "answer"), "knowmem")
    return _per_item(_run(model, tokenizer, items, batch_size, max_new_tokens=max_new_tokens), "knowmem")


def min_k_auc(model, tokenizer, forget_items: Sequence[dict], holdout_items: Sequence[dict],
              k: float = mia.MIN_K_FRACTION, batch_size: int = 32) -> float:
    """AUC of the Min-K% attack separating forget passages (members) from holdout passages (``text``)."""
    _require(forget_items, ("text",), "min_k_auc (forget)")
    _require(holdout_items, ("text",), "min_k_auc (holdout)")
    result = evaluate(model, tokenizer, None, splits={"forget": list(forget_items), "holdout": list(holdout_items)},
                      max_items=max(len(forget_items), len(holdout_items)), batch_size=batch_size,
                      generate=False, gradnorm=False)
    return result.with_settings(min_k=k).aggregates["mia_auc_min_k"]


def evaluate_muse(model, tokenizer, world: World, retrained: EvalResult | None = None) -> dict[str, float]:
    """The MUSE numbers of :func:`evaluate` on a books-style world, as a plain dict.

    ``retrained`` is the retrained model's :class:`EvalResult` on the same world;
    without it PrivLeak is computed against an AUC of 0.5, as open-unlearning does.
    """
    result = evaluate(model, tokenizer, world, splits=MUSE_SPLITS, retrained=retrained, gradnorm=False)
    keys = ("verbmem_forget", "knowmem_forget", "knowmem_retain", "mia_auc_min_k", "privleak")
    return {key: result.aggregates[key] for key in keys}


def _run(model, tokenizer, items: Sequence[dict], batch_size: int, **options) -> EvalResult:
    return evaluate(model, tokenizer, None, splits={"probes": list(items)}, max_items=len(items),
                    batch_size=batch_size, gradnorm=False, **options)


def _per_item(result: EvalResult, metric: str) -> dict:
    per_item = [{"id": item.id, "generation": item.generation, "rougeL_f1": item.rouge["rougeL_f1"]}
                for item in result.split("probes").items]
    return {metric: result.aggregates["probes_rougeL_f1"], "items": per_item}


def _require(items: Sequence[dict], keys: tuple[str, ...], metric: str) -> None:
    if not items:
        raise ValueError(f"{metric} needs at least one item.")
    missing = [k for k in keys if k not in items[0]]
    if missing:
        raise KeyError(f"{metric} items need the keys {', '.join(keys)}; the first item has {sorted(items[0])}.")
