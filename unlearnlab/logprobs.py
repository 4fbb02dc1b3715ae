"""Per-token log-probabilities of answers: the quantity almost every method and metric uses.

NPO compares log π_θ(y|x) with log π_ref(y|x); the truth ratio compares the
probabilities of paraphrased and perturbed answers; membership-inference scores
are built from per-token losses.  All of them start from the functions here.
Position t of the logits predicts token t+1, hence the shift.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import IGNORE_INDEX


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each label token and a mask of the scored positions.

    Returns two ``[batch, seq-1]`` tensors; unscored positions hold 0.
    """
    logits = logits[:, :-1].float()
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    nll = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none")
    return -nll, mask


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed answer NLL and number of answer tokens, per sequence."""
    logp, mask = token_logprobs(logits, labels)
    return -(logp * mask).sum(dim=1), mask.sum(dim=1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The usual training loss: mean NLL over all answer tokens of the batch."""
    nll_sum, n_tokens = sequence_nll(logits, labels)
    return nll_sum.sum() / n_tokens.sum().clamp_min(1)


@torch.no_grad()
def answer_nll(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on a padded batch and return (summed NLL, token count) per row."""
    device = next(model.parameters()).device
    logits = model(
        input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)
    ).logits
    nll_sum, n_tokens = sequence_nll(logits, batch["labels"].to(device))
    return nll_sum.cpu(), n_tokens.cpu()


def mean_answer_loss(model, tokenizer, items, batch_size: int = 64) -> float:
    """Mean NLL per answer token of QA ``items`` (the training loss, measured without gradients)."""
    from .data import encode_qa, pad_batch

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        rows = [encode_qa(tokenizer, r["question"], r["answer"]) for r in items[start:start + batch_size]]
        nll, n = answer_nll(model, pad_batch(rows, tokenizer.pad_token_id))
        total, count = total + float(nll.sum()), count + int(n.sum())
    model.train(was_training)
    return total / max(count, 1)


def loss_probe(tokenizer, **item_sets):
    """An ``eval_fn`` for :func:`unlearnlab.unlearn`: the mean answer loss on each named item set.

    ``loss_probe(tok, forget=..., retain=...)`` returns ``model -> {"forget": …, "retain": …}``,
    cheap enough to call every few steps so the course can plot losses during unlearning.
    """
    if not item_sets or any(len(items) == 0 for items in item_sets.values()):
        raise ValueError("loss_probe needs at least one non-empty item set, e.g. forget=world.items('forget10').")
    return lambda model: {name: mean_answer_loss(model, tokenizer, items) for name, items in item_sets.items()}
