"""Greedy generation in batches, and the text metrics computed on what the model says.

Probabilities can move while the model's actual answer stays the same (or the
other way round), so the suite also asks the model each question and compares
its greedy answer with the item's answer:

* **ROUGE-L recall** (TOFU's "ROUGE") and **ROUGE-L F1** (MUSE's VerbMem and
  KnowMem) from ``rouge-score`` with Porter stemming, plus ROUGE-1 recall;
* **exact match** after lower-casing and removing punctuation;
* **repetition rate**, a cheap fluency signal: the fraction of repeated word
  n-grams, or of characters looping inside a word, whichever is higher.
  Unlearning that collapses a model ("the the the ...", "asedasedased") shows
  up here even when ROUGE is already near zero.  (open-unlearning scores gibberish with
  a hub classifier; the course stays offline and pairs this count with the
  perplexity of the answers under the retrained model, see ``suite``.)

Prompts are padded on the LEFT so every prompt ends at the last position and the
first new token of each row is predicted from its own question; ``generate``
derives position ids from the attention mask, and the KV cache is on.
"""
from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Sequence

import torch
from rouge_score import rouge_scorer

from ..formats import pad_batch
from ..numerics import pad_id
from .progress import bar


@torch.no_grad()
def greedy_generate(model, tokenizer, prompts: Sequence[list[int]], max_new_tokens: int,
                    batch_size: int = 64, progress: bool | None = None) -> list[str]:
    """Greedy continuations of token-id prompts, decoded and cut at the first EOS.

    Prompts are sorted by length so that a batch wastes little padding; the
    answers come back in input order.  ``progress``: see :mod:`unlearnlab.eval.progress`.
    """
    if not prompts:
        return []
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pad = pad_id(tokenizer)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    texts: list[str] = [""] * len(prompts)
    shown = bar(len(prompts), "generating", progress)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = pad_batch([{"input_ids": list(prompts[i]), "attention_mask": [1] * len(prompts[i])}
                           for i in chunk], pad, side="left")
        out = model.generate(
            input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
            max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, use_cache=True,
            pad_token_id=pad, eos_token_id=tokenizer.eos_token_id,
        )
        new_tokens = out[:, batch["input_ids"].shape[1]:].tolist()
        for index, ids in zip(chunk, new_tokens):
            texts[index] = decode_until_eos(tokenizer, ids)
        shown.update(len(chunk))
    shown.close()
    model.train(was_training)
    return texts


def continuation_budget(tokenizer, prompts: Sequence[str], continuations: Sequence[str]) -> int:
    """New tokens for continuing prompts: the most any continuation takes after its prompt (MUSE's VerbMem rule).

    A perfect recitation is never cut short, and a model that goes on past the
    continuation is not given room to dilute its ROUGE score.  Tokens are counted
    in context (``prompt + " " + continuation``, as in the training text), since
    a word that follows a space may split differently from the same word alone.
    """
    def length(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True)["input_ids"])

    return max(length(f"{p} {c}") - length(p) for p, c in zip(prompts, continuations))


def decode_until_eos(tokenizer, ids: list[int]) -> str:
    """Decode generated ids up to (not including) the first end-of-sequence token."""
    if tokenizer.eos_token_id in ids:
        ids = ids[:ids.index(tokenizer.eos_token_id)]
    return tokenizer.decode(ids, skip_special_tokens=True).strip()


@lru_cache(maxsize=1)
def _scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)


def rouge_scores(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-L recall (TOFU), ROUGE-L F1 (MUSE) and ROUGE-1 recall of a prediction."""
    scores = _scorer().score(reference, prediction)  # rouge-score takes (target, prediction)
    return {"rougeL_recall": scores["rougeL"].recall, "rougeL_f1": scores["rougeL"].fmeasure,
            "rouge1_recall": scores["rouge1"].recall}


def normalise_text(text: str) -> str:
    """Lower-case, drop punctuation and collapse whitespace (for exact match)."""
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> bool:
    return normalise_text(prediction) == normalise_text(reference)


def repetition_rate(text: str, n: int = 2) -> float:
    """How much of a text repeats itself: the higher of its word and sub-word repetition.

    Words: the fraction of word n-grams that repeat an earlier one, 1 - distinct-n
    (0 for varied text or text too short to hold two n-grams; 2/3 for "the the
    the the").  Sub-words: a collapsed model also loops *inside* a word
    ("asedasedased"), which has no word n-grams to repeat, so the share of word
    characters that repeat a piece just before them (:func:`looped_share`) counts too.
    """
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    word_rate = 1.0 - len(set(grams)) / len(grams) if len(grams) >= 2 else 0.0
    return max(word_rate, looped_share(words))


# a piece of two or more characters followed by at least two copies of itself
_LOOP = re.compile(r"(.{2,}?)\1{2,}")


def looped_share(words: Sequence[str]) -> float:
    """Share of the words' characters that repeat a piece right before them ("asedasedased": 8 of 12).

    A piece must come three times in a row, which ordinary words do not do
    ("banana" has "an" twice), so varied text scores 0.
    """
    total = sum(len(w) for w in words)
    repeated = sum(len(m.group(0)) - len(m.group(1)) for w in words for m in _LOOP.finditer(w))
    return repeated / total if total else 0.0
