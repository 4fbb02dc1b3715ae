"""Memorisation of an answer, read off teacher-forced greedy predictions.

Both metrics take the list of per-token "greedy hits" saved by scoring: for each
answer token, whether the model's most likely next token (given the question and
the true answer so far) is that token.
"""
from __future__ import annotations

from typing import Sequence


def exact_memorization(correct: Sequence[bool]) -> float:
    """Fraction of answer tokens the model predicts exactly under teacher forcing (Tirumala et al.)."""
    if len(correct) == 0:
        raise ValueError("exact_memorization needs at least one answer token.")
    return sum(bool(c) for c in correct) / len(correct)


def extraction_strength(correct: Sequence[bool]) -> float:
    """1 - k*/|y|, with k* the shortest prefix after which every remaining token is predicted.

    It asks how much of the answer one must give away before the model recites
    the rest: 1 if the model produces it all, 0 if even the last token is missed.
    Since a suffix is predicted exactly when its tokens are all greedy hits, the
    value is the length of the trailing run of hits over |y|.

    open-unlearning's loop gives 1/|y| instead of 0 when no suffix matches (its
    loop variable stops at |y| - 1); here an answer whose last token is missed
    scores 0, as the definition says.
    """
    if len(correct) == 0:
        raise ValueError("extraction_strength needs at least one answer token.")
    trailing = 0
    for hit in reversed(correct):
        if not hit:
            break
        trailing += 1
    return trailing / len(correct)
