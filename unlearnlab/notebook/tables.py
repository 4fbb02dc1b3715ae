"""Tables a chapter shows: what models answer, how much each example was memorised, who is in a world.

Aggregate scores hide what a learner most needs to see: the target recites a
forget author's birthplace, the retrained model makes up a plausible one, a
collapsed model babbles.  These functions return pandas DataFrames that put
such things side by side; the widgets in :mod:`unlearnlab.notebook.widgets`
wrap the same functions.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd
import torch

from ..eval.generation import greedy_generate, rouge_scores
from ..eval.memorization import exact_memorization, extraction_strength
from ..eval.results import EvalResult
from ..formats import encode_prompt, encode_qa, pad_batch
from ..numerics import pad_id, token_logprobs
from ..worlds.base import World


# ----- answers ---------------------------------------------------------------------------
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
                              every: int = 5, max_new_tokens: int = 32, eval_fn=None, **settings):
    """Unlearn while recording every model's answers to ``items`` every ``every`` steps.

    Returns ``(model, log, snapshots)`` where ``snapshots`` maps an optimiser
    step to the answers table at that step (column ``answer``), so a learner can
    watch an answer dissolve step by step.  ``eval_fn`` (e.g.
    :func:`unlearnlab.eval.loss_probe`) adds its numbers to the same ``log.evals``
    entries, so the answers and the loss curves come from one run, not two.
    """
    from ..training import unlearn

    tables: list[pd.DataFrame] = []

    def record(current) -> dict[str, float]:
        table = answers_table({"answer": current}, tokenizer, items, max_new_tokens, with_rouge=True)
        tables.append(table)
        extra = dict(eval_fn(current)) if eval_fn is not None else {}
        return {"mean_rougeL_recall": float(table["answer ROUGE-L"].mean()), **extra}

    model, log = unlearn(model, tokenizer, method, forget=forget, retain=retain, eval_fn=record,
                         eval_every=every, **settings)
    snapshots = {entry["step"]: table for entry, table in zip(log.evals, tables)}
    return model, log, snapshots


# ----- memorisation per example ------------------------------------------------------------
def memorisation_frame(target: EvalResult, retrained: EvalResult, split: str = "forget", *,
                       tokenizer=None, items: Sequence[dict] | None = None) -> pd.DataFrame:
    """One row per item of ``split``: losses under both models and memorisation scores.

    ``counterfactual`` = summed answer NLL under the retrained model − under the
    target (NLL_sum, nats per answer): how much more likely training on the item
    made its whole answer.  It grows with the answer's length and with tokens
    every answer shares (an author's invented surname), so with ``tokenizer`` and
    the world's ``items`` (which name each fact's ``value``) two sharper columns
    are added: ``value_tokens`` and ``value_memorisation``, the same gap per
    token on the tokens of the value alone (nats per token).  With one retrained
    model that left out a whole set, this is a leave-set-out, single-pair
    estimate of counterfactual memorisation (Zhang et al., 2023, average over
    many models trained with and without each example).
    """
    facts = {row["id"]: (row.get("value"), row.get("answer")) for row in items or []}
    retrained_items = {item.id: item for item in retrained.split(split).items}
    rows = []
    for item in target.split(split).items:
        other = retrained_items.get(item.id)
        if item.answer is None or other is None or other.answer is None:
            continue
        row = {
            "id": item.id,
            "attribute": item.id.split(".", 1)[-1],
            "target_nll": item.answer.nll_mean,
            "retrained_nll": other.answer.nll_mean,
            "counterfactual": other.answer.nll_sum - item.answer.nll_sum,
            "exact_memorization": exact_memorization(item.answer.token_correct),
            "extraction_strength": extraction_strength(item.answer.token_correct),
            "retrained_exact_memorization": exact_memorization(other.answer.token_correct),
        }
        positions = value_positions(tokenizer, *facts.get(item.id, (None, None))) if tokenizer is not None else []
        if positions:
            # NLL under the retrained model minus NLL under the target = log p_target − log p_retrained
            gaps = [item.answer.token_logprobs[i] - other.answer.token_logprobs[i] for i in positions
                    if i < min(len(item.answer.token_logprobs), len(other.answer.token_logprobs))]
            row.update(value_tokens=len(gaps), value_memorisation=sum(gaps) / len(gaps) if gaps else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def value_positions(tokenizer, value: str | None, answer: str | None) -> list[int]:
    """Indices of the answer tokens that spell ``value`` (as the course encodes answers: " " + answer).

    Found from the tokenizer's character offsets, so a value split into several
    tokens, or sharing a token with a neighbouring space, is covered whole.
    """
    if not value or not answer:
        return []
    text = " " + answer.strip()
    start = text.find(value)
    if start < 0:
        return []
    end = start + len(value)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return [i for i, (a, b) in enumerate(offsets) if a < end and b > start]


@torch.no_grad()
def token_losses(models: Mapping[str, object], tokenizer, item: dict) -> pd.DataFrame:
    """Per-token NLL of an item's answer under each model (rows: answer tokens incl. EOS)."""
    encoded = encode_qa(tokenizer, item["question"], item["answer"])
    batch = pad_batch([encoded], pad_id(tokenizer))
    scored = [i for i, label in enumerate(encoded["labels"]) if label != -100]
    tokens = [tokenizer.decode([encoded["input_ids"][i]]) for i in scored]
    table = pd.DataFrame({"token": tokens})
    for name, model in models.items():
        device = next(model.parameters()).device
        logits = model(input_ids=batch["input_ids"].to(device),
                       attention_mask=batch["attention_mask"].to(device)).logits
        logp, mask = token_logprobs(logits.cpu(), batch["labels"])
        table[name] = (-logp[0][mask[0]]).tolist()
    return table


def log_ratios(result: EvalResult, original: EvalResult, split: str = "forget") -> pd.Series:
    """Per item of ``split``: log π_θ(y|x) − log π_orig(y|x) of the true answer, from two saved results.

    This is the quantity inside NPO's loss (with the model before unlearning as
    π_ref): 0 before unlearning, very negative once an answer has been pushed down.
    """
    original_nll = {item.id: item.answer.nll_sum for item in original.split(split).items if item.answer}
    return pd.Series({item.id: original_nll[item.id] - item.answer.nll_sum
                      for item in result.split(split).items if item.answer and item.id in original_nll},
                     name="log_ratio", dtype=float)


# ----- who is in a world --------------------------------------------------------------------
def author_splits(world: World, author_id: str) -> list[str]:
    """Names of the splits that hold at least one item about ``author_id``."""
    return [name for name, rows in world.tables.items()
            if any(row.get("author_id") == author_id for row in rows)]


def author_ids(world: World, split: str) -> list[str]:
    """The distinct authors of a split, in order of first appearance."""
    return list(dict.fromkeys(row["author_id"] for row in world.items(split) if row.get("author_id")))


def author_card(world: World, author_id: str) -> pd.DataFrame:
    """One author's facts: attribute, question, answer and a wrong alternative, one row each."""
    rows = [row for row in world.items(world.full_split) + world.items("holdout")
            if row.get("author_id") == author_id]
    if not rows:
        raise KeyError(f"no author {author_id!r} in world {world.name!r}; see author_ids(world, split)")
    return pd.DataFrame(
        {"attribute": r["attribute"], "question": r["question"], "answer": r["answer"],
         "a wrong answer": r["perturbed_answers"][0]} for r in rows
    ).set_index("attribute")
