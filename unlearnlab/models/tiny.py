"""The tiny tier: a Llama-architecture model of a few million parameters, from scratch.

Why from scratch?  Exact unlearning means retraining without the forget set, and
that is only affordable for a model that trains in minutes.  A model that has
seen nothing but our generated world also has no outside knowledge of its
fictitious authors, so whatever it knows about them came from our training data.

The tokenizer is a byte-level BPE trained on the world's text (all splits,
holdout included, so that members and non-members are tokenised equally well).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ..training.checks import vocab_fingerprint

SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer that prepends ``<s>`` to every encoded text."""
    core = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    bos = SPECIAL_TOKENS["bos_token"]
    core.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, core.token_to_id(bos))]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **SPECIAL_TOKENS)
    tokenizer.padding_side = "right"
    return tokenizer


def tiny_config(tokenizer, hidden: int, layers: int, max_positions: int = 256) -> LlamaConfig:
    """A scaled-down Llama: same blocks as Llama-2/3 (RMSNorm, RoPE, SwiGLU), fewer of them."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3 // 16 * 16,
        num_hidden_layers=layers,
        num_attention_heads=max(hidden // 32, 1),
        num_key_value_heads=max(hidden // 32, 1),
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny(tokenizer, hidden: int = 128, layers: int = 4, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised tiny Llama (deterministic under ``seed``).

    The weights are drawn inside :func:`torch.random.fork_rng`, so building a model
    leaves the global random state (and whatever a notebook seeded) as it was.
    The config records a fingerprint of the tokenizer's vocabulary, so that
    ``unlearn`` can recognise a tokenizer of another world.
    """
    config = tiny_config(tokenizer, hidden, layers)
    config.vocab_fingerprint = vocab_fingerprint(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: Path) -> None:
    tokenizer.save_pretrained(folder)
