"""Teacher-forced scoring: one forward pass per answer gives every number the suite needs.

TOFU's probability and truth ratio, the memorisation metrics and most
membership-inference attacks all read the same per-token quantities of an answer
given its question.  Each answer is scored once, in padded batches, and those
quantities are kept per item, so that every aggregate can later be recomputed
from the saved statistics without the model.

Two conventions, both from the reference code:

* ``nll_mean``/``nll_sum``/``n_tokens`` cover every scored token *including* the
  end-of-sequence token, as the training loss and TOFU's eval logs do.
* the token-level lists (log-probabilities, greedy hits, the vocabulary mean and
  variance that Min-K%++ needs) *exclude* a final end-of-sequence token, as
  open-unlearning's token-wise metrics do: after a memorised answer the EOS is
  trivially predictable and would only dilute exact memorisation and Min-K%.

Batches are right-padded, so real tokens keep positions 0, 1, ...; explicit
``position_ids`` computed from the attention mask are passed as well, because a
Llama forward call (unlike ``generate``) does not derive them from the mask.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch

from ..formats import pad_batch
from ..numerics import shift
from .progress import bar

# fp32 logits of at most this many (token x vocabulary) entries per forward pass (~256 MiB)
MAX_LOGIT_ELEMENTS = 2**26


@dataclass
class SequenceStats:
    """Teacher-forced statistics of one answer (see the module docstring for the EOS rule)."""

    nll_mean: float
    nll_sum: float
    n_tokens: int
    token_logprobs: list[float] = field(default_factory=list)
    token_correct: list[bool] = field(default_factory=list)
    vocab_mean: list[float] = field(default_factory=list)
    vocab_var: list[float] = field(default_factory=list)

    @property
    def prob(self) -> float:
        """The per-token geometric-mean probability exp(-nll_mean) that TOFU calls Prob."""
        return math.exp(-self.nll_mean)

    @property
    def content_loglik(self) -> float:
        """Summed log-probability of the answer's own tokens (EOS excluded), for choices."""
        return float(sum(self.token_logprobs))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SequenceStats":
        return cls(**data)


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """0, 1, 2, ... over the real tokens of each row, whichever side the padding is on."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


@torch.no_grad()
def score_features(model, features: Sequence[dict], eos_token_id: int | None, pad_token_id: int,
                   batch_size: int = 64, progress: bool | None = None) -> list[SequenceStats]:
    """Score encoded examples (``input_ids``/``labels`` as from ``encode_qa``) in padded batches.

    Examples are sorted by length so that each batch holds similar lengths, and a
    batch is also capped so that its logits stay under ``MAX_LOGIT_ELEMENTS``
    (large vocabularies get smaller batches).  Results come back in input order;
    batches go to the model's device.  ``progress``: see :mod:`unlearnlab.eval.progress`.
    """
    if not features:
        return []
    was_training = model.training
    model.eval()
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]), reverse=True)
    vocab = model.config.vocab_size
    results: list[SequenceStats | None] = [None] * len(features)
    start = 0
    shown = bar(len(features), "scoring", progress)
    while start < len(order):
        longest = len(features[order[start]]["input_ids"])
        rows = max(1, min(batch_size, MAX_LOGIT_ELEMENTS // max(1, longest * vocab)))
        chunk = order[start:start + rows]
        batch = pad_batch([_model_inputs(features[i]) for i in chunk], pad_token_id, side="right")
        for index, stats in zip(chunk, _score_batch(model, batch, eos_token_id)):
            results[index] = stats
        start += rows
        shown.update(len(chunk))
    shown.close()
    model.train(was_training)
    return results  # type: ignore[return-value]


def vocab_moments(logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of log p under p itself, over the last (vocabulary) axis.

    μ = Σ p log p (minus the entropy) and σ² = Σ p (log p - μ)²: how surprising
    a typical next token is, and how much that varies.  Min-K%++ standardises
    the true token's log-probability with them.
    """
    probs = logp.exp()
    mean = (probs * logp).sum(-1)
    return mean, (probs * (logp - mean.unsqueeze(-1)) ** 2).sum(-1)


def _model_inputs(feature: dict) -> dict:
    return {key: feature[key] for key in ("input_ids", "attention_mask", "labels")}


def _score_batch(model, batch: dict[str, torch.Tensor], eos_token_id: int | None) -> list[SequenceStats]:
    device = next(model.parameters()).device
    mask = batch["attention_mask"].to(device)
    logits = model(input_ids=batch["input_ids"].to(device), attention_mask=mask,
                   position_ids=position_ids_from_mask(mask)).logits
    logits, targets, scored = shift(logits, batch["labels"].to(device))
    # only scored positions: [n_scored, vocab] instead of [batch, length, vocab]
    logp = torch.log_softmax(logits[scored], dim=-1)
    token_lp = logp.gather(-1, targets[scored].unsqueeze(-1)).squeeze(-1)
    correct = logp.argmax(-1) == targets[scored]
    mean, var = vocab_moments(logp)
    counts = scored.sum(1).tolist()
    last_is_eos = [bool(row[s].numel()) and int(row[s][-1]) == eos_token_id
                   for row, s in zip(targets, scored)]
    out = []
    for lp, hit, mu, sigma2, n, eos in zip(token_lp.split(counts), correct.split(counts),
                                           mean.split(counts), var.split(counts), counts, last_is_eos):
        keep = n - 1 if eos else n
        nll_sum = -float(lp.double().sum())
        out.append(SequenceStats(
            nll_mean=nll_sum / max(n, 1), nll_sum=nll_sum, n_tokens=n,
            token_logprobs=lp[:keep].tolist(), token_correct=hit[:keep].tolist(),
            vocab_mean=mu[:keep].tolist(), vocab_var=sigma2[:keep].tolist(),
        ))
    return out
