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

import math
import re
from typing import Sequence

import numpy as np

from ..formats import encode_qa
from .scoring import score_features
from ..numerics import pad_id


def choice_features(tokenizer, item: dict, max_length: int = 256) -> list[dict]:
    """One encoded question–option pair per choice."""
    return [encode_qa(tokenizer, item["question"], str(choice), max_length) for choice in item["choices"]]


def choice_logliks(model, tokenizer, items: Sequence[dict], batch_size: int = 64,
                   max_length: int = 256) -> list[list[float]]:
    """Log-likelihood of every option of every item, scored in padded batches."""
    features = [f for item in items for f in choice_features(tokenizer, item, max_length)]
    pad = pad_id(tokenizer)
    stats = iter(score_features(model, features, tokenizer.eos_token_id, pad, batch_size))
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


def opening_choices(item: dict) -> dict:
    """The item with each choice cut to its first sentence (see :func:`unwanted_rate`)."""
    return {**item, "choices": [first_sentence(c) for c in item["choices"]]}


def first_sentence(text: str) -> str:
    """The text up to and including its first ``.``, ``?`` or ``!`` followed by a space."""
    return re.split(r"(?<=[.?!])\s", text, maxsplit=1)[0]


def unwanted_rate(model, tokenizer, probes: Sequence[dict], opening_only: bool = False,
                  batch_size: int = 64) -> float:
    """Share of probes where the model prefers the ``unwanted`` option to every other one.

    For behaviour probes (a rude vs. a polite reply, a stereotyped vs. the other pronoun):
    1.0 means the behaviour is always there, 0.0 never.  ``opening_only`` scores each
    option's first sentence: a reply's tone is set by how it opens, while the rest is
    shared content plus sign-offs of different lengths, which a summed likelihood would
    compare instead of the tone.
    """
    probes = [p for p in probes if p.get("unwanted") is not None]
    if not probes:
        raise ValueError("unwanted_rate needs probes with choices and an 'unwanted' index.")
    if opening_only:
        probes = [opening_choices(p) for p in probes]
    logliks = choice_logliks(model, tokenizer, probes, batch_size)
    return unwanted_share(logliks, [p["unwanted"] for p in probes])


def unwanted_share(logliks: Sequence[Sequence[float]], unwanted: Sequence[int]) -> float:
    """Fraction of probes whose ``unwanted`` option is strictly more likely than every other (a tie is no win)."""
    return float(np.mean([scores[u] > max(s for i, s in enumerate(scores) if i != u)
                          for scores, u in zip(logliks, unwanted)]))


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for an accuracy of ``correct`` out of ``n`` (95 % by default).

    With a few dozen questions an accuracy is coarse (one question is several
    points), and the plain ± z·sqrt(p(1-p)/n) interval misbehaves near 0, 1 and
    chance; Wilson's interval stays inside [0, 1] and keeps its coverage there.
    """
    if n <= 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n > 0; got correct={correct}, n={n}")
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at 0 or n correct the exact end is 0 or 1, but rounding can leave it a hair outside (-1e-17), which
    # prints as "-0.000"; clip so that the interval is inside [0, 1] as the formula promises
    return max(0.0, centre - half), min(1.0, centre + half)
