"""Linear probes: is a fact still readable from a model's hidden states?

An unlearned model may stop *saying* a fact while its hidden states still
encode it, and a linear classifier trained on those states reads it out.  The
probe here asks, for each multiple-choice option, whether the hidden state at
the end of "question + option" tells the true option from the wrong ones.  Its
cross-validated ROC AUC is 0.5 when nothing is readable; a model that never saw
the facts (the retrained one) shows how much form alone gives away, and is the
level an unlearned model should be judged against.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..formats import encode_qa, pad_batch
from ..numerics import pad_id


@torch.no_grad()
def choice_states(model, tokenizer, items: Sequence[dict], layer: int,
                  batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hidden states at the last token of every (question, option) pair of MCQ ``items``.

    ``layer`` counts decoder layers from 0 (the output of that layer; -1 is the
    last layer's, before the final norm).  Returns ``(states, is_true,
    item_index)``: one row per option, its label (1 for the item's answer) and
    its item, so that cross-validation can keep an item's options together.
    """
    states, labels, groups = choice_states_by_layer(model, tokenizer, items, [layer], batch_size)
    return states[layer], labels, groups


@torch.no_grad()
def choice_states_by_layer(model, tokenizer, items: Sequence[dict], layers: Sequence[int],
                           batch_size: int = 64) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
    """:func:`choice_states` for several layers from one forward pass: ``({layer: states}, is_true, item_index)``."""
    was_training = model.training
    model.eval()
    rows = [(i, k, encode_qa(tokenizer, item["question"], str(choice)))
            for i, item in enumerate(items) for k, choice in enumerate(item["choices"])]
    states: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(rows), batch_size):
        batch = pad_batch([r[2] for r in rows[start:start + batch_size]], pad_id(tokenizer))
        out = model(input_ids=batch["input_ids"].to(model.device),
                    attention_mask=batch["attention_mask"].to(model.device), output_hidden_states=True)
        last = batch["attention_mask"].sum(dim=1) - 1  # right padding: the last real token
        for layer in layers:
            hidden = out.hidden_states[1:][layer]  # hidden_states[0] is the embedding output
            states[layer].append(hidden[torch.arange(len(last)), last.to(hidden.device)].float().cpu())
    model.train(was_training)
    labels = np.array([int(k == int(items[i]["answer"])) for i, k, _ in rows])
    groups = np.array([i for i, _, _ in rows])
    return {layer: torch.cat(s).numpy() for layer, s in states.items()}, labels, groups


def probe_auc(states: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a logistic-regression probe, folds split by item.

    Splitting by item keeps the options of one question out of the fold that
    trains the probe, so it cannot pass by memorising a question's wording.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_groups = len(set(groups.tolist()))
    if n_groups < folds:
        raise ValueError(f"a {folds}-fold probe needs at least {folds} items; got {n_groups}. Pass fewer folds.")
    scores = np.zeros(len(labels))
    for train, test in GroupKFold(n_splits=folds).split(states, labels, groups):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, random_state=seed))
        probe.fit(states[train], labels[train])
        scores[test] = probe.predict_proba(states[test])[:, 1]
    return float(roc_auc_score(labels, scores))


def mcq_from_qa(items: Sequence[dict], seed: int = 0, true_field: str = "paraphrased_answer") -> list[dict]:
    """Multiple-choice items from QA items with ``perturbed_answers``: the true answer among them, at a random place.

    The true option is ``true_field``, by default the paraphrased answer: the
    generated worlds phrase it with the same template as the perturbed ones, so
    only the fact tells it apart (the trained answer's wording alone would give
    it away).  The place is drawn per item so that a probe cannot pass by position.
    """
    rng = np.random.default_rng(seed)
    out = []
    for item in items:
        wrong = list(item.get("perturbed_answers") or [])
        if not wrong:
            raise ValueError(f"item {item.get('id')!r} has no perturbed_answers to serve as wrong options")
        k = int(rng.integers(len(wrong) + 1))
        true = item.get(true_field) or item["answer"]
        out.append({**item, "choices": wrong[:k] + [true] + wrong[k:], "answer": k})
    return out


def probe_layers(model, tokenizer, mcq_items: Sequence[dict], layers: Sequence[int] | None = None,
                 shuffle_labels: bool = False, seed: int = 0) -> dict[int, float]:
    """Probe AUC (true vs wrong option) at the output of each decoder layer.

    ``shuffle_labels=True`` gives each item a random "true" option instead: the
    control, where no probe should beat an AUC of 0.5 by more than noise.
    """
    n_layers = model.config.num_hidden_layers
    layers = range(n_layers) if layers is None else layers
    items = list(mcq_items)
    if shuffle_labels:
        rng = np.random.default_rng(seed + 1)
        items = [{**item, "answer": int(rng.integers(len(item["choices"])))} for item in items]
    states, labels, groups = choice_states_by_layer(model, tokenizer, items, list(layers))
    return {int(layer): probe_auc(states[layer], labels, groups, seed=seed) for layer in layers}


def value_positions(tokenizer, items: Sequence[dict]) -> list[tuple[list[int], int]]:
    """For each QA item: the token ids of question + answer, and the position of the value's first token.

    The value starts where the encodings of the answer and of the answer cut
    just before the value first differ (robust to how the tokenizer merges the
    space before it).
    """
    out = []
    for item in items:
        answer, value = item["answer"], item["value"]
        at = answer.find(value)
        if at < 0:
            raise ValueError(f"the value {value!r} is not in the answer {answer!r}")
        full = encode_qa(tokenizer, item["question"], answer)["input_ids"]
        cut = encode_qa(tokenizer, item["question"], answer[:at])["input_ids"]
        first = next((i for i, (a, b) in enumerate(zip(full, cut)) if a != b), min(len(full), len(cut)))
        if first >= len(full):
            raise ValueError(f"could not find the value's tokens in {answer!r}")
        out.append((full, first))
    return out


@torch.no_grad()
def logit_lens(model, tokenizer, items: Sequence[dict], batch_size: int = 64) -> np.ndarray:
    """Probability of the value's first token read from every layer through the output head (logit lens).

    Teacher-forced on question + answer up to the value; the hidden state before
    the value goes through the final norm and the output head as if that layer
    were the last (nostalgebraist, 2020).  Returns an array (items, layers + 1):
    column 0 is the embedding output, column L the last layer's (the model's
    own prediction, checked in the tests).
    """
    was_training = model.training
    model.eval()
    norm, head = model.model.norm, model.get_output_embeddings()
    positions = value_positions(tokenizer, items)
    pad = pad_id(tokenizer)
    rows = []
    for start in range(0, len(positions), batch_size):
        chunk = positions[start:start + batch_size]
        batch = pad_batch([{"input_ids": ids[:first], "attention_mask": [1] * first} for ids, first in chunk], pad)
        out = model(input_ids=batch["input_ids"].to(model.device),
                    attention_mask=batch["attention_mask"].to(model.device), output_hidden_states=True)
        last = (batch["attention_mask"].sum(dim=1) - 1).to(model.device)
        target = torch.tensor([ids[first] for ids, first in chunk], device=model.device)
        per_layer = []
        for hidden in out.hidden_states:  # the embedding output, then each layer's output before the final norm
            p = torch.softmax(head(norm(hidden[torch.arange(len(last)), last])).float(), dim=-1)
            per_layer.append(p[torch.arange(len(target)), target].cpu())
        rows.append(torch.stack(per_layer, dim=1))
    model.train(was_training)
    return torch.cat(rows).numpy()
