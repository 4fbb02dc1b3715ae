"""Method defaults per model tier: the tiny tier's values apply unless the caller chose, large models keep
the published ones; and (slow) the default call forgets something on the tiny ci models."""
from __future__ import annotations

import logging

import datasets
import pytest
import torch

from unlearnlab import models, worlds
from unlearnlab.eval.mcq import mcq_accuracy
from unlearnlab.methods import get_method
from unlearnlab.methods.preference import SimNPO
from unlearnlab.methods.representation import RMU
from unlearnlab.models.tiny import build_tiny
from unlearnlab.training import config as training_config
from unlearnlab.training import unlearn
from unlearnlab.training.config import model_tier

FORGET = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
])
RETAIN = datasets.Dataset.from_list([
    {"question": "What is the capital of France?", "answer": "The capital of France is Paris."},
    {"question": "Where is the father?", "answer": "The father is in the city of Paris."},
])
ONE_STEP = {"max_steps": 1, "per_device_train_batch_size": 2, "disable_tqdm": True}
# Measured once with the default call on the ci hazard target (seed 0, CPU): forget MCQ 1.000 -> 0.417,
# retain MCQ 1.000 -> 0.900.  The margins leave room for another machine's arithmetic, no more.
FORGET_DROP = 0.4
RETAIN_SLACK = 0.15


@pytest.fixture
def tiny(tiny_tokenizer):
    torch.set_num_threads(1)
    return build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0), tiny_tokenizer


def run(model_and_tokenizer, method, **settings):
    model, tokenizer = model_and_tokenizer
    return unlearn(model, tokenizer, method, FORGET, RETAIN, **ONE_STEP, **settings)[1].hyperparameters


@pytest.mark.parametrize("method", [RMU, SimNPO])
def test_tiny_tier_defaults_apply_when_the_caller_gives_nothing(tiny, method, caplog):
    assert model_tier(tiny[0]) == "tiny"
    defaults = method.tier_defaults["tiny"]
    with caplog.at_level(logging.INFO, logger="unlearnlab.training"):
        used = run(tiny, method.name)
    for key, value in defaults.items():
        assert used[key] == value
    assert f"{method.name}: tiny-tier defaults" in caplog.text and "sweep: " in caplog.text


def test_explicit_values_win_over_tier_defaults(tiny):
    used = run(tiny, "rmu", steering_coeff=3.0, learning_rate=5e-3)
    assert used["steering_coeff"] == 3.0 and used["learning_rate"] == 5e-3
    assert used["alpha"] == RMU.tier_defaults["tiny"]["alpha"]  # the one left out still comes from the tier


def test_a_method_object_is_used_as_built(tiny):
    used = run(tiny, get_method("simnpo", beta=2.0))
    assert used["beta"] == 2.0 and used["gamma"] == 0.125  # its fields are all the caller's: gamma stays published


def test_large_models_keep_the_published_values(tiny, monkeypatch):
    monkeypatch.setattr(training_config, "SMALL_MODEL_PARAMS", 1)  # every model is now "large"
    assert model_tier(tiny[0]) == "large"
    used = run(tiny, "rmu")
    assert (used["steering_coeff"], used["alpha"]) == (RMU.steering_coeff, RMU.alpha) == (6.5, 1200.0)
    assert used["learning_rate"] == training_config.default_learning_rate(tiny[0])


@pytest.mark.slow
def test_default_rmu_call_forgets_the_forget_domain_of_the_ci_hazard_model():
    """The defaults were chosen on the hazard world with seed 1; here they meet the chapters' world (seed 0)."""
    world = worlds.load("hazard")
    model, tokenizer = models.target("tiny", world="hazard")
    splits = ("forget_mcq", "retain_mcq")
    before = {s: mcq_accuracy(model, tokenizer, world.items(s))["accuracy"] for s in splits}
    model, log = unlearn(model, tokenizer, "rmu", world.split("forget_qa"), world.split("retain_qa"),
                         disable_tqdm=True)
    after = {s: mcq_accuracy(model, tokenizer, world.items(s))["accuracy"] for s in splits}
    assert log.hyperparameters["steering_coeff"] == RMU.tier_defaults["tiny"]["steering_coeff"]
    assert after["forget_mcq"] <= before["forget_mcq"] - FORGET_DROP
    assert after["retain_mcq"] >= before["retain_mcq"] - RETAIN_SLACK
