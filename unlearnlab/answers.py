"""What do the models actually say?  Side-by-side answers of several models to the same questions.

Aggregate scores hide what a learner most needs to see: the target recites a
forget author's birthplace, the retrained reference makes up a plausible one, a
collapsed model babbles.  ``answers_table`` puts those answers next to the truth.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from .data import encode_prompt
from .eval.generation import greedy_generate, rouge_scores


def answers_table(models: Mapping[str, object], tokenizer, items: Sequence[dict],
                  max_new_tokens: int = 32, with_rouge: bool = False) -> pd.DataFrame:
    """One row per item: the question, the true answer and each model's greedy answer.

    With ``with_rouge`` each model also gets a ROUGE-L recall column against the truth.
    """
    if not items:
        raise ValueError("answers_table() needs at least one item with a 'question' and an 'answer'.")
    prompts = [encode_prompt(tokenizer, item["question"]) for item in items]
    table = pd.DataFrame({"question": [i["question"] for i in items], "truth": [i["answer"] for i in items]})
    for name, model in models.items():
        table[name] = greedy_generate(model, tokenizer, prompts, max_new_tokens)
        if with_rouge:
            table[f"{name} ROUGE-L"] = [rouge_scores(answer, truth)["rougeL_recall"]
                                        for answer, truth in zip(table[name], table["truth"])]
    return table


def answers_during_unlearning(model, tokenizer, method: str, forget, retain, items: Sequence[dict],
                              every: int = 5, max_new_tokens: int = 32, **settings):
    """Unlearn while recording every model's answers to ``items`` every ``every`` steps.

    Returns ``(model, log, snapshots)`` where ``snapshots`` maps an optimiser
    step to the answers table at that step (column ``answer``), so a learner can
    watch an answer dissolve step by step.
    """
    from .engine import unlearn

    tables: list[pd.DataFrame] = []

    def record(current) -> dict[str, float]:
        table = answers_table({"answer": current}, tokenizer, items, max_new_tokens, with_rouge=True)
        tables.append(table)
        return {"mean_rougeL_recall": float(table["answer ROUGE-L"].mean())}

    model, log = unlearn(model, tokenizer, method, forget=forget, retain=retain, eval_fn=record,
                         eval_every=every, **settings)
    snapshots = {entry["step"]: table for entry, table in zip(log.evals, tables)}
    return model, log, snapshots
