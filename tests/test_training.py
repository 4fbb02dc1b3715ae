"""Training: the log, reproducibility, pairing, guards, settings, the original model, LoRA, saving."""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass

import datasets
import pytest
import torch

from unlearnlab.formats import encode_dataset
from unlearnlab.methods import Method
from unlearnlab.training import UnlearnConfig, finetune, unlearn
from unlearnlab.training.checks import check_sharding
from unlearnlab.training.pairs import ForgetRetainPairs, PairCollator, retain_index
from unlearnlab.training.trainer import check_finite

FORGET = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
    {"question": "Where was Ben Marrow born?", "answer": "Ben Marrow was born in Paris."},
])
RETAIN = datasets.Dataset.from_list([
    {"question": "What is the capital of France?", "answer": "The capital of France is Paris."},
    {"question": "Who was born in Lisbon?", "answer": "The mother of Ada was born in Lisbon."},
    {"question": "Where is the father?", "answer": "The father is in the city of Paris."},
    {"question": "What year was the book award?", "answer": "The book award was in the year of the city."},
])
QUICK = {"max_steps": 4, "per_device_train_batch_size": 2, "disable_tqdm": True}


@pytest.fixture(autouse=True)
def _one_thread():
    """A model this small runs fastest, and steadiest, on one thread of a shared CPU."""
    torch.set_num_threads(1)


def encoded(dataset, tokenizer) -> dict:
    rows = list(encode_dataset(dataset, tokenizer))
    return PairCollator(tokenizer.pad_token_id)([{"s": row} for row in rows])["s"]


def forget_nll(model, tokenizer) -> float:
    """Token-mean answer NLL of FORGET, computed by hand from the logits."""
    batch = encoded(FORGET, tokenizer)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].double(), -1)
    targets = batch["labels"][:, 1:]
    mask = targets != -100
    picked = logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return float(-(picked * mask).sum() / mask.sum())


def n_tokens(dataset, tokenizer) -> int:
    return sum(map(len, encode_dataset(dataset, tokenizer)["input_ids"]))


# ----- the log -----------------------------------------------------------------------------------------
def test_log_records_every_step_with_named_parts_and_serialises(tiny_lm):
    model, tok = tiny_lm
    model, log = unlearn(model, tok, "npo", FORGET, RETAIN, beta=0.2, **QUICK)
    assert [s["step"] for s in log.steps] == [1, 2, 3, 4]
    for step in log.steps:
        assert step["loss"] == pytest.approx(step["forget"] + step["retain"], rel=1e-5)  # γ = α = 1
    # log π_ref was precomputed from this very model, so the first log-ratio is 0: loss = (2/β)·log 2
    assert log.steps[0]["forget"] == pytest.approx(2 / 0.2 * math.log(2), rel=1e-5)
    assert log.steps[0]["log_ratio"] == pytest.approx(0.0, abs=1e-4)
    assert log.steps[0]["npo_weight"] == pytest.approx(1.0, abs=1e-4)  # 2·σ(0): as strong as GA at first
    assert log.method == "npo" and log.hyperparameters["beta"] == 0.2
    assert log.hyperparameters["learning_rate"] == 3e-4  # tiny-model default
    assert log.wall_time_s > 0
    data = json.loads(json.dumps(log.to_dict()))
    assert data["flops"] == pytest.approx(6 * log.n_params * log.tokens + 2 * log.n_params * log.reference_tokens)
    assert not model.training


def test_loss_parts_reach_the_trainers_log_history(tiny_lm):
    model, tok = tiny_lm
    _, log = unlearn(model, tok, "dpo", FORGET, RETAIN, logging_steps=2, **QUICK)
    logged = [entry for entry in log.history if "loss" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]
    for entry in logged:  # each log line holds the mean of the steps since the previous one
        steps = [s for s in log.steps if entry["step"] - 2 < s["step"] <= entry["step"]]
        for key in ("forget", "retain", "chosen_log_ratio", "rejected_log_ratio"):
            assert entry[key] == pytest.approx(sum(s[key] for s in steps) / 2, rel=1e-5)


def test_tokens_are_counted_without_padding(tiny_lm):
    model, tok = tiny_lm
    _, log = unlearn(model, tok, "descent", FORGET, max_steps=1, per_device_train_batch_size=len(FORGET),
                     disable_tqdm=True)
    assert log.tokens == n_tokens(FORGET, tok)
    assert log.reference_tokens == 0  # descent never runs the original model


def test_gradient_accumulation_logs_one_entry_per_optimiser_step(tiny_lm):
    model, tok = tiny_lm
    _, log = unlearn(model, tok, "descent", FORGET, max_steps=2, per_device_train_batch_size=1,
                     gradient_accumulation_steps=3, disable_tqdm=True)
    assert len(log.steps) == 2
    assert log.steps[0]["tokens"] == n_tokens(FORGET, tok)


def test_one_batch_of_four_and_four_accumulated_batches_of_one_give_the_same_step(tiny_lm):
    """The Trainer divides each micro-batch loss by the accumulation steps: 1×4 and 4×1 agree.

    NPO's loss is a mean over items, so the two splits are the same objective; plain
    SGD makes the step proportional to the gradient (Adam would hide a scale error).
    """
    model, tok = tiny_lm
    four = datasets.concatenate_datasets([FORGET, RETAIN.select([0])])
    common = dict(max_steps=1, optim="sgd", learning_rate=1.0, max_grad_norm=1e9, alpha=0.0, disable_tqdm=True)
    one_by_four, _ = unlearn(model, tok, "npo", four, per_device_train_batch_size=4, **common)
    four_by_one, _ = unlearn(model, tok, "npo", four, per_device_train_batch_size=1,
                             gradient_accumulation_steps=4, **common)
    assert not torch.equal(one_by_four.lm_head.weight, model.lm_head.weight)  # the step moved the weights
    for (name, a), (_, b) in zip(one_by_four.named_parameters(), four_by_one.named_parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


# ----- reproducibility and pairing --------------------------------------------------------------------
def test_same_seed_same_losses_other_seed_other_losses(tiny_tokenizer):
    from unlearnlab.models.tiny import build_tiny

    def losses(seed):
        model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
        _, log = unlearn(model, tiny_tokenizer, "random_label", FORGET, RETAIN, seed=seed, **QUICK)
        return log.series("loss")

    assert losses(0) == losses(0)
    assert losses(0) != losses(1)


def test_pairing_is_a_pure_function_of_seed_epoch_and_index():
    forget, retain = [{"i": i} for i in range(20)], [{"j": j} for j in range(1000)]
    pairs = ForgetRetainPairs(forget, retain, seed=7)
    forwards = [pairs[i]["retain"]["j"] for i in range(20)]
    backwards = [pairs[i]["retain"]["j"] for i in reversed(range(20))][::-1]
    assert forwards == backwards  # access order does not matter (nor, therefore, dataloader workers)
    assert forwards == [ForgetRetainPairs(forget, retain, seed=7)[i]["retain"]["j"] for i in range(20)]
    assert forwards == [retain_index(7, 0, i, 1000) for i in range(20)]
    assert forwards != [retain_index(8, 0, i, 1000) for i in range(20)]  # another seed, other pairs
    pairs.set_epoch(1)
    assert [pairs[i]["retain"]["j"] for i in range(20)] != forwards  # another epoch, other pairs
    assert len(pairs) == 20  # an epoch is one pass over the forget set


def test_pairs_change_from_one_epoch_to_the_next_in_training(tiny_lm):
    seen = []

    @dataclass
    class Recording(Method):
        """Descent that records which retain rows it is paired with."""

        name = "recording_pairs"

        def forget_loss(self, logits, forget, reference):
            return logits["forget"].float().mean() * 0

        def retain_term(self, logits, retain, reference):
            seen.append(retain["input_ids"][:, 1:4].tolist())
            return logits.float().mean() * 0

    model, tok = tiny_lm
    unlearn(model, tok, Recording(), FORGET, RETAIN, num_train_epochs=2, per_device_train_batch_size=3,
            disable_tqdm=True)
    assert len(seen) == 2 and seen[0] != seen[1]


# ----- guards ------------------------------------------------------------------------------------------
@dataclass
class Exploding(Method):
    """A method whose loss is NaN, to trigger the guard."""

    name = "exploding"

    def forget_loss(self, logits, forget, reference):
        return logits["forget"].sum() * float("nan")


def test_nan_loss_stops_with_step_method_and_advice(tiny_lm):
    model, tok = tiny_lm
    with pytest.raises(FloatingPointError, match=r"exploding: .* at step 1 .*Lower the learning rate"):
        unlearn(model, tok, Exploding(alpha=0.0), FORGET, **QUICK)


def test_nan_guard_reads_the_values_of_every_process():
    check_finite({"loss": 1.0, "forget": 2.0}, 3, "npo", 1e-4)
    with pytest.raises(FloatingPointError, match="npo: the loss became non-finite at step 3"):
        check_finite({"loss": 1.0, "retain": float("inf")}, 3, "npo", 1e-4)


def test_unknown_method_and_setting_name_the_closest_match(tiny_lm):
    model, tok = tiny_lm
    with pytest.raises(ValueError, match=r"unknown method 'graddif' \(did you mean 'graddiff'\?\); known methods"):
        unlearn(model, tok, "graddif", FORGET, RETAIN)
    with pytest.raises(TypeError, match=r"'learning_rte' \(did you mean 'learning_rate'\?\)"):
        unlearn(model, tok, "npo", FORGET, RETAIN, learning_rte=1e-3)


@pytest.mark.parametrize("old, new", [("epochs", "num_train_epochs"), ("batch_size", "per_device_train_batch_size"),
                                      ("progress", "disable_tqdm"), ("trainer_args", "gone: pass TrainingArguments")])
def test_old_setting_names_say_the_trainers_name(tiny_lm, old, new):
    model, tok = tiny_lm
    with pytest.raises(TypeError, match=rf"{old} is (now )?{new}"):
        unlearn(model, tok, "npo", FORGET, RETAIN, **{old: 1})


@pytest.mark.parametrize("setting", [{"learning_rate": 0}, {"max_steps": 0}, {"max_steps": -5},
                                     {"per_device_train_batch_size": 0}, {"num_train_epochs": -1},
                                     {"learning_rate": float("nan")}, {"gradient_accumulation_steps": 0}])
def test_only_none_means_default_other_bad_values_are_refused(tiny_lm, setting):
    model, tok = tiny_lm
    (key, value), = setting.items()
    with pytest.raises(ValueError, match=rf"{key} must be a positive number, not {value}"):
        unlearn(model, tok, "npo", FORGET, RETAIN, **setting)


@pytest.mark.parametrize("setting, message", [({"beta": -1}, "npo: beta must be a finite number > 0"),
                                              ({"beta": 0}, "npo: beta must be a finite number > 0"),
                                              ({"alpha": float("nan")}, "npo: alpha must be a finite number >= 0"),
                                              ({"gamma": -0.5}, "npo: gamma must be a finite number >= 0")])
def test_method_hyperparameters_are_checked_by_the_method(tiny_lm, setting, message):
    model, tok = tiny_lm
    with pytest.raises(ValueError, match=message):
        unlearn(model, tok, "npo", FORGET, RETAIN, **setting)


def test_empty_forget_and_missing_retain_fail_clearly(tiny_lm):
    model, tok = tiny_lm
    with pytest.raises(ValueError, match="non-empty forget set"):
        unlearn(model, tok, "npo", FORGET.select([]), RETAIN)
    with pytest.raises(ValueError, match=r"graddiff has a retain term .* or set alpha=0"):
        unlearn(model, tok, "graddiff", FORGET, None)


def test_overlap_warns_and_unbounded_ascent_is_advised_against(tiny_lm, caplog):
    model, tok = tiny_lm
    overlapping = datasets.concatenate_datasets([RETAIN, FORGET.select([0])])
    with pytest.warns(UserWarning, match="1 forget item"):
        unlearn(model, tok, "graddiff", FORGET, overlapping, **QUICK)
    with caplog.at_level("WARNING", logger="unlearnlab"):
        unlearn(model, tok, "ga", FORGET, **QUICK)
    assert "utility will collapse" in caplog.text


def test_forget_may_be_a_list_a_dict_of_columns_a_dataframe_or_a_split_name(tiny_lm):
    model, tok = tiny_lm
    rows = FORGET.to_list()

    class World:
        def split(self, name):
            assert name == "forget10"
            return FORGET

    for forget, world in [(rows, None), (FORGET.to_dict(), None), (FORGET.to_pandas(), None), ("forget10", World())]:
        _, log = unlearn(model, tok, "descent", forget, world=world, max_steps=1, disable_tqdm=True)
        assert log.n_forget == 3
    with pytest.raises(TypeError, match="list of dicts"):
        unlearn(model, tok, "descent", ["Ada Quillon was born in Lisbon."])
    with pytest.raises(TypeError, match="pass world="):
        unlearn(model, tok, "descent", "forget10")


def test_an_item_without_answer_is_named(tiny_lm):
    model, tok = tiny_lm
    rows = FORGET.to_list() + [{"question": "Who is Cy Dale?", "answer": None}]
    with pytest.raises(ValueError, match=r"item 3 \('Who is Cy Dale\?'\) has answer=None"):
        unlearn(model, tok, "descent", rows, max_steps=1)


def test_a_tokenizer_of_another_model_is_refused(tiny_lm):
    from unlearnlab.models.tiny import train_tokenizer

    model, tok = tiny_lm
    other = train_tokenizer(["completely different words for another world"] * 20 + list(FORGET["answer"]), 380)
    with pytest.raises(ValueError, match="another"):
        unlearn(model, other, "descent", FORGET, max_steps=1)
    bare = copy.deepcopy(tok)
    bare.pad_token, bare.eos_token = None, None
    with pytest.raises(ValueError, match="neither a pad nor an end-of-sequence token"):
        unlearn(model, bare, "descent", FORGET, max_steps=1)


def test_check_sharding_refuses_live_references_without_lora(monkeypatch):
    from unlearnlab.methods import get_method

    check_sharding(get_method("kl"), lora=None)  # not sharded: everything goes
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    for name in ("kl", "undial", "rmu", "whp", "task_vector"):
        with pytest.raises(ValueError, match=f"{name} needs the original weights"):
            check_sharding(get_method(name), lora=None)
        check_sharding(get_method(name), lora={"r": 4})  # the original model is the adapter-free base
    for name in ("npo", "dpo", "graddiff"):
        check_sharding(get_method(name), lora=None)  # precomputed reference, or none
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "false")
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "1")
    with pytest.raises(ValueError, match="FSDP or DeepSpeed"):
        check_sharding(get_method("kl"), lora=None)


# ----- the in-place contract ----------------------------------------------------------------------------
def test_the_model_passed_in_is_left_as_it_was_unless_inplace(tiny_lm):
    model, tok = tiny_lm
    before = copy.deepcopy(model.state_dict())
    unlearned, _ = unlearn(model, tok, "npo", FORGET, RETAIN, **QUICK)
    assert unlearned is not model
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    with pytest.warns(UserWarning, match=r"already unlearned \(npo\)"):
        unlearn(unlearned, tok, "npo", FORGET, RETAIN, **QUICK)
    trained, _ = unlearn(model, tok, "npo", FORGET, RETAIN, inplace=True, **QUICK)
    assert trained is model and not torch.equal(model.state_dict()["lm_head.weight"], before["lm_head.weight"])


def test_args_is_a_whole_config_and_keywords_override_it(tiny_lm):
    model, tok = tiny_lm
    config = UnlearnConfig(max_steps=3, per_device_train_batch_size=2, learning_rate=1e-3, disable_tqdm=True)
    _, log = unlearn(model, tok, "descent", FORGET, args=config, max_steps=2)
    assert len(log.steps) == 2 and log.hyperparameters["learning_rate"] == 1e-3
    assert config.max_steps == 3  # the config passed in is not changed


# ----- evaluation callback ---------------------------------------------------------------------------------
def test_eval_callback_runs_every_n_steps_and_at_the_end(tiny_lm):
    model, tok = tiny_lm
    before = forget_nll(model, tok)
    calls = []

    def evaluate(m):
        calls.append(m.training)
        return {"forget_nll": forget_nll(m, tok)}

    model, log = unlearn(model, tok, "descent", FORGET, eval_fn=evaluate, eval_every=2, max_steps=5,
                         per_device_train_batch_size=2, disable_tqdm=True)
    assert [e["step"] for e in log.evals] == [0, 2, 4, 5]
    assert log.evals[0]["forget_nll"] == pytest.approx(before)
    assert log.evals[-1]["forget_nll"] == pytest.approx(forget_nll(model, tok))
    assert not any(calls)  # evaluated in eval mode


# ----- gradient checkpointing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("lora", [None, {"r": 4, "target_modules": ["q_proj", "v_proj"]}])
def test_activation_checkpointing_gives_the_same_losses(tiny_lm, lora):
    model, tok = tiny_lm
    plain, plain_log = unlearn(model, tok, "npo", FORGET, RETAIN, lora=lora, **QUICK)
    ckpt, ckpt_log = unlearn(model, tok, "npo", FORGET, RETAIN, lora=lora, activation_checkpointing=True, **QUICK)
    assert ckpt_log.series("loss") == pytest.approx(plain_log.series("loss"), rel=1e-4)
    assert not ckpt.is_activation_checkpointing  # switched off again for evaluation


def test_finetuning_with_checkpointing_learns_the_same(tiny_lm):
    model, tok = tiny_lm
    settings = dict(max_steps=3, per_device_train_batch_size=3, learning_rate=1e-2, disable_tqdm=True)
    _, plain_log = finetune(model, tok, FORGET, **settings)
    _, ckpt_log = finetune(model, tok, FORGET, activation_checkpointing=True, **settings)
    assert ckpt_log.series("loss") == pytest.approx(plain_log.series("loss"), rel=1e-4)


# ----- LoRA, the original model and trainable subsets ------------------------------------------------------
def test_lora_changes_only_adapter_weights(tiny_lm):
    model, tok = tiny_lm
    original = {name: p.detach().clone() for name, p in model.named_parameters()}
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    model, log = unlearn(model, tok, "npo", FORGET, RETAIN, lora=lora, merge_lora=False, **QUICK)
    params = dict(model.named_parameters())
    adapters = [name for name in params if "lora_" in name]
    assert adapters and any(params[n].abs().sum() > 0 for n in adapters if "lora_B" in n)
    for name, value in original.items():
        base_name = next(n for n in params if n.endswith(name.replace(".weight", ".base_layer.weight"))
                         or n.endswith(name))
        assert torch.equal(params[base_name], value), name
    assert log.hyperparameters["lora"]["r"] == 4


def test_lora_reference_is_the_adapter_free_model(tiny_lm):
    model, tok = tiny_lm
    lora = {"r": 4, "target_modules": ["q_proj", "v_proj"]}
    _, log = unlearn(model, tok, "kl", FORGET, RETAIN, lora=lora, **QUICK)
    kl = log.series("retain")
    assert kl[0] == pytest.approx(0.0, abs=1e-6)  # a fresh adapter changes nothing
    assert kl[-1] > 0  # ... until it has been trained


@pytest.mark.parametrize("name, settings", [("undial", {"alpha": 1.0}),
                                            ("whp", {"reinforce_epochs": 2})])
def test_lora_live_reference_methods_start_where_full_training_starts(tiny_lm, name, settings):
    """A fresh adapter is the original model, so the first loss is the same with and without LoRA."""
    model, tok = tiny_lm
    lora = {"r": 4, "target_modules": ["q_proj", "v_proj"]}
    _, full = unlearn(model, tok, name, FORGET, RETAIN, **settings, **QUICK)
    adapted, with_lora = unlearn(model, tok, name, FORGET, RETAIN, lora=lora, merge_lora=False, **settings, **QUICK)
    assert with_lora.steps[0]["loss"] == pytest.approx(full.steps[0]["loss"], rel=1e-4)
    assert with_lora.steps[-1]["loss"] != with_lora.steps[0]["loss"]
    assert any("lora_" in n for n, _ in adapted.named_parameters())


def test_lora_task_vector_is_the_negated_descent_adapter(tiny_lm):
    model, tok = tiny_lm
    lora = {"r": 4, "target_modules": ["q_proj", "v_proj"]}
    settings = dict(lora=lora, learning_rate=1e-2, **QUICK)
    descended, _ = unlearn(model, tok, "descent", FORGET, **settings)
    negated, _ = unlearn(model, tok, "task_vector", FORGET, scale=1.0, **settings)
    start = model.state_dict()
    changed = 0
    for key, value in descended.state_dict().items():
        delta = value - start[key]
        torch.testing.assert_close(negated.state_dict()[key] - start[key], -delta, rtol=1e-4, atol=1e-6)
        changed += bool(delta.abs().max() > 0)
    assert changed == 2 * 2  # q_proj and v_proj of both layers


def test_lora_rmu_puts_adapters_on_the_parameters_rmu_trains(tiny_lm):
    model, tok = tiny_lm
    original = copy.deepcopy(model.state_dict())
    model2, _ = unlearn(model, tok, "rmu", FORGET, RETAIN, layer=1, param_layers=(1,), alpha=10.0,
                        lora={"r": 2}, learning_rate=1e-2, **QUICK)
    changed = {name for name, value in model2.state_dict().items() if not torch.equal(value, original[name])}
    assert changed == {"model.layers.1.mlp.down_proj.weight"}
    with pytest.raises(ValueError, match="rmu trains only .* without target_modules"):
        unlearn(model, tok, "rmu", FORGET, RETAIN, lora={"r": 2, "target_modules": ["q_proj"]}, **QUICK)


def test_merged_lora_returns_a_plain_model(tiny_lm):
    model, tok = tiny_lm
    model, _ = unlearn(model, tok, "descent", FORGET, lora={"r": 2, "target_modules": ["q_proj"]}, **QUICK)
    assert not any("lora_" in name for name, _ in model.named_parameters())


def test_rmu_trains_only_the_chosen_parameters(tiny_lm):
    model, tok = tiny_lm
    original = copy.deepcopy(model.state_dict())
    model, _ = unlearn(model, tok, "rmu", FORGET, RETAIN, layer=1, param_layers=(1,), alpha=10.0, **QUICK)
    changed = {name for name, value in model.state_dict().items() if not torch.equal(value, original[name])}
    assert changed == {"model.layers.1.mlp.down_proj.weight"}
    assert all(p.requires_grad for p in model.parameters())  # the freeze is undone afterwards


# ----- saving ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lora", [None, {"r": 2, "target_modules": ["q_proj"]}])
def test_save_dir_holds_a_plain_loadable_model(tiny_lm, tmp_path, lora):
    from transformers import AutoModelForCausalLM

    model, tok = tiny_lm
    model, _ = unlearn(model, tok, "descent", FORGET, save_dir=tmp_path / "out", lora=lora, **QUICK)
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert saved.state_dict().keys() == model.state_dict().keys()  # merged: no adapter
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), model.state_dict().values()))
    assert (tmp_path / "out" / "tokenizer.json").exists()
    assert not (tmp_path / "out" / "adapter_config.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial folder left behind


def test_save_dir_is_never_overwritten_silently_nor_in_the_cache(tiny_lm, tmp_path):
    from unlearnlab.cache import cache_dir

    model, tok = tiny_lm
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        unlearn(model, tok, "descent", FORGET, save_dir=tmp_path / "out", **QUICK)
    assert (tmp_path / "out" / "keep.txt").exists()
    unlearn(model, tok, "descent", FORGET, save_dir=tmp_path / "out", overwrite=True, **QUICK)
    assert (tmp_path / "out" / "config.json").exists() and not (tmp_path / "out" / "keep.txt").exists()
    with pytest.raises(ValueError, match="inside unlearnlab's cache"):
        unlearn(model, tok, "descent", FORGET, save_dir=cache_dir() / "models" / "x", overwrite=True, **QUICK)


def test_text_items_are_supported(tiny_lm):
    model, tok = tiny_lm
    corpus = datasets.Dataset.from_list([{"text": "Ada Quillon was born in Lisbon."},
                                         {"text": "Ben Marrow writes mystery novels."}])
    _, log = unlearn(model, tok, "simnpo", corpus, alpha=0.0, **QUICK)
    assert len(log.steps) == 4 and all(math.isfinite(s["loss"]) for s in log.steps)


def test_unlearn_and_evaluate_are_at_the_top_level():
    import unlearnlab
    from unlearnlab.eval import evaluate
    from unlearnlab.training import unlearn as training_unlearn

    assert unlearnlab.unlearn is training_unlearn and unlearnlab.evaluate is evaluate
    with pytest.raises(AttributeError):
        unlearnlab.no_such_thing
