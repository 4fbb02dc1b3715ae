"""Every world goes through evaluate(): one saved result whose aggregates recompute from its items.

An untrained tiny model is enough here: the test checks which numbers each world
yields and that they survive a save and a load, not their values (the slow
world tests check the values on trained models).
"""
import pytest

from unlearnlab import worlds
from unlearnlab.eval import evaluate, load_result
from unlearnlab.models.tiny import build_tiny

EXPECTED = {
    "authors": ("forget_truth_ratio", "forget_fact_recall", "model_utility", "mia_auc_min_k", "privleak"),
    "books": ("verbmem_forget", "knowmem_forget", "knowmem_retain", "verbmem_retain", "mia_auc_min_k", "privleak"),
    "records": ("extract_forget_extracted", "extract_retain_extracted", "extract_holdout_extracted",
                "extract_forget_rougeL_f1", "mia_auc_min_k", "privleak"),
    "behaviour": ("rude_probe_unwanted_rate", "rude_probe_unwanted_rate_opening", "polite_probe_unwanted_rate",
                  "bias_probe_unwanted_rate", "forget_rougeL_recall"),
    "hazard": ("forget_mcq_accuracy", "retain_mcq_accuracy", "forget_mcq_chance", "forget_truth_ratio"),
}
FORGET = {"authors": "forget10", "books": "forget", "records": "forget", "behaviour": "bias", "hazard": "forget_qa"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_world_yields_one_saved_recomputable_result(name, tiny_tokenizer, tmp_path):
    world = worlds.load(name, "ci")
    model = build_tiny(tiny_tokenizer, hidden=32, layers=1, seed=0)
    result = evaluate(model, tiny_tokenizer, world, max_items=2, max_new_tokens=4, gradnorm=False)
    assert result.meta["forget"] == FORGET[name] == world.default_forget
    assert set(EXPECTED[name]) <= set(result.aggregates), sorted(result.aggregates)
    loaded = load_result(result.save(tmp_path / f"{name}.json"))
    assert loaded.aggregates == pytest.approx(result.aggregates, rel=1e-12, nan_ok=True)
