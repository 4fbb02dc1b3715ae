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

    Each forget question gets the answer of another, randomly drawn question
    (from the retain set when there is one, else from the other forget items),
    the "random labels" baseline of classic unlearning (Golatkar et al., 2020;
    Graves et al., "Amnesiac Machine Learning", AAAI 2021) carried over to LLMs.
    Defaults: γ = α = 1.
    """

    name = "random_label"

    def prepare_forget(self, forget, retain, seed):
        require_qa(forget, self.name)
        pool = list(retain["answer"]) if retain is not None and "answer" in retain.column_names \
            else list(forget["answer"])
        rng = random.Random(seed)
        return replace_answers(forget, [_other(answer, pool, rng) for answer in forget["answer"]])

    def forget_loss(self, logits, forget, reference):
        return mean_nll(logits["forget"], forget["labels"])


def _other(answer: str, pool: list[str], rng: random.Random) -> str:
    """A random answer from ``pool`` that differs from ``answer``."""
    choices = [a for a in pool if a != answer]
    if not choices:
        raise ValueError("random_label needs at least two different answers to draw from; "
                         "pass a retain set or a larger forget set.")
    return rng.choice(choices)
