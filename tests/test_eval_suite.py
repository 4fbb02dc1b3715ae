"""The one-call suite on a hand-made world: numbers cross-checked, JSON round trip, the retrained model."""
import dataclasses
import logging
import math

import numpy as np
import pytest
import torch
from scipy.stats import hmean, ks_2samp

from unlearnlab.formats import encode_prompt, encode_qa, format_prompt, pad_batch
from unlearnlab.config import get_profile
from unlearnlab.eval import EvalResult, evaluate, extraction, load_result, mcq, suite
from unlearnlab.eval.generation import greedy_generate
from unlearnlab.numerics import answer_nll, mean_nll
from unlearnlab.models.tiny import build_tiny
from unlearnlab.worlds.base import World

CITIES = ["Lisbon", "Oslo", "Cairo", "Lima", "Dublin", "Vienna"]


def _qa(name: str, city: str, n: int) -> dict:
    wrong = [c for c in CITIES if c != city][:3]
    return {"id": f"{name}-{n}", "question": f"Where was {name} born?", "answer": f"{name} was born in {city}.",
            "value": city,
            "paraphrased_answer": f"The birthplace of {name} is {city}.",
            "perturbed_answers": [f"{name} was born in {w}." for w in wrong]}


def _world() -> World:
    tables = {
        "forget10": [_qa("Ada Quil", "Lisbon", 0), _qa("Ben Mar", "Oslo", 1), _qa("Cai Dorn", "Cairo", 2)],
        "retain90": [_qa("Dea Fenn", "Lima", 3), _qa("Eli Vost", "Dublin", 4), _qa("Fay Orr", "Vienna", 5)],
        "holdout": [_qa("Gus Tal", "Oslo", 6), _qa("Hal Brin", "Lima", 7), _qa("Ivy Sel", "Cairo", 8)],
        "world_facts": [_qa("Jo Kent", "Vienna", 9), _qa("Kim Ray", "Lisbon", 10)],
        "hard_in_scope": [dict(_qa("Ada Quil", "Lisbon", 11), question="In which city was Ada Quil born?")],
        "hard_out_of_scope": [_qa("Ada Tor", "Dublin", 12)],
    }
    tables["quiz"] = [{"id": f"quiz-{i['id']}", "question": i["question"], "answer": 1,
                       "choices": [i["perturbed_answers"][0], i["answer"], i["perturbed_answers"][1]]}
                      for i in tables["forget10"]]
    return World(name="mini", profile="ci", tables=tables, forget_to_retain={"forget10": "retain90"},
                 always_trained=["world_facts"])


def _train(model, tokenizer, items, steps: int = 150):
    batch = pad_batch([encode_qa(tokenizer, i["question"], i["answer"]) for i in items], tokenizer.pad_token_id)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = mean_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                        batch["labels"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="module")
def setup(tiny_tokenizer):
    """A "target" trained on forget + retain + facts, a "retrained" model on retain + facts, and their results."""
    world = _world()
    target = _train(build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0), tiny_tokenizer,
                    world.training_set("forget10").to_list() + world.items("forget10"))
    retrained = _train(build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0), tiny_tokenizer,
                       world.training_set("forget10").to_list())
    splits = ["forget", "retain", "holdout", "world_facts", "hard_in_scope", "hard_out_of_scope", "quiz"]
    retrained_result = evaluate(retrained, tiny_tokenizer, world, name="retrained", max_new_tokens=40, splits=splits)
    result = evaluate(target, tiny_tokenizer, world, name="target", retrained=retrained_result, max_new_tokens=40,
                      splits=splits)
    return world, target, retrained, retrained_result, result, tiny_tokenizer


def test_probabilities_and_truth_ratio_match_an_independent_computation(setup):
    world, target, _, _, result, tokenizer = setup

    def nlls(question, answers):
        batch = pad_batch([encode_qa(tokenizer, question, a) for a in answers], tokenizer.pad_token_id)
        total, count = answer_nll(target, batch)
        return (total / count).numpy()

    items = world.items("forget10")
    p = [math.exp(-nlls(i["question"], [i["answer"]])[0]) for i in items]
    ratios = [math.exp(nlls(i["question"], [i["paraphrased_answer"]])[0]
                       - nlls(i["question"], i["perturbed_answers"]).mean()) for i in items]
    assert result.aggregates["forget_prob"] == pytest.approx(np.mean(p), rel=1e-4)
    assert result.truth_ratios("forget") == pytest.approx(ratios, rel=1e-4)
    assert result.aggregates["forget_truth_ratio"] == pytest.approx(np.mean(np.minimum(ratios, 1 / np.array(ratios))),
                                                                    rel=1e-4)


def test_model_utility_is_the_harmonic_mean_of_the_listed_numbers(setup):
    result = setup[4]
    agg = result.aggregates
    inputs = ["retain_prob", "retain_rougeL_recall", "retain_truth_ratio_true_better",
              "world_facts_prob_normalised", "world_facts_rougeL_recall", "world_facts_truth_ratio_true_better"]
    assert agg["model_utility"] == pytest.approx(hmean([agg[k] for k in inputs]))
    assert all(k in result.notes["model_utility"] for k in inputs)
    assert "no real_authors" in result.notes["model_utility"]


def test_memorised_forget_set_shows_in_every_family(setup):
    agg = setup[4].aggregates
    assert agg["forget_rougeL_recall"] == 1.0 and agg["holdout_rougeL_recall"] < 0.9
    assert agg["forget_exact_memorization"] > agg["holdout_exact_memorization"]
    assert agg["quiz_accuracy"] == 1.0 and agg["quiz_chance"] == pytest.approx(1 / 3)
    assert agg["mia_auc_loss"] == 1.0  # every forget answer has a lower loss than every holdout answer
    assert agg["privleak_loss"] < -50  # under-unlearned: negative in the open-unlearning convention
    # a reworded question about a forget author still extracts more than unseen authors give
    assert agg["hard_in_scope_rougeL_recall"] > agg["holdout_rougeL_recall"]


def test_forget_quality_uses_the_retrained_models_truth_ratios(setup):
    _, _, _, retrained_result, result, _ = setup
    expected = ks_2samp(result.truth_ratios("forget"), retrained_result.truth_ratios("forget")).pvalue
    assert result.aggregates["forget_quality"] == pytest.approx(expected)
    assert "forget_quality" not in retrained_result.aggregates
    assert "retrained" in retrained_result.notes["forget_quality"]
    # against() judges with the other result's ratios: the retrained model judged against the target
    swapped = retrained_result.against(result).aggregates["forget_quality"]
    assert swapped == pytest.approx(ks_2samp(retrained_result.truth_ratios("forget"),
                                             result.truth_ratios("forget")).pvalue)


def test_truth_ratio_against_the_answer_is_a_recomputable_setting(setup):
    _, _, _, retrained_result, result, _ = setup
    answer_based = result.with_settings(truth_ratio_base="answer")
    items = result.split("forget").items
    expected = [math.exp(i.answer.nll_mean - np.mean([p.nll_mean for p in i.perturbed])) for i in items]
    assert answer_based.truth_ratios("forget") == pytest.approx(expected)
    assert answer_based.aggregates["forget_quality"] == pytest.approx(
        ks_2samp(expected, retrained_result.truth_ratios("forget", base="answer")).pvalue)
    assert result.truth_ratios("forget") != pytest.approx(expected)  # the default uses the paraphrase
    with pytest.raises(KeyError, match="truth_ratio_base"):
        result.with_settings(truth_ratio="answer")


def test_json_round_trip_and_recomputation_from_saved_statistics(setup, tmp_path):
    result = setup[4]
    loaded = load_result(result.save(tmp_path / "target.json"))
    assert loaded.to_dict() == result.to_dict()
    assert loaded.recompute() == pytest.approx(result.aggregates, rel=1e-12)
    assert EvalResult.from_json(result.to_json()).summary() == result.summary()


def test_reference_attack_from_the_model_or_its_saved_log_agree(setup, tmp_path):
    world, target, retrained, retrained_result, result, tokenizer = setup
    live = evaluate(target, tokenizer, world, retrained=retrained_result.save(tmp_path / "ref.json"),
                    retrained_model=retrained, splits=["forget", "holdout"], generate=True, max_new_tokens=40)
    assert live.aggregates["mia_auc_reference"] == pytest.approx(result.aggregates["mia_auc_reference"])
    forget_ids = [i.id for i in live.split("forget").items]
    assert [i.retrained_nll_mean for i in live.split("forget").items] == pytest.approx(
        [i.answer.nll_mean for i in retrained_result.split("forget").items if i.id in forget_ids], rel=1e-5)
    assert live.aggregates["forget_gen_ref_ppl"] > 1.0


def test_item_and_token_limits(setup):
    world, target, _, _, full, tokenizer = setup
    result = evaluate(target, tokenizer, world, splits=["forget", "retain"], max_items=2, max_new_tokens=3,
                      gradnorm=False)
    assert result.meta["n_items"] == {"forget": 2, "retain": 2}
    for short, long in zip(result.split("forget").items, full.split("forget").items):
        assert long.generation.startswith(short.generation) and len(short.generation) < len(long.generation)
    assert result.split("retain").source == "retain90"


def test_profile_limits_apply_by_default(setup, monkeypatch):
    world, target, _, _, _, tokenizer = setup
    small = dataclasses.replace(get_profile("ci"), eval_max_items=1, max_new_tokens=2)
    monkeypatch.setattr(suite, "get_profile", lambda: small)
    result = evaluate(target, tokenizer, world, splits=["forget"], gradnorm=False)
    assert result.meta["n_items"] == {"forget": 1}
    assert result.meta["max_new_tokens"] == 2


def test_mcq_accuracy_matches_the_standalone_function(setup):
    world, target, _, _, result, tokenizer = setup
    standalone = mcq.mcq_accuracy(target, tokenizer, world.items("quiz"))
    assert standalone["accuracy"] == result.aggregates["quiz_accuracy"]
    assert standalone["chance"] == pytest.approx(result.aggregates["quiz_chance"])


def test_run_log_becomes_efficiency_aggregates(setup):
    world, target, _, _, _, tokenizer = setup
    result = evaluate(target, tokenizer, world, splits=["world_facts"], generate=False,
                      run_log={"wall_time_s": 3.0, "peak_memory_mb": 120.0, "n_params": 1000, "tokens": 10})
    assert result.aggregates["unlearn_wall_time_s"] == 3.0
    assert result.aggregates["unlearn_flops"] == pytest.approx(6 * 1000 * 10)


def test_bad_input_gets_a_clear_error(setup):
    world, target, _, _, _, tokenizer = setup
    with pytest.raises(KeyError, match="Did you mean 'world_facts'"):
        evaluate(target, tokenizer, world, splits=["world_fact"])
    with pytest.raises(KeyError, match="forget10"):
        evaluate(target, tokenizer, world, forget="forget05")
    with pytest.raises(ValueError, match="paraphrased"):
        evaluate(target, tokenizer, world, truth_ratio_base="paraphrase")
    empty = World(name="empty", profile="ci", tables={"holdout": []}, forget_to_retain={})
    with pytest.raises(ValueError, match="empty"):
        evaluate(target, tokenizer, empty, forget=None)


def test_generations_are_the_models_greedy_answers(setup):
    world, target, _, _, result, tokenizer = setup
    item = world.items("holdout")[0]
    with torch.no_grad():
        out = target.generate(input_ids=torch.tensor([encode_prompt(tokenizer, item["question"])]),
                              max_new_tokens=40, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    new = out[0, len(encode_prompt(tokenizer, item["question"])):].tolist()
    if tokenizer.eos_token_id in new:
        new = new[:new.index(tokenizer.eos_token_id)]
    assert result.split("holdout").items[0].generation == tokenizer.decode(new, skip_special_tokens=True).strip()


def test_fact_recall_is_the_share_of_answers_that_name_the_planted_value(setup):
    world, _, _, _, result, _ = setup
    for split in ("forget", "holdout"):
        values = {row["id"]: row["value"] for row in world.items(split if split != "forget" else "forget10")}
        expected = np.mean([values[i.id].lower() in i.generation.lower() for i in result.split(split).items])
        assert result.aggregates[f"{split}_fact_recall"] == pytest.approx(expected)
    assert result.aggregates["forget_fact_recall"] == 1.0  # memorised
    assert {"retain_rougeL_f1", "retain_exact_match", "world_facts_rougeL_f1"} <= set(result.aggregates)


def test_prompt_continuation_and_preference_items_are_scored_like_the_standalone_functions(setup):
    world, target, _, _, _, tokenizer = setup
    recite = [{"id": f"r{n}", "prompt": format_prompt(row["question"]), "continuation": row["answer"]}
              for n, row in enumerate(world.items("forget10") + world.items("holdout"))]
    tone = [{"id": f"t{n}", "question": row["question"], "unwanted": 0,
             "choices": [row["perturbed_answers"][0] + " Sorry.", row["answer"] + " Sorry."]}
            for n, row in enumerate(world.items("forget10"))]
    result = evaluate(target, tokenizer, None, splits={"recite": recite, "tone": tone}, gradnorm=False)
    prompts = [tokenizer(p["prompt"])["input_ids"] for p in recite]
    budget = max(len(tokenizer(p["prompt"] + " " + p["continuation"])["input_ids"]) - len(prompt) for p, prompt
                 in zip(recite, prompts))
    texts = greedy_generate(target, tokenizer, prompts, budget)
    values = [p["continuation"] for p in recite]
    assert result.aggregates["recite_extracted"] == extraction.extraction_rate(texts, values)
    assert result.aggregates["recite_extracted"] == 0.5  # the three forget answers, none of the holdout ones
    assert result.aggregates["tone_unwanted_rate"] == mcq.unwanted_rate(target, tokenizer, tone)
    assert result.aggregates["tone_unwanted_rate_opening"] == mcq.unwanted_rate(target, tokenizer, tone,
                                                                                opening_only=True)
    assert result.meta["world"] is None and result.split("recite").source == suite.AD_HOC


def test_forget_defaults_to_the_worlds_own_forget_split(setup):
    world, target, _, _, _, tokenizer = setup
    two = World(name="mini2", profile="ci", tables={**world.tables, "forget01": world.items("forget10")[:1],
                                                    "retain99": world.items("retain90")},
                forget_to_retain={"forget01": "retain99", "forget10": "retain90"})
    assert two.default_forget == "forget10"
    result = evaluate(target, tokenizer, two, splits=["forget", "retain"], generate=False, gradnorm=False)
    assert result.split("forget").source == "forget10" and result.meta["forget"] == "forget10"


def test_a_retrained_result_from_another_split_or_profile_is_refused(setup):
    world, target, _, retrained_result, _, tokenizer = setup
    for key, value in (("forget", "forget05"), ("profile", "laptop"), ("world_fingerprint", "0123")):
        elsewhere = retrained_result.copy()
        elsewhere.meta[key] = value
        with pytest.raises(ValueError, match=key):
            evaluate(target, tokenizer, world, retrained=elsewhere, splits=["forget", "holdout"])


def test_old_argument_names_warn_and_give_the_same_result(setup):
    world, target, retrained, retrained_result, _, tokenizer = setup
    options = dict(splits=["forget", "holdout"], generate=False, gradnorm=False)
    new = evaluate(target, tokenizer, world, retrained=retrained_result, retrained_model=retrained, **options)
    with pytest.warns(DeprecationWarning, match="retrained"):
        old = evaluate(target, tokenizer, world, reference=retrained_result, reference_model=retrained, **options)
    assert old.aggregates == pytest.approx(new.aggregates)
    with pytest.raises(TypeError, match="only retrained"):
        evaluate(target, tokenizer, world, reference=retrained_result, retrained=retrained_result, **options)


def test_a_tokenizer_larger_than_the_models_vocabulary_is_refused(setup):
    world, _, _, _, _, tokenizer = setup
    small = build_tiny(tokenizer, hidden=32, layers=1, seed=0)
    small.resize_token_embeddings(len(tokenizer) - 10)
    with pytest.raises(ValueError, match=f"tokenizer has {len(tokenizer)} tokens"):
        evaluate(small, tokenizer, world, splits=["forget"])


def test_truncation_is_logged_and_progress_bars_appear_when_asked(setup, caplog, capsys):
    world, target, _, _, _, tokenizer = setup
    with caplog.at_level(logging.WARNING, logger="unlearnlab.eval.suite"):
        evaluate(target, tokenizer, world, splits=["forget", "hard_in_scope"], max_items=2, gradnorm=False,
                 progress=True)
    assert "first 2 items of forget (3)" in caplog.text and "hard_in_scope" not in caplog.text
    assert "scoring" in capsys.readouterr().err
