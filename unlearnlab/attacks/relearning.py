"""Relearning: fine-tune on a few forget items and watch the *other* forget items come back.

Hu et al. (2024, arXiv:2406.13356) and Lynch et al. (2024, arXiv:2402.16835)
show that a short fine-tune on a small part of the forget set (or on related
text) restores unlearned knowledge that the fine-tune never showed.  Recovery
alone proves little: a model that never knew the facts may also learn fast, and
the shown items may teach the held-back ones through shared values.  So the
honest comparison is the *retrained* model's curve on the same data, same
steps, same seed: knowledge that was only hidden comes back faster than that.
"""
from __future__ import annotations

import random
from typing import Callable, Sequence

import pandas as pd

from .recall import fact_recall


def split_by_group(items: Sequence[dict], share: float = 0.5, key: str = "author_id",
                   seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Split ``items`` into (shown, held back) by whole groups (authors), ``share`` of the groups shown.

    Whole groups keep an author's other answers out of the held-back set, so
    what comes back there was not in the fine-tuning data.
    """
    groups = sorted({item[key] for item in items})
    if len(groups) < 2:
        raise ValueError(f"need at least two values of {key!r} to hold some back; got {groups}")
    shown = set(random.Random(seed).sample(groups, max(1, min(len(groups) - 1, round(share * len(groups))))))
    return [i for i in items if i[key] in shown], [i for i in items if i[key] not in shown]


def split_by_share(items: Sequence[dict], share: float = 0.15, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Split ``items`` at random into (shown, held back), ``share`` of them shown (10-20 % in the papers)."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n = max(1, min(len(items) - 1, round(share * len(items))))
    return [items[i] for i in sorted(order[:n])], [items[i] for i in sorted(order[n:])]


def relearn_curve(model, tokenizer, shown: Sequence[dict], held_back: Sequence[dict], *, steps: int = 30,
                  eval_every: int = 5, learning_rate: float = 1e-3, batch_size: int = 4, seed: int = 0,
                  score: Callable[[object], float] | None = None) -> pd.DataFrame:
    """Fine-tune a copy of ``model`` on ``shown`` for ``steps`` steps; score ``held_back`` every ``eval_every``.

    Returns a frame with one row per evaluation: ``step``, ``held_back`` (fact
    recall on the held-back items, or ``score(model)``) and ``shown`` (recall
    on the fine-tuning items, to see that the fine-tune took; left out when
    they have no ``value``, as with the hazard world's MCQs).  The model passed
    in is not changed.  Run it on the retrained model too: that curve is the
    baseline a recovery must beat.
    """
    from ..training import finetune

    if not shown or not held_back:
        raise ValueError("relearn_curve needs items to fine-tune on and held-back items to test")
    held = score or (lambda m: fact_recall(m, tokenizer, held_back))

    with_values = all(item.get("value") for item in shown)  # items without a planted value (e.g. MCQ worlds)

    def evaluate(m) -> dict[str, float]:
        scores = {"held_back": held(m)}
        if with_values:
            scores["shown"] = fact_recall(m, tokenizer, shown)
        return scores

    _, log = finetune(model, tokenizer, list(shown), max_steps=steps, learning_rate=learning_rate,
                      per_device_train_batch_size=batch_size, seed=seed, eval_fn=evaluate,
                      eval_every=eval_every, disable_tqdm=True)
    return pd.DataFrame([{key: e[key] for key in ("step", "held_back", "shown") if key in e} for e in log.evals])
