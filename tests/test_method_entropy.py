"""Maximum entropy (ME, chapter 14's solution method) and the write-your-own-method template.

The loss is checked at inputs whose value is known by hand, its gradient sign is
checked, and one real training step is checked to lower the forget answers'
likelihood on a tiny memorising model.
"""
from __future__ import annotations

import copy
import math

import datasets
import pytest
import torch

from unlearnlab.formats import encode_dataset
from unlearnlab.methods import Method, get_method, list_methods, register
from unlearnlab.methods.base import _REGISTRY
from unlearnlab.methods.entropy import MaxEntropy, uniform_kl
from unlearnlab.methods.template import MyMethod
from unlearnlab.models.tiny import build_tiny
from unlearnlab.training import unlearn
from unlearnlab.training.pairs import PairCollator

FORGET = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "Where was Ben Marrow born?", "answer": "Ben Marrow was born in Paris."},
])
RETAIN = datasets.Dataset.from_list([
    {"question": "What is the capital of France?", "answer": "The capital of France is Paris."},
    {"question": "Where is the father?", "answer": "The father is in the city of Paris."},
])


def _labels(length: int, scored: list[int]) -> torch.Tensor:
    labels = torch.full((1, length), -100)
    labels[0, scored] = 0
    return labels


def test_me_is_registered_and_bounded():
    assert "me" in list_methods()
    method = get_method("me")
    assert isinstance(method, MaxEntropy) and method.bounded and method.alpha == 1.0


def test_uniform_kl_is_zero_at_uniform_logits_and_matches_the_formula():
    vocab = 7
    labels = _labels(4, [2, 3])  # positions 1 and 2 predict scored labels
    assert float(uniform_kl(torch.zeros(1, 4, vocab), labels)) == pytest.approx(0.0, abs=1e-6)
    # one scored position with logits (log 2, 0, ..., 0): p = (2, 1, ..., 1)/(K+1)
    logits = torch.zeros(1, 2, vocab)
    logits[0, 0, 0] = math.log(2)
    p = torch.tensor([2.0] + [1.0] * (vocab - 1)) / (vocab + 1)
    by_hand = float((torch.full((vocab,), 1 / vocab) * (torch.log(torch.tensor(1 / vocab)) - p.log())).sum())
    assert float(uniform_kl(logits, _labels(2, [1]))) == pytest.approx(by_hand, rel=1e-5)  # float32
    assert by_hand > 0


def test_uniform_kl_gradient_is_p_minus_one_over_k():
    torch.manual_seed(0)
    vocab = 5
    logits = torch.randn(1, 2, vocab, requires_grad=True)
    uniform_kl(logits, _labels(2, [1])).backward()
    p = torch.softmax(logits[0, 0].detach(), -1)
    assert torch.allclose(logits.grad[0, 0], p - 1 / vocab, atol=1e-6)
    # the most likely token is pushed down, the least likely up; the unscored position gets nothing
    assert logits.grad[0, 0, p.argmax()] > 0 and logits.grad[0, 0, p.argmin()] < 0
    assert torch.all(logits.grad[0, 1] == 0)


def _forget_nll(model, tokenizer) -> float:
    items = list(encode_dataset(FORGET, tokenizer))
    batch = PairCollator(tokenizer.pad_token_id)([{"s": item} for item in items])["s"]
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    targets = batch["labels"][:, 1:]
    mask = targets != -100
    picked = logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return float(-(picked * mask).sum() / mask.sum())


def test_one_me_step_lowers_the_forget_likelihood(tiny_tokenizer):
    torch.set_num_threads(1)
    model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    model, _ = unlearn(model, tiny_tokenizer, "descent", FORGET, RETAIN, alpha=1.0, max_steps=40,
                       per_device_train_batch_size=2, learning_rate=3e-3, disable_tqdm=True)
    before = _forget_nll(model, tiny_tokenizer)
    after_model, _ = unlearn(copy.deepcopy(model), tiny_tokenizer, "me", FORGET, RETAIN, max_steps=1,
                             per_device_train_batch_size=2, learning_rate=1e-3, disable_tqdm=True)
    assert _forget_nll(after_model, tiny_tokenizer) > before  # answer NLL up = likelihood down


def test_template_is_importable_and_refuses_to_run_unfilled():
    method = MyMethod()
    assert isinstance(method, Method) and method.name == "my_method"
    assert "my_method" not in list_methods()  # the template itself is never registered
    with pytest.raises(NotImplementedError, match="template"):
        method.forget_loss({"forget": torch.zeros(1, 2, 3)}, {"labels": _labels(2, [1])}, None)


def test_a_filled_copy_of_the_template_registers():
    @register
    class _Filled(MyMethod):
        name = "_test_filled_template"

        def forget_loss(self, logits, forget, reference):
            return uniform_kl(logits["forget"], forget["labels"])

    try:
        assert get_method("_test_filled_template").forget_loss(
            {"forget": torch.zeros(1, 2, 3)}, {"labels": _labels(2, [1])}, None) == pytest.approx(0.0, abs=1e-6)
    finally:
        _REGISTRY.pop("_test_filled_template", None)  # other tests read the exact list of methods
