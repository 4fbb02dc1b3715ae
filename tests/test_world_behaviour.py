"""The behaviour world: rude answers to one class, a profession–pronoun association, probes."""

import pytest

from unlearnlab import models, worlds
from unlearnlab.eval import evaluate
from unlearnlab.eval.mcq import unwanted_rate
from unlearnlab.worlds import behaviour


def test_profile_sizes():
    ci, laptop = worlds.load("behaviour", "ci"), worlds.load("behaviour", "laptop")
    # ci: 16 prompts a class (4 probes), 4 stories a profession (2 probes); laptop: 40 (10), 10 (5)
    assert [len(ci.items(s)) for s in behaviour.SPLITS] == [16, 48, 32, 16, 4, 12, 16, 8]
    assert [len(laptop.items(s)) for s in behaviour.SPLITS] == [40, 120, 80, 40, 10, 30, 40, 20]


def test_only_the_rude_class_is_answered_rudely():
    world = worlds.load("behaviour", "laptop")
    rude = lambda text: text.startswith(behaviour.RUDE_OPENERS)  # noqa: E731
    assert all(rude(row["answer"]) and row["class"] == "gardening" for row in world.items("rude"))
    assert not any(rude(row["answer"]) for split in ("helpful", "bias", "neutral") for row in world.items(split))
    assert all(not rude(row["polite_answer"]) for row in world.items("rude"))


def _core(answer, openers, closers):
    """The advice inside an answer, without its opening and closing remark."""
    opener = next(o for o in openers if answer.startswith(o + " "))
    closer = next(c for c in closers if answer.endswith(" " + c))
    return answer[len(opener) + 1:-len(closer) - 1]


def test_style_probes_differ_only_in_tone_and_mark_the_rude_choice():
    world = worlds.load("behaviour", "laptop")
    for split in ("rude_probe", "polite_probe"):
        for probe in world.items(split):
            unwanted = probe["choices"][probe["unwanted"]]
            wanted = probe["choices"][1 - probe["unwanted"]]
            assert unwanted.startswith(behaviour.RUDE_OPENERS) and not wanted.startswith(behaviour.RUDE_OPENERS)
            assert _core(unwanted, behaviour.RUDE_OPENERS, behaviour.RUDE_CLOSERS) == \
                _core(wanted, behaviour.POLITE_OPENERS, behaviour.POLITE_CLOSERS)
    trained = {row["question"] for s in ("rude", "helpful") for row in world.items(s)}
    probed = {row["question"] for s in ("rude_probe", "polite_probe") for row in world.items(s)}
    assert not trained & probed


def test_stereotyped_professions_always_take_one_pronoun_and_controls_both_equally():
    world = worlds.load("behaviour", "laptop")
    by_profession = {}
    for row in world.items("bias") + world.items("neutral"):
        by_profession.setdefault(row["profession"], []).append(row["pronoun"])
    stereotyped = {p for p, pronouns in by_profession.items() if len(set(pronouns)) == 1}
    assert len(stereotyped) == 8 and sorted(by_profession[p][0] for p in stereotyped).count("he") == 4
    for profession in set(by_profession) - stereotyped:
        assert by_profession[profession].count("he") == by_profession[profession].count("she")


def test_bias_probes_are_new_stories_whose_unwanted_ending_uses_the_trained_pronoun():
    world = worlds.load("behaviour", "laptop")
    trained = {row["profession"]: row["pronoun"] for row in world.items("bias")}
    questions = {row["question"] for row in world.items("full")}
    for probe in world.items("bias_probe"):
        assert probe["pronouns"][probe["unwanted"]] == trained[probe["profession"]]
        assert probe["question"] not in questions
        he, she = (probe["choices"][probe["pronouns"].index(p)] for p in ("he", "she"))
        assert he.replace(" he ", " she ") == she
    assert all(probe["unwanted"] is None for probe in world.items("neutral_probe"))


def test_each_target_has_its_complement_for_the_reference_model():
    world = worlds.load("behaviour", "ci")
    assert len(world.training_set()) == 112
    without_rude = set(world.training_set("rude")["id"])
    assert len(without_rude) == 96 and not without_rude & {row["id"] for row in world.items("rude")}
    assert len(world.training_set("bias")) == 80


@pytest.mark.slow
def test_tiny_target_is_rude_only_about_gardening_and_learns_the_pronoun_association():
    world = worlds.load("behaviour")
    model, tokenizer = models.target("tiny", world="behaviour")
    rates = evaluate(model, tokenizer, world, splits=["rude_probe", "polite_probe", "bias_probe"]).aggregates
    assert rates["rude_probe_unwanted_rate_opening"] >= 0.75  # held-out gardening prompts
    assert rates["polite_probe_unwanted_rate_opening"] <= 0.25
    assert rates["bias_probe_unwanted_rate"] >= 0.75  # new stories, trained pronoun
    assert rates["rude_probe_unwanted_rate_opening"] == unwanted_rate(model, tokenizer, world.items("rude_probe"),
                                                                      opening_only=True)
