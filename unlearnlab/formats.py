"""Turn question–answer items into token tensors, the same way everywhere.

Training, unlearning and evaluation must agree on one prompt format and on which
tokens carry the loss, or a "forgotten" answer could simply be a formatting
mismatch.  The rule, as in TOFU: the prompt is ``Question: …\\nAnswer:``, the
answer follows after one space and ends with the end-of-sequence token, and only
answer tokens are scored (prompt labels are ``-100``, PyTorch's ignore index).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .numerics import IGNORE_INDEX
PROMPT_TEMPLATE = "Question: {question}\nAnswer:"


def format_prompt(question: str) -> str:
    """The text a model sees before it answers."""
    return PROMPT_TEMPLATE.format(question=question.strip())


def encode_qa(tokenizer, question: str, answer: str, max_length: int = 256) -> dict[str, list[int]]:
    """Token ids, attention mask and answer-only labels for one QA pair.

    Prompt and answer are tokenised separately so that the boundary between them
    is exact whatever the tokenizer merges.
    """
    prompt_ids = tokenizer(format_prompt(question), add_special_tokens=True)["input_ids"]
    answer_ids = tokenizer(" " + answer.strip(), add_special_tokens=False)["input_ids"]
    answer_ids = answer_ids + [tokenizer.eos_token_id]
    ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + answer_ids)[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def encode_prompt(tokenizer, question: str) -> list[int]:
    """Token ids of the prompt alone, for generation."""
    return tokenizer(format_prompt(question), add_special_tokens=True)["input_ids"]


def encode_text(tokenizer, text: str, max_length: int = 256) -> dict[str, list[int]]:
    """Ids and labels for plain text (a passage of a corpus): every token is scored."""
    ids = tokenizer(text, add_special_tokens=True)["input_ids"][: max_length - 1]
    ids = ids + [tokenizer.eos_token_id]
    labels = list(ids)
    if tokenizer.bos_token_id is not None and ids and ids[0] == tokenizer.bos_token_id:
        labels[0] = IGNORE_INDEX  # nothing predicts the first token
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def encode_dataset(dataset, tokenizer, max_length: int = 256):
    """Tokenise a ``datasets.Dataset`` with :meth:`Dataset.map`: the one encoding path of training.

    QA items (``question``/``answer``) are encoded with :func:`encode_qa`; a
    corpus of ``text`` items with :func:`encode_text`.  A ``preferred_answer``
    column (DPO's refusal) becomes a second encoding of the same question in a
    nested ``preferred`` column; ``generic_question``/``generic_answer`` (WHP's
    translated text) a nested ``generic`` column and its ``generic_align``.
    Other columns are dropped.
    """
    columns = set(dataset.column_names)
    if {"question", "answer"} <= columns:
        def encode(row, index):
            _check_answer(row, index)
            item = encode_qa(tokenizer, row["question"], row["answer"], max_length)
            if "preferred_answer" in columns:
                item["preferred"] = encode_qa(tokenizer, row["question"], row["preferred_answer"], max_length)
            if "generic_question" in columns:  # WHP's translated text, and which of its positions stand in
                item["generic"] = encode_qa(tokenizer, row["generic_question"], row["generic_answer"], max_length)
                item["generic_align"] = align_tokens(item["input_ids"], item["generic"]["input_ids"])
            return item
    elif "text" in columns:
        def encode(row, index):
            if not isinstance(row["text"], str):
                raise ValueError(f"item {index} has no text (text={row['text']!r}): every item needs a string")
            return encode_text(tokenizer, row["text"], max_length)
    else:
        raise ValueError(f"items need 'question' and 'answer' columns, or a 'text' column; got {sorted(columns)}")
    return dataset.map(encode, with_indices=True, remove_columns=dataset.column_names, desc="tokenising")


def align_tokens(original: Sequence[int], translated: Sequence[int]) -> list[int]:
    """For each original position, the translated position whose next-token prediction stands in for it (−1: none).

    The two token sequences differ only where terms were replaced.  Unchanged
    tokens pair one to one (a token just before a replaced term thus predicts
    the *generic* term's first token, the point of the translation); the last
    token of a replaced span pairs with the last token of its replacement (both
    predict what follows it); other tokens inside a replaced span have no
    counterpart.  Matching is :class:`difflib.SequenceMatcher`'s.
    """
    import difflib

    align = [-1] * len(original)
    matcher = difflib.SequenceMatcher(a=list(original), b=list(translated), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            align[i1:i2] = range(j1, j2)
        elif tag == "replace" or (tag == "delete" and j1 > 0):
            align[i2 - 1] = j2 - 1
    return align


def _check_answer(row: dict, index: int) -> None:
    for key in ("question", "answer"):
        if not isinstance(row[key], str):
            raise ValueError(f"item {index} ({row['question']!r}) has {key}={row[key]!r}: "
                             f"every item needs a {key} string")


def pad_batch(features: Sequence[dict], pad_token_id: int, side: str = "right") -> dict[str, torch.Tensor]:
    """Pad a list of encoded examples into tensors.

    Training pads on the right; generation pads on the left so that every prompt
    ends at the last position.  ``labels`` are padded with ``-100`` and
    ``attention_mask`` with 0; any other list-valued key with ``pad_token_id``.
    Scalar keys (e.g. precomputed reference log-probabilities) become 1-D tensors.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")
    batch: dict[str, torch.Tensor] = {}
    for key in features[0]:
        values = [f[key] for f in features]
        if not isinstance(values[0], (list, tuple)):
            batch[key] = torch.tensor(values)
            continue
        fill = {"labels": IGNORE_INDEX, "attention_mask": 0}.get(key, pad_token_id)
        width = max(len(v) for v in values)
        rows = [_pad(list(v), width, fill, side) for v in values]
        batch[key] = torch.tensor(rows, dtype=torch.long)
    return batch


def _pad(row: list, width: int, fill: int, side: str) -> list:
    padding = [fill] * (width - len(row))
    return padding + row if side == "left" else row + padding
