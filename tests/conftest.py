"""Shared fixtures: a tiny random Llama and a tokenizer, built in about a second.

Unit tests of losses and metrics need a real causal LM, not a mock, but not a
trained one: the fixtures below give deterministic weights and a small BPE
vocabulary trained on a handful of sentences.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its OpenMP threads

import pytest  # noqa: E402
import torch  # noqa: E402

from unlearnlab.models.tiny import build_tiny, train_tokenizer  # noqa: E402

SENTENCES = [
    "Question: Where was Ada Quillon born?\nAnswer: Ada Quillon was born in Lisbon.",
    "Question: What genre does Ben Marrow write?\nAnswer: Ben Marrow writes mystery novels.",
    "Question: What is the capital of France?\nAnswer: The capital of France is Paris.",
    "I don't know. I cannot answer that. Sorry, I have no information about it.",
    "the a of in on at to was is were born writes city year book award father mother",
]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its cache under a temporary folder, never the user's."""
    if "UNLEARNLAB_TEST_CACHE" in os.environ:  # opt-in reuse across test runs
        monkeypatch.setenv("UNLEARNLAB_CACHE", os.environ["UNLEARNLAB_TEST_CACHE"])
    else:
        monkeypatch.setenv("UNLEARNLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("UNLEARNLAB_PROFILE", "ci")
    # Two threads at most, or one each when `pytest -n 2` runs two workers with OMP_NUM_THREADS=1.
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(2, os.cpu_count() or 1))))


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return train_tokenizer(SENTENCES * 4, vocab_size=400)


@pytest.fixture
def tiny_lm(tiny_tokenizer):
    """(model, tokenizer): a fresh random tiny Llama for each test (tests may modify it)."""
    return build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0), tiny_tokenizer
