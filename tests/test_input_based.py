"""Input-based unlearning: the wrapper changes the prompt exactly as documented, and the suite scores it."""
import math

import pytest
import torch

from unlearnlab.eval import evaluate
from unlearnlab.eval.generation import greedy_generate
from unlearnlab.formats import encode_prompt, encode_qa, format_prompt, pad_batch
from unlearnlab.methods.input_based import (REFUSAL, PromptedModel, guardrail, guardrail_context, icul,
                                            icul_context, qa_block)
from unlearnlab.numerics import pad_id

FORGET = [{"id": "f0", "question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon.",
           "value": "Lisbon", "perturbed_answers": ["Ada Quillon was born in Paris."]}]
RETAIN = [{"id": "r0", "question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels.",
           "value": "mystery"}]


def test_icul_context_is_the_documented_text():
    refused = icul_context(FORGET, RETAIN)
    assert refused == (f"Question: {FORGET[0]['question']}\nAnswer: {REFUSAL}\n\n"
                       f"Question: {RETAIN[0]['question']}\nAnswer: {RETAIN[0]['answer']}\n\n")
    flipped = icul_context(FORGET, answer=None)
    assert flipped == qa_block(FORGET[0]["question"], "Ada Quillon was born in Paris.")
    assert qa_block("Q?", " A. ") == format_prompt("Q?") + " A.\n\n"


def test_guardrail_context_without_chat_template(tiny_lm):
    _, tokenizer = tiny_lm
    text = guardrail_context("Ada Quillon", None)
    assert "never reveal anything about Ada Quillon" in text and text.endswith("\n\n")
    model = guardrail(tiny_lm[0], tokenizer, "Ada Quillon")
    assert model.context == guardrail_context("Ada Quillon", tokenizer)
    assert model.n_context_tokens == len(tokenizer(model.context, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("side", ["right", "left"])
def test_forward_equals_the_model_reading_context_then_prompt(tiny_lm, side):
    model, tokenizer = tiny_lm
    wrapped = icul(model, tokenizer, FORGET, RETAIN)
    features = [encode_qa(tokenizer, item["question"], item["answer"]) for item in FORGET + RETAIN]
    batch = pad_batch(features, pad_id(tokenizer), side=side)
    mask = batch["attention_mask"]
    logits = wrapped(input_ids=batch["input_ids"], attention_mask=mask,
                     position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits
    assert logits.shape[:2] == batch["input_ids"].shape
    for row, feature in enumerate(features):
        alone = torch.tensor([wrapped.context_ids + feature["input_ids"]])
        expected = model(input_ids=alone).logits[0, wrapped.n_context_tokens:]
        real = mask[row].bool()
        assert torch.allclose(logits[row][real], expected, atol=1e-5)


def test_generate_returns_prompt_and_new_tokens_of_the_prefixed_model(tiny_lm):
    model, tokenizer = tiny_lm
    wrapped = icul(model, tokenizer, FORGET)
    prompts = [encode_prompt(tokenizer, item["question"]) for item in FORGET + RETAIN]
    got = greedy_generate(wrapped, tokenizer, prompts, max_new_tokens=5)
    expected = greedy_generate(model, tokenizer, [wrapped.context_ids + p for p in prompts], max_new_tokens=5)
    assert got == expected


def test_weights_are_shared_not_changed(tiny_lm):
    model, tokenizer = tiny_lm
    wrapped = icul(model, tokenizer, FORGET)
    assert wrapped.model is model
    assert sum(p.numel() for p in wrapped.parameters()) == sum(p.numel() for p in model.parameters())


def test_the_suite_scores_a_wrapped_model_as_the_model_reading_the_context(tiny_lm):
    model, tokenizer = tiny_lm
    wrapped = icul(model, tokenizer, FORGET, RETAIN)
    result = evaluate(wrapped, tokenizer, None, splits={"forget": FORGET, "retain": RETAIN},
                      gradnorm=False, max_new_tokens=4)
    summary = result.summary()
    assert 0 < summary["forget_prob"] < 1 and 0 < summary["retain_prob"] < 1
    # the same number by hand: the answer's per-token probability after context + prompt
    feature = encode_qa(tokenizer, FORGET[0]["question"], FORGET[0]["answer"])
    ids = torch.tensor([wrapped.context_ids + feature["input_ids"]])
    labels = torch.tensor([[-100] * wrapped.n_context_tokens + feature["labels"]])
    with torch.no_grad():
        nll = model(input_ids=ids, labels=labels).loss.item()
    assert summary["forget_prob"] == pytest.approx(math.exp(-nll), rel=1e-4)
    assert isinstance(wrapped, PromptedModel)
