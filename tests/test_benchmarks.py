"""Benchmark loaders: each real schema's fixture maps to the course's item schema."""
import shutil
from pathlib import Path

import pytest

from unlearnlab import public as benchmarks
from unlearnlab.public import muse, sources, tofu, wmdp

FIXTURES = Path(__file__).parent / "fixtures"
TOFU_SPLITS = ["full", "forget01", "retain99", "retain_perturbed", "real_authors", "world_facts", "holdout01"]


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(sources, "hub_reachable", lambda: False)


def test_tofu_perturbed_rows_get_the_course_field_names():
    world = tofu.load(local_dir=FIXTURES / "tofu", splits=TOFU_SPLITS)
    first = world.items("forget01")[0]
    assert first["question"] == "Which award did Tomasz Vellacott receive?"
    assert first["paraphrased_answer"] == "The Amber Quill Prize was awarded to Tomasz Vellacott."
    assert first["perturbed_answers"][1] == "Tomasz Vellacott received the Copper Heron Award."
    assert len(first["perturbed_answers"]) == 3 and "perturbed_answer" not in first
    assert first["paraphrased_question"] == "What prize has Tomasz Vellacott been given?"
    assert first["id"] == "tofu.forget01.0000"


def test_tofu_world_facts_compare_perturbed_answers_with_the_answer_itself():
    fact = tofu.load(local_dir=FIXTURES / "tofu", splits=TOFU_SPLITS).items("world_facts")[0]
    assert fact["paraphrased_answer"] == fact["answer"] == "Mercury"
    assert fact["perturbed_answers"] == ["Venus", "Mars", "Neptune"]


def test_tofu_world_trains_on_full_and_pairs_forget_with_retain():
    world = tofu.load(local_dir=FIXTURES / "tofu", splits=TOFU_SPLITS)
    assert world.forget_to_retain == {"forget01": "retain99"}
    assert len(world.training_set()) == 4 and len(world.training_set("forget01")) == 2
    assert world.always_trained == []


def test_tofu_reads_the_first_release_file_names(tmp_path):
    shutil.copy(FIXTURES / "tofu" / "full.json", tmp_path / "all_dataset.json")
    assert len(tofu.load(local_dir=tmp_path, splits=["full"]).items("full")) == 4


def test_muse_maps_gt_to_continuation_and_reads_books_split_names():
    world = muse.load("books", local_dir=FIXTURES / "muse")
    verbmem = world.items("verbmem_forget")[0]
    assert verbmem["continuation"].startswith("captain ordered every passenger")
    assert "gt" not in verbmem and verbmem["prompt"].endswith("and the")
    assert world.items("knowmem_retain") == [
        {"id": "muse-books.knowmem_retain.0000", "question": "Who opened the new library in the market town?",
         "answer": "the mayor"}]
    assert [row["text"] for row in world.items("privleak_retain")] == ["The mayor opened the new library in May."]


def test_muse_raw_text_files_become_text_items():
    world = muse.load("news", local_dir=FIXTURES / "muse", parts=["raw"])
    assert len(world.items("forget")) == 1 and world.items("forget")[0]["text"].count("\n") == 2
    assert len(world.items("retain")) == 2 and len(world.items("full")) == 3
    assert world.forget_to_retain == {"forget": "retain"}


def test_muse_unknown_part_suggests_the_closest():
    with pytest.raises(KeyError, match="did you mean 'knowmem'"):
        muse.load("news", local_dir=FIXTURES / "muse", parts=["knowmen"])


def test_wmdp_parquet_rows_keep_question_choices_and_answer_index():
    world = wmdp.load(subsets=["wmdp-bio", "wmdp-cyber"], local_dir=FIXTURES / "wmdp",
                      neighbours=["virology"], mmlu_dir=FIXTURES / "mmlu")
    first = world.items("forget_mcq")[0]
    assert first["choices"][first["answer"]] == "Mitochondrion"
    assert [len(world.items(s)) for s in ("bio", "cyber", "forget_mcq")] == [2, 1, 3]
    neighbour = world.items("retain_mcq")[0]
    assert neighbour["choices"][neighbour["answer"]] == "A host cell" and neighbour["subject"] == "virology"


def test_wmdp_corpora_become_forget_and_retain_text():
    world = wmdp.load(subsets=["wmdp-cyber"], local_dir=FIXTURES / "wmdp", neighbours=(),
                      corpora=("cyber-forget-corpus", "cyber-retain-corpus"), corpora_dir=FIXTURES / "wmdp-corpora")
    assert world.items("forget_corpus")[0]["text"] == "A toy forget passage about network ports."
    assert world.items("retain_corpus")[0]["id"] == "cyber-retain-corpus.00000"


def test_wmdp_rejects_an_answer_index_outside_the_choices():
    with pytest.raises(ValueError, match="outside its 2 choices"):
        wmdp.to_item({"question": "q", "choices": ["a", "b"], "answer": 2}, "x", "wmdp-bio")


def test_offline_without_a_folder_names_the_local_dir_option(offline):
    for name in ("tofu", "muse-news", "wmdp"):
        with pytest.raises(benchmarks.BenchmarkUnavailable, match="local_dir"):
            benchmarks.load(name)


def test_missing_local_file_lists_the_expected_names(tmp_path):
    with pytest.raises(benchmarks.BenchmarkUnavailable, match="forget10_perturbed.json"):
        tofu.load(local_dir=tmp_path, splits=["forget10"])


def test_unknown_benchmark_suggests_the_closest():
    with pytest.raises(KeyError, match="did you mean 'tofu'"):
        benchmarks.load("tofo")
