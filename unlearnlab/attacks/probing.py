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
    was_training = model.training
    model.eval()
    rows = [(i, k, encode_qa(tokenizer, item["question"], str(choice)))
            for i, item in enumerate(items) for k, choice in enumerate(item["choices"])]
    states = []
    for start in range(0, len(rows), batch_size):
        batch = pad_batch([r[2] for r in rows[start:start + batch_size]], pad_id(tokenizer))
        out = model(input_ids=batch["input_ids"].to(model.device),
                    attention_mask=batch["attention_mask"].to(model.device), output_hidden_states=True)
        hidden = out.hidden_states[1:][layer]  # hidden_states[0] is the embedding output
        last = batch["attention_mask"].sum(dim=1) - 1  # right padding: the last real token
        states.append(hidden[torch.arange(len(last)), last.to(hidden.device)].float().cpu())
    model.train(was_training)
    labels = np.array([int(k == int(items[i]["answer"])) for i, k, _ in rows])
    groups = np.array([i for i, _, _ in rows])
    return torch.cat(states).numpy(), labels, groups


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
