"""The score every attack reports: does the model's greedy answer still contain the planted fact?

Fact recall (the suite's ``{split}_fact_recall``) without the rest of the
suite, so that an attack can measure it many times (every few relearning steps,
on every prompt template) in a fraction of a second.
"""
from __future__ import annotations

from typing import Sequence

from ..eval.extraction import recalls_fact
from ..eval.generation import greedy_generate
from ..formats import encode_prompt

#: Enough new tokens for a one-sentence answer of the generated worlds.
MAX_NEW_TOKENS = 24


def recalled(model, tokenizer, items: Sequence[dict], max_new_tokens: int = MAX_NEW_TOKENS) -> list[bool]:
    """For each QA item (``question``, ``value``): does the greedy answer contain ``value``?"""
    missing = [i for i, item in enumerate(items) if not item.get("value")]
    if missing:
        raise ValueError(f"items {missing[:5]} have no 'value' (the planted fact a recall looks for)")
    texts = greedy_generate(model, tokenizer, [encode_prompt(tokenizer, item["question"]) for item in items],
                            max_new_tokens)
    return [recalls_fact(text, item["value"]) for text, item in zip(texts, items)]


def fact_recall(model, tokenizer, items: Sequence[dict], max_new_tokens: int = MAX_NEW_TOKENS) -> float:
    """Share of ``items`` whose greedy answer contains the planted value."""
    if not items:
        raise ValueError("fact_recall needs at least one item")
    hits = recalled(model, tokenizer, items, max_new_tokens)
    return sum(hits) / len(hits)
