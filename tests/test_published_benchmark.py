"""The real-benchmark path on local files: TOFU fixtures in the real schema, a tiny model standing in for
open-unlearning's published checkpoints."""
from pathlib import Path

import pytest

from unlearnlab import models
from unlearnlab.eval.published import next_to_published, run_published
from unlearnlab.public import open_unlearning

FIXTURES = Path(__file__).parent / "fixtures" / "tofu"


def test_checkpoint_ids_follow_open_unlearnings_names():
    assert open_unlearning.checkpoint_id("target") == "open-unlearning/tofu_Llama-3.2-1B-Instruct_full"
    retain90 = "open-unlearning/tofu_Llama-3.2-1B-Instruct_retain90"
    assert open_unlearning.checkpoint_id("retrained", "forget10") == retain90
    assert open_unlearning.checkpoint("retrained", "forget01") == "hf:open-unlearning/tofu_Llama-3.2-1B-Instruct_retain99"
    with pytest.raises(KeyError, match="forget splits"):
        open_unlearning.checkpoint_id("retrained", "forget20")


def test_a_missing_local_copy_says_which_folder_and_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="tofu_Llama-3.2-1B-Instruct_full.*huggingface-cli download"):
        open_unlearning.checkpoint("target", local_dir=tmp_path)


def test_published_numbers_are_repro_mds():
    assert open_unlearning.published("npo", "forget10") == {
        "forget_quality": 0.02, "model_utility": 0.46, "forget_truth_ratio": 0.7}
    assert open_unlearning.published("Retain", "forget10")["forget_quality"] == 1.0
    with pytest.raises(KeyError, match="no published TOFU numbers"):
        open_unlearning.published("whp")


@pytest.fixture
def checkpoints(tmp_path):
    """Local folders named like the hub repositories, holding an (untrained) tiny model."""
    model, tokenizer = models.load("tiny", "authors", "ci", device="cpu")
    for role in ("target", "retrained"):
        folder = tmp_path / open_unlearning.checkpoint_id(role, "forget01").split("/")[1]
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return tmp_path


def test_a_method_runs_from_the_published_checkpoints_and_lands_next_to_the_published_numbers(checkpoints):
    result, table = run_published("npo", "forget01", data_dir=FIXTURES, models_dir=checkpoints,
                                  max_steps=2, per_device_train_batch_size=2,
                                  eval_settings={"generate": False, "gradnorm": False})
    assert result.meta["forget"] == "forget01" and result.meta["n_items"]["retain"] == 1
    assert list(table.index) == list(open_unlearning.METRICS)
    assert table.loc["forget_quality", "published"] == 0.92
    assert 0.0 <= table.loc["forget_quality", "this run"] <= 1.0
    assert "repro.md" in table.attrs["source"]
    assert next_to_published(result, "npo", "forget01").equals(table)
