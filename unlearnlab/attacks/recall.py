"""The score every attack reports: does the model's greedy answer still contain the planted fact?

Fact recall (the suite's ``{split}_fact_recall``) without the rest of the
suite, so that an attack can measure it many times (every few relearning steps,
on every prompt template) in a fraction of a second.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..eval.extraction import recalls_fact
from ..eval.generation import greedy_generate
from ..formats import encode_prompt, format_prompt

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


@torch.no_grad()
def value_is_top(model, tokenizer, items: Sequence[dict]) -> list[bool]:
    """For each QA item: is the value's first token the model's top prediction where the value begins?

    The model reads the question and its answer up to the value (teacher
    forcing), so the readout does not depend on how the model would phrase the
    answer.  A pretrained model often answers in its own words and greedy fact
    recall misses a fact it holds; this asks only whether the fact is still
    the model's first choice at the point that matters.  One item at a time,
    so no padding can shift a position.
    """
    hits = []
    for item in items:
        if not item.get("value") or item["value"] not in item.get("answer", ""):
            raise ValueError(f"item {item.get('id')!r} needs an 'answer' that contains its 'value'")
        cut = item["answer"].rindex(item["value"])
        prefix = format_prompt(item["question"]) + " " + item["answer"][:cut].rstrip()
        ids = torch.tensor([tokenizer(prefix, add_special_tokens=True)["input_ids"]], device=model.device)
        first = tokenizer(" " + item["value"], add_special_tokens=False)["input_ids"][0]
        hits.append(int(model(input_ids=ids).logits[0, -1].argmax()) == first)
    return hits
