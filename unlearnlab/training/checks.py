"""Checks before a run starts: inputs that cannot work fail at once, with what to pass instead.

A run that trains on the wrong thing (another world's tokenizer, a NaN weight,
a forget set of the wrong shape) still produces a model and numbers; these
checks make such mistakes loud, and cost nothing next to the training itself.
"""
from __future__ import annotations

import hashlib
import logging
import os
import warnings

import datasets

from ..methods import Method

logger = logging.getLogger(__name__)


def as_dataset(data, role: str, world=None):
    """A ``datasets.Dataset`` from what a learner may reasonably pass as ``forget=`` or ``retain=``.

    Accepted: a Dataset, a list of dicts, a dict of columns, a pandas DataFrame,
    or a split name together with ``world=``.
    """
    if data is None or isinstance(data, datasets.Dataset):
        return data
    if isinstance(data, str):
        if world is None:
            raise TypeError(f"{role}={data!r} is a split name: pass world=<World> as well, or the split "
                            f"itself ({role}=world.split({data!r})).")
        return world.split(data)
    if isinstance(data, dict):
        return datasets.Dataset.from_dict(data)
    if type(data).__name__ == "DataFrame":  # pandas, without importing it
        return datasets.Dataset.from_pandas(data, preserve_index=False)
    if isinstance(data, (list, tuple)):
        if all(isinstance(row, dict) for row in data):
            return datasets.Dataset.from_list(list(data))
        raise TypeError(f"{role} is a list of {type(next(r for r in data if not isinstance(r, dict))).__name__}: "
                        "pass a list of dicts such as {'question': ..., 'answer': ...} (or {'text': ...}), "
                        "or a datasets.Dataset with those columns.")
    raise TypeError(f"{role} should be a datasets.Dataset (e.g. world.split('forget10')), a list of dicts, a dict "
                    f"of columns, a pandas DataFrame or a split name with world=; got {type(data).__name__}.")


def check_inputs(method: Method, forget, retain) -> None:
    """Fail early on data that cannot work; warn on data that probably will not."""
    if forget is None or len(forget) == 0:
        raise ValueError("unlearn() needs a non-empty forget set: pass forget=<datasets.Dataset with "
                         "'question'/'answer' (or 'text') columns>, e.g. world.split('forget10').")
    if method.uses_retain and (retain is None or len(retain) == 0):
        raise ValueError(f"{method.name} has a retain term (alpha={method.alpha}) but no retain set was given: "
                         f"pass retain=<Dataset>, e.g. world.split('retain90'), or set alpha=0.")
    if not method.bounded and not method.uses_retain:
        # advice, not a misuse: a course runs gradient ascent on purpose, so it is logged, not warned
        logger.warning("%s maximises the forget loss with no bound and no retain term: model utility will "
                       "collapse if it runs long. Keep max_steps small, add a retain term (graddiff, kl), or "
                       "use a bounded method (npo, simnpo).", method.name)
    if retain is not None and method.uses_retain:
        shared = _keys(forget) & _keys(retain)
        if shared:
            warnings.warn(f"{len(shared)} forget item(s) also appear in the retain set (same question and "
                          f"answer), e.g. {sorted(shared)[0]!r}: the forget and retain terms pull them in "
                          "opposite directions. Remove them from the retain set.", stacklevel=3)


def _keys(dataset) -> set[tuple]:
    if {"question", "answer"} <= set(dataset.column_names):
        return set(zip(dataset["question"], dataset["answer"]))
    return set(dataset["text"]) if "text" in dataset.column_names else set()


def check_tokenizer(model, tokenizer) -> None:
    """Refuse a tokenizer that does not belong to the model (ids beyond its vocabulary, another vocabulary).

    Other special tokens than the model's config only warn: a chat model may end turns with another token.
    """
    name = type(tokenizer).__name__
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is None:
        raise ValueError(f"the tokenizer ({name}) has neither a pad nor an end-of-sequence token: set one, "
                         "e.g. tokenizer.pad_token = tokenizer.eos_token, before training.")
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        raise ValueError(f"the tokenizer ({name}) has {len(tokenizer)} tokens but the model's embedding has "
                         f"{rows} rows: it belongs to another model (for tiny models: another world). "
                         "Load model and tokenizer together, e.g. models.target('tiny', world).")
    config = model.config
    for key in ("bos_token_id", "eos_token_id"):
        expected, actual = getattr(config, key, None), getattr(tokenizer, key)
        expected = expected if isinstance(expected, (list, tuple)) else [expected]
        if None not in expected and actual is not None and actual not in expected:  # may be deliberate (chat)
            warnings.warn(f"the tokenizer's {key} is {actual} but the model's is {expected}: is it the model's "
                          "own tokenizer? Load model and tokenizer together.", stacklevel=3)
    fingerprint = getattr(config, "vocab_fingerprint", None)
    if fingerprint is not None and fingerprint != vocab_fingerprint(tokenizer):
        raise ValueError("the tokenizer's vocabulary differs from the one this model was built with (another "
                         "world's tokenizer?): load model and tokenizer together, e.g. models.target('tiny', world).")


def vocab_fingerprint(tokenizer) -> str:
    """A short hash of the vocabulary, recorded in a tiny model's config to recognise its tokenizer."""
    text = "\n".join(f"{token}\t{index}" for token, index in sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_sharding(method: Method, lora) -> None:
    """Refuse what needs the original weights whole while FSDP or DeepSpeed shards them.

    A live reference (KL, UNDIAL, RMU, WHP) and task arithmetic read the
    original weights next to the trained ones; with LoRA the original model is
    the adapter-free base, so they work; without it, use a method whose
    reference is precomputed (npo, dpo, simnpo, graddiff, ...).
    """
    sharded = any(os.environ.get(f"ACCELERATE_USE_{kind}", "").lower() in ("1", "true")
                  for kind in ("FSDP", "DEEPSPEED"))
    if sharded and not lora and (method.needs_live_reference or method.needs_original):
        raise ValueError(f"{method.name} needs the original weights during or after training, which FSDP or "
                         "DeepSpeed shard: add a LoRA adapter (lora={...}), or pick a method with a "
                         "precomputed reference (npo, dpo, simnpo, graddiff, wga, idk, ga).")
