"""The few numerical conventions every method and metric shares, each defined once.

* **The shift.**  Position t of a causal LM's logits predicts token t + 1, so
  logits ``[:, :-1]`` line up with labels ``[:, 1:]``; label ``-100``
  (:data:`IGNORE_INDEX`, PyTorch's ignore index) marks positions that carry no
  loss (the prompt, the padding).
* **Answer log-probabilities.**  log π(y|x) is the sum of the answer tokens'
  log-probabilities; NPO compares it with the original model's, the truth ratio
  compares paraphrased and perturbed answers with it, and membership-inference
  scores start from its per-token terms.
* **Padding.**  A tokenizer without a pad token pads with its end-of-sequence
  token (:func:`pad_id`); the attention mask hides it either way.
* **Cost.**  Parameters (:func:`count_parameters`) and FLOPs (:func:`estimate_flops`),
  for the survey's efficiency criterion.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def shift(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits that predict each label (as float32), the labels they predict, and the mask of scored positions."""
    targets = labels[:, 1:]
    return logits[:, :-1].float(), targets, targets != IGNORE_INDEX


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each label token and the mask of scored positions (``[batch, seq-1]`` each).

    Unscored positions hold 0, so sums over a row need no mask.
    """
    logits, targets, mask = shift(logits, labels)
    nll = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none")
    return -nll, mask


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed answer NLL (= −log π(y|x)) and the number of answer tokens, per sequence."""
    logp, mask = token_logprobs(logits, labels)
    return -(logp * mask).sum(dim=1), mask.sum(dim=1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The usual training loss: mean NLL over all answer tokens of the batch (token-weighted)."""
    nll_sum, n_tokens = sequence_nll(logits, labels)
    return nll_sum.sum() / n_tokens.sum().clamp_min(1)


@torch.no_grad()
def answer_nll(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on a padded batch (moved to the model's device); summed NLL and token count per row."""
    device = next(model.parameters()).device
    logits = model(input_ids=batch["input_ids"].to(device),
                   attention_mask=batch["attention_mask"].to(device)).logits
    nll_sum, n_tokens = sequence_nll(logits, batch["labels"].to(device))
    return nll_sum.cpu(), n_tokens.cpu()


def pad_id(tokenizer) -> int:
    """The id used for padding: the pad token, else end-of-sequence (Llama-style tokenizers have no pad)."""
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    raise ValueError(f"{type(tokenizer).__name__} has neither a pad token nor an end-of-sequence token: "
                     "set one, e.g. tokenizer.pad_token = tokenizer.eos_token = '</s>', before using it.")


def count_parameters(model, trainable_only: bool = False) -> int:
    """Number of parameters (only those that train, with ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def estimate_flops(n_params: int, forward_tokens: float, backward_tokens: float = 0) -> float:
    """FLOPs by the transformer rule of thumb (Kaplan et al., 2020).

    A forward pass costs about 2·N FLOPs per token for N parameters and a
    backward pass about twice that: 2·N·forward_tokens + 4·N·backward_tokens.
    Training a token is one of each (6·N); a frozen model's no-grad forward is 2·N.
    """
    return 2.0 * n_params * forward_tokens + 4.0 * n_params * backward_tokens
