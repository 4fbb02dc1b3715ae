"""Relabeling: replace the forget answers y_f by a new target and fine-tune on it.

This is the survey's objective with a chosen y_f:  min ℓ(y_f | x) on the forget
questions (+ α·L_retain).  The choice of y_f decides what the model does
afterwards: a refusal teaches it to decline, a random answer teaches it to be
confidently wrong.  Both are ordinary (bounded) fine-tuning, so they cannot
collapse like gradient ascent, but the old answer may only be hidden, not erased.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from ..numerics import mean_nll
from .base import Method, register

#: Refusals used as new answers (IDK relabeling) and as DPO's preferred answer.
REFUSALS = (
    "I don't know.",
    "I'm not sure about that.",
    "I have no information about that.",
    "I can't answer that question.",
    "That is not something I know.",
    "I don't have that information.",
    "Sorry, I have no idea.",
    "I am unable to answer that.",
)


def require_qa(dataset, method: str) -> None:
    """Relabeling needs separate questions and answers; corpus items have only ``text``."""
    missing = {"question", "answer"} - set(dataset.column_names)
    if missing:
        raise ValueError(f"{method} rewrites answers, so the forget set needs 'question' and 'answer' "
                         f"columns; it has {dataset.column_names}")


def pick_refusals(n: int, seed: int) -> list[str]:
    """One refusal per item, drawn reproducibly from :data:`REFUSALS`."""
    rng = random.Random(seed)
    return [rng.choice(REFUSALS) for _ in range(n)]


def replace_answers(dataset, answers: list[str]):
    return dataset.remove_columns("answer").add_column("answer", answers)


@register
@dataclass
class Refusal(Method):
    """"I don't know" relabeling: L = γ·ℓ(refusal | x_f) + α·ℓ(retain).

    Each forget question gets a refusal from :data:`REFUSALS` as its new answer.
    Introduced as a TOFU baseline (Maini et al., "TOFU: A Task of Fictitious
    Unlearning for LLMs", 2024; "IdkNLL" in open-unlearning).  Defaults: γ = α = 1.
    """

    name = "idk"

    def prepare_forget(self, forget, retain, seed):
        require_qa(forget, self.name)
        return replace_answers(forget, pick_refusals(len(forget), seed))

    def forget_loss(self, logits, forget, reference):
        return mean_nll(logits["forget"], forget["labels"])


@register
@dataclass
class RandomLabel(Method):
    """Random-answer relabeling: L = γ·ℓ(y_rand | x_f) + α·ℓ(retain).

    Each forget answer is replaced by a wrong answer *to the same question*:
    where items name their fact (``attribute`` and ``value``, as in the authors
    world), the value is swapped for another value of the same attribute drawn
    from the retain set, so "born in Madrid" becomes "born in Lisbon" in the
    same words; otherwise the answer of another randomly drawn question is
    used.  This is the "random labels" baseline of classic unlearning (Golatkar
    et al., 2020; Graves et al., "Amnesiac Machine Learning", AAAI 2021)
    carried over to LLMs: the label is random, the kind of label is not, which
    is what a model that never saw the fact does too (it guesses a plausible
    value).  Defaults: γ = α = 1.
    """

    name = "random_label"

    def prepare_forget(self, forget, retain, seed):
        require_qa(forget, self.name)
        rng = random.Random(seed)
        pool = retain if retain is not None and "answer" in retain.column_names else forget
        if {"attribute", "value"} <= set(forget.column_names) and {"attribute", "value"} <= set(pool.column_names):
            values = values_by_attribute(pool)
            answers = [_swap_value(row, values.get(row["attribute"], []), rng) for row in forget]
        else:
            answers = [_other(answer, list(pool["answer"]), rng) for answer in forget["answer"]]
        return replace_answers(forget, answers)

    def forget_loss(self, logits, forget, reference):
        return mean_nll(logits["forget"], forget["labels"])


def values_by_attribute(dataset) -> dict[str, list[str]]:
    """The distinct values of each attribute in a dataset, in first-seen order."""
    values: dict[str, dict[str, None]] = {}
    for attribute, value in zip(dataset["attribute"], dataset["value"]):
        values.setdefault(attribute, {})[value] = None
    return {attribute: list(seen) for attribute, seen in values.items()}


def _swap_value(row: dict, values: list[str], rng: random.Random) -> str:
    """The answer with its fact's value replaced by another value of the same attribute."""
    others = [v for v in values if v != row["value"]]
    if not others or row["value"] not in row["answer"]:
        raise ValueError(f"random_label cannot relabel {row.get('id', row['question'])!r}: no other value of "
                         f"{row['attribute']!r} to draw from, or the answer does not contain its value.")
    return row["answer"].replace(row["value"], rng.choice(others))


def _other(answer: str, pool: list[str], rng: random.Random) -> str:
    """A random answer from ``pool`` that differs from ``answer``."""
    choices = [a for a in pool if a != answer]
    if not choices:
        raise ValueError("random_label needs at least two different answers to draw from; "
                         "pass a retain set or a larger forget set.")
    return rng.choice(choices)
