"""Task vectors as weights, LoRA task vectors, and WHP's generic-term replacement."""
from __future__ import annotations

import copy

import datasets
import pytest
import torch

from unlearnlab.formats import align_tokens
from unlearnlab.methods.arithmetic import (anchored_terms, apply_task_vector, lora_task_vector, replace_terms,
                                           task_vector)
from unlearnlab.training import unlearn

FORGET = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
])
QUICK = {"max_steps": 3, "per_device_train_batch_size": 2, "disable_tqdm": True, "learning_rate": 1e-2}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_negation_with_alpha_zero_returns_the_target(tiny_lm):
    model, tok = tiny_lm
    tuned, _ = unlearn(model, tok, "descent", FORGET, **QUICK)
    vector = task_vector(tuned, model)
    assert any(delta.abs().max() > 0 for delta in vector.values())
    same = apply_task_vector(model, vector, 0.0)
    for key, value in model.state_dict().items():
        assert torch.equal(same.state_dict()[key], value)
    back = apply_task_vector(tuned, vector, 1.0)  # θ_tuned − τ = θ_start
    for key, value in model.state_dict().items():
        torch.testing.assert_close(back.state_dict()[key], value, rtol=0, atol=1e-6)


def test_negation_moves_the_other_way(tiny_lm):
    model, tok = tiny_lm
    tuned, _ = unlearn(model, tok, "descent", FORGET, **QUICK)
    vector = task_vector(tuned, model)
    negated = apply_task_vector(model, vector, 2.0)
    for key, delta in vector.items():
        torch.testing.assert_close(dict(negated.named_parameters())[key] - dict(model.named_parameters())[key],
                                   -2.0 * delta, rtol=1e-4, atol=1e-6)


def test_lora_task_vector_is_the_merged_adapter_and_has_rank_at_most_r(tiny_lm):
    model, tok = tiny_lm
    adapted, _ = unlearn(model, tok, "descent", FORGET, lora={"r": 2, "target_modules": ["q_proj", "v_proj"]},
                         merge_lora=False, **QUICK)
    vector = lora_task_vector(adapted)
    assert len(vector) == 2 * 2  # q_proj and v_proj of both layers
    merged = copy.deepcopy(adapted).merge_and_unload()
    rebuilt = apply_task_vector(model, vector, -1.0)  # θ + τ: the merged fine-tuned model
    for key, value in merged.state_dict().items():
        torch.testing.assert_close(rebuilt.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert all(torch.linalg.matrix_rank(delta) <= 2 for delta in vector.values())


def test_replacement_changes_exactly_the_anchored_terms():
    mapping = {"Ada Quillon": "Mia Tors", "Ada": "Zed", "Lisbon": "Oslo"}
    text = "Ada Quillon was born in Lisbon; Ada and Adam met Ada Quillon in Lisbonia."
    out = replace_terms(text, mapping)
    assert out == "Mia Tors was born in Oslo; Zed and Adam met Mia Tors in Lisbonia."
    assert replace_terms("Nothing anchored here.", mapping) == "Nothing anchored here."
    assert replace_terms("Mia Tors", {"Mia Tors": "Ada Quillon", "Ada Quillon": "x"}) == "Ada Quillon"  # one pass
    assert replace_terms(text, {}) == text


def test_align_tokens_pairs_unchanged_tokens_and_span_ends():
    original = [1, 5, 6, 7, 9, 2]       # 6 7 is the anchor
    translated = [1, 5, 8, 3, 4, 9, 2]  # replaced by three tokens
    assert align_tokens(original, translated) == [0, 1, -1, 4, 5, 6]
    assert align_tokens(original, original) == list(range(6))


def test_anchored_terms_are_forget_only_and_map_to_holdout_terms():
    from unlearnlab import worlds

    world = worlds.load("authors")
    mapping = anchored_terms(world, "forget10")
    forget_authors = {i["author"] for i in world.items("forget10")}
    holdout_authors = {i["author"] for i in world.items("holdout")}
    assert forget_authors <= set(mapping)
    assert {mapping[a] for a in forget_authors} <= holdout_authors
    retain_text = " ".join(i["answer"] for i in world.items("retain90"))
    assert all(term not in retain_text for term in mapping)


def test_whp_with_generic_terms_trains_and_reads_the_translated_text(tiny_lm):
    model, tok = tiny_lm
    mapping = {"Ada Quillon": "Ben Marrow", "Lisbon": "Paris"}
    plain, log_plain = unlearn(model, tok, "whp", FORGET, reinforce_epochs=1, **QUICK)
    translated, log = unlearn(model, tok, "whp", FORGET, reinforce_epochs=1, generic_terms=mapping, **QUICK)
    assert log.hyperparameters["generic_terms"] == tuple(mapping.items())
    assert log.steps[0]["forget"] != pytest.approx(log_plain.steps[0]["forget"])
    assert all(torch.isfinite(torch.tensor(s["loss"])) for s in log.steps)
