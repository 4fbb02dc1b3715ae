"""Multiple-choice accuracy, WMDP style: does the model still pick the right option?

WMDP measures hazardous knowledge with four-option questions; unlearning has
worked when accuracy falls to chance (1 / number of options) while general
benchmarks such as MMLU stay put.  The model "picks" the option whose text has
the highest log-likelihood as the answer to the question (summed over the
option's tokens, end-of-sequence excluded).

lm-evaluation-harness, which WMDP uses, lists the options in the prompt and
compares the likelihood of the letters "A"–"D"; a model of a few million
parameters trained from scratch cannot read such a prompt, so the course scores
the option texts themselves, in the same ``Question: …\\nAnswer:`` format the
model was trained on.

Items: ``question``, ``choices`` (list of str) and ``answer`` (index of the right choice).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data import encode_qa
from .scoring import score_features


def choice_features(tokenizer, item: dict, max_length: int = 256) -> list[dict]:
    """One encoded question–option pair per choice."""
    return [encode_qa(tokenizer, item["question"], str(choice), max_length) for choice in item["choices"]]


def choice_logliks(model, tokenizer, items: Sequence[dict], batch_size: int = 64,
                   max_length: int = 256) -> list[list[float]]:
    """Log-likelihood of every option of every item, scored in padded batches."""
    features = [f for item in items for f in choice_features(tokenizer, item, max_length)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stats = iter(score_features(model, features, tokenizer.eos_token_id, pad_id, batch_size))
    return [[next(stats).content_loglik for _ in item["choices"]] for item in items]


def accuracy(logliks: Sequence[Sequence[float]], answers: Sequence[int]) -> float:
    """Fraction of items whose most likely option is the right one."""
    return float(np.mean([int(np.argmax(scores)) == int(a) for scores, a in zip(logliks, answers)]))


def chance(logliks: Sequence[Sequence[float]]) -> float:
    """Expected accuracy of guessing: the mean of 1 / number of options."""
    return float(np.mean([1.0 / len(scores) for scores in logliks]))


def mcq_accuracy(model, tokenizer, items: Sequence[dict], batch_size: int = 64) -> dict[str, float]:
    """``accuracy`` and ``chance`` of ``model`` on multiple-choice ``items``."""
    if not items:
        raise ValueError("mcq_accuracy needs at least one item with question, choices and answer.")
    logliks = choice_logliks(model, tokenizer, items, batch_size)
    return {"accuracy": accuracy(logliks, [item["answer"] for item in items]), "chance": chance(logliks),
            "n_items": len(items)}
