"""Localised unlearning: train only some layers, or only the most forget-salient weight entries (SalUn)."""
from __future__ import annotations

import copy

import pytest
import test_training
import torch

from unlearnlab.formats import encode_dataset
from unlearnlab.numerics import mean_nll
from unlearnlab.training import UnlearnConfig, unlearn
from unlearnlab.training.masks import (forget_gradients, kept_fraction, layer_parameters, saliency_masks)

FORGET, RETAIN = test_training.FORGET, test_training.RETAIN  # the same small sets as the engine's tests
QUICK = {"max_steps": 3, "per_device_train_batch_size": 2, "disable_tqdm": True, "learning_rate": 1e-2}


def changed(model, before) -> dict[str, torch.Tensor]:
    """Per parameter, where its entries differ from ``before``."""
    return {name: value != before[name] for name, value in model.state_dict().items()}


def test_layer_parameters_are_the_blocks_parameters(tiny_lm):
    model, _ = tiny_lm
    names = layer_parameters(model, [1])
    assert names and all(name.startswith("model.layers.1.") for name in names)
    assert len(names) == len([n for n, _ in model.named_parameters() if n.startswith("model.layers.1.")])
    with pytest.raises(ValueError, match="decoder layers 0 to 1"):
        layer_parameters(model, [2])


def test_saliency_masks_keep_the_largest_entries_under_one_threshold():
    gradients = {"a": torch.tensor([0.1, 0.9, 0.3]), "b": torch.tensor([[0.8, 0.2], [0.05, 0.7]])}
    masks = saliency_masks(gradients, fraction=3 / 7)
    assert masks["a"].tolist() == [False, True, False]
    assert masks["b"].tolist() == [[True, False], [False, True]]
    assert kept_fraction(masks) == pytest.approx(3 / 7)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        saliency_masks(gradients, fraction=0.0)


def test_forget_gradients_are_those_of_the_mean_answer_nll_whatever_the_batch_size(tiny_lm):
    model, tok = tiny_lm
    encoded = encode_dataset(FORGET, tok, 64)
    by_two = forget_gradients(model, encoded, tok.pad_token_id, batch_size=2)
    rows = [{k: encoded[i][k] for k in ("input_ids", "attention_mask", "labels")} for i in range(len(encoded))]
    from unlearnlab.formats import pad_batch

    batch = pad_batch(rows, tok.pad_token_id)
    model.zero_grad()
    mean_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
             batch["labels"]).backward()
    for name, param in model.named_parameters():
        torch.testing.assert_close(by_two[name], param.grad.abs(), rtol=1e-4, atol=1e-7)


def test_saliency_changes_only_the_salient_entries_and_logs_their_number(tiny_lm):
    model, tok = tiny_lm
    before = copy.deepcopy(model.state_dict())
    gradients = forget_gradients(model, encode_dataset(FORGET, tok, 256), tok.pad_token_id)
    masks = saliency_masks(gradients, 0.05)
    unlearned, log = unlearn(model, tok, "ga", FORGET, saliency=0.05, **QUICK)
    moved = changed(unlearned, before)
    total = sum(m.numel() for m in masks.values())
    assert log.trainable_entries == sum(int(m.sum()) for m in masks.values()) == pytest.approx(0.05 * total, rel=0.01)
    for name, mask in masks.items():
        assert not (moved[name] & ~mask).any(), f"{name}: an entry outside the mask moved"
    assert sum(int(moved[name].sum()) for name in masks) > 0.5 * log.trainable_entries


def test_train_layers_leaves_every_other_layer_as_it_was(tiny_lm):
    model, tok = tiny_lm
    before = copy.deepcopy(model.state_dict())
    unlearned, log = unlearn(model, tok, "graddiff", FORGET, RETAIN, train_layers=[1], **QUICK)
    moved = {name for name, where in changed(unlearned, before).items() if where.any()}
    assert moved and all(name.startswith("model.layers.1.") for name in moved)
    assert log.trainable_entries == sum(p.numel() for n, p in model.named_parameters() if n.startswith("model.layers.1."))


def test_rmu_with_train_layers_trains_the_intersection_or_says_it_is_empty(tiny_lm):
    model, tok = tiny_lm
    before = copy.deepcopy(model.state_dict())
    unlearned, _ = unlearn(model, tok, "rmu", FORGET, RETAIN, layer=1, alpha=10.0, train_layers=[0], **QUICK)
    moved = {name for name, where in changed(unlearned, before).items() if where.any()}
    assert moved == {"model.layers.0.mlp.down_proj.weight"}
    with pytest.raises(ValueError, match="trains none of the parameters"):
        unlearn(model, tok, "rmu", FORGET, RETAIN, layer=0, param_layers=(0,), train_layers=[1], **QUICK)


@pytest.mark.parametrize("settings, message", [
    ({"saliency": 0.0}, r"\(0, 1\]"),
    ({"saliency": 1.5}, r"\(0, 1\]"),
    ({"saliency": 0.1, "weight_decay": 0.01}, "weight decay"),
    ({"saliency": 0.1, "lora": {"r": 2}}, "layers_to_transform"),
    ({"train_layers": [0], "lora": {"r": 2}}, "layers_to_transform"),
])
def test_restrictions_that_would_not_hold_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        UnlearnConfig(**settings)
