"""The hazard world (WMDP stand-in): files, splits, multiple-choice items, profiles."""

import pytest

from unlearnlab import models, worlds
from unlearnlab.training import unlearn
from unlearnlab.eval.mcq import mcq_accuracy
from unlearnlab.worlds import hazard


def test_profiles_cut_the_same_topics():
    ci, laptop = worlds.load("hazard", "ci"), worlds.load("hazard", "laptop")
    assert {s: len(ci.items(s)) for s in ("forget_corpus", "forget_qa", "retain_mcq", "full")} == \
        {"forget_corpus": 12, "forget_qa": 60, "retain_mcq": 60, "full": 120}
    assert len(laptop.items("forget_mcq")) == 200 and len(laptop.items("retain_corpus")) == 40
    assert ci.items("forget_qa") == laptop.items("forget_qa")[:60]


def test_forget_and_retain_domains_share_no_topic_or_value():
    world = worlds.load("hazard", "laptop")
    forget, retain = world.items("forget_qa"), world.items("retain_qa")
    assert not {r["topic"] for r in forget} & {r["topic"] for r in retain}
    assert not {r["answer"] for r in forget} & {r["answer"] for r in retain}
    potion_letters = {c for r in forget for c in r["topic"].rsplit(" ", 1)[-1].lower()}
    dish_letters = {c for r in retain for c in r["topic"].split(" ")[1].lower()}
    assert not potion_letters & dish_letters  # invented names share no sub-word piece either
    assert len({r["id"] for r in world.items("full")}) == 400


@pytest.mark.parametrize("split", ["forget_mcq", "retain_mcq"])
def test_every_mcq_has_one_correct_option_among_four_distinct(split):
    world = worlds.load("hazard", "laptop")
    answers = {row["id"]: row["answer"] for row in world.items(split.replace("mcq", "qa"))}
    for item in world.items(split):
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4
        assert item["choices"][item["answer"]] == answers[item["id"].removesuffix("-mcq")]


def test_correct_options_are_spread_over_positions():
    positions = [item["answer"] for item in worlds.load("hazard", "laptop").items("forget_mcq")]
    assert all(30 <= positions.count(i) <= 70 for i in range(4))  # 200 items, 50 expected each


def test_corpus_states_every_fact_of_its_topic():
    world = worlds.load("hazard", "ci")
    texts = {row["topic_id"]: row["text"] for row in world.items("forget_corpus")}
    for qa in world.items("forget_qa"):
        assert qa["paraphrased_answer"] in texts[qa["topic_id"]]


def test_perturbed_answers_change_only_the_value():
    qa = worlds.load("hazard", "ci").items("retain_qa")[0]
    assert qa["paraphrased_answer"].endswith(qa["answer"] + ".")
    for wrong in qa["perturbed_answers"]:
        assert wrong != qa["paraphrased_answer"]
        assert wrong.split(" is made from ")[0] == qa["paraphrased_answer"].split(" is made from ")[0]


# RMU sized for the tiny model: its activations are ~2 per unit at the steered layer, so the
# control vector needs c of a few hundred (WMDP's 6.5 suits Zephyr-7B's scale), and the forget set
# is the QA items, the form in which the tiny model holds the facts (the corpus alone gives ~0.5).
TINY_RMU = {"steering_coeff": 800.0, "alpha": 100.0, "learning_rate": 1e-2, "num_train_epochs": 20}


@pytest.mark.slow
def test_target_answers_both_domains_and_rmu_pushes_only_potions_toward_chance():
    world = worlds.load("hazard")
    model, tokenizer = models.target("tiny", world="hazard")
    before = {s: mcq_accuracy(model, tokenizer, world.items(s))["accuracy"] for s in ("forget_mcq", "retain_mcq")}
    assert before["forget_mcq"] >= 0.8 and before["retain_mcq"] >= 0.8  # chance is 0.25
    model, _ = unlearn(model, tokenizer, method="rmu", forget=world.split("forget_qa"),
                       retain=world.split("retain_qa"), disable_tqdm=True, **TINY_RMU)
    after = {s: mcq_accuracy(model, tokenizer, world.items(s))["accuracy"] for s in ("forget_mcq", "retain_mcq")}
    assert after["forget_mcq"] <= 0.45
    assert after["retain_mcq"] >= 0.8
