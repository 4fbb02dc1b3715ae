"""The attacks of chapter 12 on tiny models with known outcomes, and that none of them changes its input model."""
import numpy as np
import pytest
import torch

from unlearnlab import attacks
from unlearnlab.attacks import quantization as Q
from unlearnlab.attacks.relearning import split_by_group, split_by_share
from unlearnlab.training import finetune

CITIES = ["Lisbon", "Paris", "France", "mystery", "novels", "Quillon"]
FACTS = [{"id": f"p{i}", "author_id": f"a{i // 2}", "author": f"Ben Marrow {i}",
          "question": f"Where was Ben Marrow {i} born?", "answer": f"Ben Marrow {i} was born in {city}.",
          "value": city, "paraphrased_question": f"In which city was Ben Marrow {i} born?",
          "perturbed_answers": [f"Ben Marrow {i} was born in {c}." for c in CITIES if c != city][:3]}
         for i, city in enumerate(CITIES)]
REFUSALS = [{**f, "answer": "I don't know."} for f in FACTS]
FAST = dict(learning_rate=3e-3, per_device_train_batch_size=6, disable_tqdm=True)


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _unchanged(model, before) -> bool:
    return all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.fixture(scope="module")
def knower(tiny_tokenizer):
    """A tiny model that knows the six facts (recall 1.0), trained in a few seconds."""
    from unlearnlab.models.tiny import build_tiny
    model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    trained, _ = finetune(model, tiny_tokenizer, FACTS, max_steps=120, **FAST)
    assert attacks.fact_recall(trained, tiny_tokenizer, FACTS) == 1.0
    return trained, tiny_tokenizer


# ----- relearning ---------------------------------------------------------------------------------
def test_splits_keep_groups_whole_and_shares_right():
    shown, held = split_by_group(FACTS, share=0.34)
    assert {f["author_id"] for f in shown}.isdisjoint({f["author_id"] for f in held})
    assert len(shown) + len(held) == len(FACTS) and len(shown) == 2
    shown, held = split_by_share(FACTS, share=0.5, seed=1)
    assert len(shown) == 3 and {f["id"] for f in shown + held} == {f["id"] for f in FACTS}


def test_relearning_restores_a_model_only_fine_tuned_away_and_not_one_that_never_knew(knower, tiny_lm):
    model, tokenizer = knower
    hidden, _ = finetune(model, tokenizer, REFUSALS, max_steps=20, **FAST)  # "unlearned" by fine-tuning a refusal
    assert attacks.fact_recall(hidden, tokenizer, FACTS) <= 0.2
    shown, held = FACTS[:2], FACTS[2:]
    before = _state(hidden)
    # measured: held-back recall 0 -> 1.0 after 5 steps at 1e-3 (a larger rate overfits the shown two)
    curve = attacks.relearn_curve(hidden, tokenizer, shown, held, steps=10, eval_every=5, learning_rate=1e-3)
    assert _unchanged(hidden, before)
    assert curve["step"].tolist() == [0, 5, 10]
    assert curve["shown"].iloc[-1] == 1.0  # the fine-tune took
    never, _ = tiny_lm  # a model that never saw the facts relearns the shown ones but not the held-back ones
    naive = attacks.relearn_curve(never, tokenizer, shown, held, steps=10, eval_every=5, learning_rate=1e-3)
    assert curve["held_back"].iloc[-1] >= 0.75 and curve["held_back"].iloc[-1] > naive["held_back"].iloc[-1] + 0.5
    # any score works, and shown items without a planted value are not recalled
    plain = [{k: v for k, v in f.items() if k != "value"} for f in shown]
    custom = attacks.relearn_curve(hidden, tokenizer, plain, held, steps=5, eval_every=5, score=lambda m: 0.25)
    assert list(custom.columns) == ["step", "held_back"] and custom["held_back"].tolist() == [0.25, 0.25]


# ----- quantization -------------------------------------------------------------------------------
@pytest.mark.parametrize("bits,group", [(8, None), (4, 32), (4, None)])
def test_round_trip_error_is_at_most_half_a_step(bits, group):
    weight = torch.randn(16, 64)
    grid = Q.rtn_grid(weight, bits, group)
    error = (Q.dequantize(Q.codes(weight, grid), grid, weight.shape) - weight).abs()
    step = grid.scale.expand(-1, grid.scale.numel() and Q._grouped(weight, group).shape[1]).reshape(weight.shape)
    assert torch.all(error <= step / 2 + 1e-6)
    lo, hi = grid.levels
    assert (hi - lo + 1) == 2 ** bits


@pytest.mark.parametrize("bits", [8, 4])
def test_our_grid_is_optimum_quantos(knower, bits):
    pytest.importorskip("optimum.quanto")
    model, _ = knower
    ours, theirs = Q.quantize(model, bits, group_size=32, library="rtn"), Q.quantize(model, bits, 32, library="quanto")
    for (_, a), (_, b) in zip(Q.quantized_linears(ours), Q.quantized_linears(theirs)):
        torch.testing.assert_close(a.weight, b.weight, rtol=0, atol=1e-6)


def test_our_codes_are_optimum_quantos_at_exact_ties():
    """Coarse weights put many values exactly half-way between two levels; rounding must break those ties as quanto does."""
    pytest.importorskip("optimum.quanto")
    torch.manual_seed(0)
    layer = torch.nn.Linear(256, 64, bias=False)
    layer.weight.data = torch.randint(-200, 200, (64, 256)).float() / 256 * 0.37
    model = torch.nn.Sequential(layer)
    ours, theirs = Q.quantize(model, 4, 128, library="rtn"), Q.quantize(model, 4, 128, library="quanto")
    assert torch.equal(ours[0].weight, theirs[0].weight)


@pytest.mark.parametrize("bits", [8, 4])
def test_bitsandbytes_formats_keep_answers_with_a_bounded_round_trip_error(knower, bits):
    """LLM.int8 rows (half a step of absmax/127) and NF4 blocks of 64 (NF4's widest gap, 0.30 of the absmax, halved)."""
    pytest.importorskip("bitsandbytes")
    model, tokenizer = knower
    before = _state(model)
    rounded = attacks.quantize(model, bits, library="bitsandbytes")
    assert _unchanged(model, before)
    assert attacks.fact_recall(rounded, tokenizer, FACTS) == 1.0
    for (_, a), (_, b) in zip(Q.quantized_linears(model), Q.quantized_linears(rounded)):
        error = (a.weight - b.weight).abs()
        if bits == 8:
            assert torch.all(error <= a.weight.abs().amax(1, keepdim=True) / 127 / 2 + 1e-6)
        else:
            blocks = a.weight.reshape(-1, 64).abs().amax(1, keepdim=True)
            assert torch.all(error.reshape(-1, 64) <= 0.153 * blocks + 1e-6)  # down_proj's rows are 160 long
            assert not torch.equal(a.weight, b.weight)  # four bits do change the weights
    with pytest.raises(ValueError, match="8 or 4 bits"):
        attacks.quantize(model, 2, library="bitsandbytes")


def test_eight_bits_keep_a_trained_models_answers_and_the_input_model(knower):
    model, tokenizer = knower
    before = _state(model)
    eight = attacks.quantize(model, 8)
    assert _unchanged(model, before)
    assert attacks.fact_recall(eight, tokenizer, FACTS) == 1.0
    assert attacks.code_change_fraction(model, eight, bits=8) == 0.0  # rounding twice changes nothing
    for (_, a), (_, b) in zip(Q.quantized_linears(model), Q.quantized_linears(eight)):
        assert (a.weight - b.weight).abs().max() <= a.weight.abs().max() / 127 / 2 + 1e-6
    assert torch.equal(model.get_output_embeddings().weight, eight.get_output_embeddings().weight)


def test_code_change_fraction_counts_what_moved_past_a_rounding_boundary(knower):
    model, _ = knower
    assert attacks.code_change_fraction(model, model, bits=4) == 0.0
    moved = Q.quantize(model, 8, library="rtn")  # start from weights sitting exactly on the 8-bit grid
    far = Q.quantize(moved, 8, library="rtn")
    layers = list(Q.quantized_linears(far))
    with torch.no_grad():
        name, layer = layers[0]
        grid = Q.rtn_grid(layer.weight, 8)
        layer.weight[0, :10] += 2 * grid.scale[0, 0]  # ten codes move by two steps, below the row's max
    total = sum(m.weight.numel() for _, m in layers)
    changed = attacks.code_change_fraction(moved, far, bits=8)
    assert 0 < changed <= 10 / total
    assert attacks.update_to_step_ratio(moved, moved, bits=8) == 0.0


# ----- prompts ------------------------------------------------------------------------------------
def test_prompt_attack_rewrites_questions_and_takes_the_best_per_item(knower):
    model, tokenizer = knower
    before = _state(model)
    table = attacks.prompt_attack(model, tokenizer, FACTS)
    assert _unchanged(model, before)
    assert table.loc["original", "fact_recall"] == 1.0 and table.loc["best of all", "fact_recall"] == 1.0
    assert set(attacks.TEMPLATES) <= set(table.index)
    assert table.loc["best of all", "fact_recall"] >= table["fact_recall"].drop("best of all").max()
    assert attacks.prompts.rewrite([{"question": "q?"}], attacks.TEMPLATES["paraphrase"]) == []


# ----- probing ------------------------------------------------------------------------------------
def test_probe_reads_a_readable_attribute_near_perfectly_and_random_labels_at_chance(tiny_lm):
    model, tokenizer = tiny_lm
    # the true option always ends in "Paris.", a wrong one in another word: readable from the last token
    wrong = ["Lisbon.", "mystery.", "novels.", "France."]
    items = [{"question": f"Where was Ben Marrow {i} born?", "answer": i % 4,
              "choices": [f"born in {'Paris.' if k == i % 4 else wrong[k]}" for k in range(4)]} for i in range(30)]
    before = _state(model)
    readable = attacks.probe_layers(model, tokenizer, items)
    control = attacks.probe_layers(model, tokenizer, items, shuffle_labels=True)
    assert _unchanged(model, before)
    assert list(readable) == list(range(model.config.num_hidden_layers))
    assert min(readable.values()) > 0.95
    by_layer, _, _ = attacks.probing.choice_states_by_layer(model, tokenizer, items[:3], [0, 1])
    one, _, _ = attacks.choice_states(model, tokenizer, items[:3], 1)
    np.testing.assert_allclose(by_layer[1], one)
    assert all(abs(v - 0.5) < 0.2 for v in control.values())


def test_mcq_from_qa_places_the_answer_among_the_perturbed_ones():
    mcq = attacks.mcq_from_qa(FACTS, seed=0)
    for item, qa in zip(mcq, FACTS):
        assert item["choices"][item["answer"]] == qa["answer"]  # FACTS have no paraphrased answer: the answer
        assert sorted(item["choices"]) == sorted([qa["answer"], *qa["perturbed_answers"]])
    paraphrased = attacks.mcq_from_qa([{**FACTS[0], "paraphrased_answer": "In Lisbon."}])[0]
    assert paraphrased["choices"][paraphrased["answer"]] == "In Lisbon."
    assert len({m["answer"] for m in mcq}) > 1


def test_logit_lens_last_layer_is_the_models_own_prediction(knower):
    model, tokenizer = knower
    before = _state(model)
    lens = attacks.logit_lens(model, tokenizer, FACTS)
    assert _unchanged(model, before)
    assert lens.shape == (len(FACTS), model.config.num_hidden_layers + 1)
    for item, (ids, first), p in zip(FACTS, attacks.probing.value_positions(tokenizer, FACTS), lens[:, -1]):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids[:first]])).logits[0, -1]
        assert p == pytest.approx(torch.softmax(logits.float(), -1)[ids[first]].item(), rel=1e-4, abs=1e-6)
    assert lens[:, -1].mean() > 0.5  # the model knows the facts


# ----- teacher-forced readout ----------------------------------------------------------------------
def test_value_is_top_reads_a_trained_fact_and_not_an_untrained_one(knower, tiny_lm):
    model, tokenizer = knower
    before = _state(model)
    assert attacks.value_is_top(model, tokenizer, FACTS) == [True] * len(FACTS)
    assert _unchanged(model, before)
    never, _ = tiny_lm  # six different cities: an untrained model cannot rank each one first
    assert sum(attacks.value_is_top(never, tokenizer, FACTS)) <= 2


def test_value_is_top_agrees_with_the_logits_at_the_value_position(knower):
    """The readout is the argmax where the value's first token is predicted, as a full forward pass shows."""
    from unlearnlab.formats import encode_qa

    model, tokenizer = knower
    fact = FACTS[1]
    encoded = encode_qa(tokenizer, fact["question"], fact["answer"])
    first = tokenizer(" " + fact["value"], add_special_tokens=False)["input_ids"][0]
    position = encoded["input_ids"].index(first) - 1  # the logits that predict the value's first token
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([encoded["input_ids"]])).logits[0, position]
    assert attacks.value_is_top(model, tokenizer, [fact]) == [int(logits.argmax()) == first]


def test_value_is_top_says_what_an_item_lacks(knower):
    model, tokenizer = knower
    with pytest.raises(ValueError, match="contains its 'value'"):
        attacks.value_is_top(model, tokenizer, [{**FACTS[0], "value": "Oslo"}])


# ----- the small-tier quantization study, on a tiny model ------------------------------------------
def test_quantization_study_rows_on_a_tiny_model(knower):
    from unlearnlab.attacks import quantization_study as study

    model, tokenizer = knower
    before = _state(model)
    facts = [{**f, "attribute": "forget" if i < 3 else "other"} for i, f in enumerate(FACTS)]
    forget, retain = study.split_known(model, tokenizer, facts, "forget")
    assert [f["id"] for f in forget] == ["p0", "p1", "p2"] and len(retain) == 3
    rows = study.study(model, tokenizer, forget, retain, runs=(("ga", 3e-3),), seeds=(0,), num_train_epochs=3,
                       batch_size=3)
    assert _unchanged(model, before)
    assert [(r["model"], r["bits"]) for r in rows] == [("target", None), ("target", 8), ("target", 4),
                                                       ("unlearned", None), ("unlearned", 8), ("unlearned", 4),
                                                       ("target + unlearned linears", None)]
    assert rows[0]["known_forget"] == 1.0 and rows[1]["known_forget"] == 1.0  # 8 bits keep a trained model's facts
    unlearned = rows[3]
    assert unlearned["steps"] == 3 and 0 < unlearned["codes_changed_4bit"] <= unlearned["codes_changed_8bit"] <= 1
    assert unlearned["known_forget"] < 1.0  # three steps of ascent at 3e-3 move a tiny model's facts


def test_quantization_study_says_when_the_model_knows_too_little(knower):
    from unlearnlab.attacks import quantization_study as study

    model, tokenizer = knower
    facts = [{**f, "attribute": "other"} for f in FACTS]
    with pytest.raises(ValueError, match="choose another forget_attribute"):
        study.split_known(model, tokenizer, facts, "capital")


def test_quantization_study_command_never_overwrites_a_result(tmp_path, capsys):
    from unlearnlab.attacks import quantization_study as study

    saved = tmp_path / "result.json"
    saved.write_text("{}")
    with pytest.raises(SystemExit):
        study.main(["--out", str(saved)])
    assert "pass --overwrite" in capsys.readouterr().err and saved.read_text() == "{}"
