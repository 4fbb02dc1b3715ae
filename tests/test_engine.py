"""The unlearning engine: logs, reproducibility, guards, the frozen reference, LoRA and evaluation callbacks."""
from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass

import datasets
import pytest
import torch

from unlearnlab.engine import ForgetRetainPairs, PairCollator, encode_items, unlearn
from unlearnlab.methods import Method

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
QUICK = {"max_steps": 4, "batch_size": 2, "progress": False}


@pytest.fixture(autouse=True)
def _one_thread():
    """A model this small runs fastest, and steadiest, on one thread of a shared CPU."""
    torch.set_num_threads(1)


def forget_nll(model, tokenizer) -> float:
    """Token-mean answer NLL of FORGET, computed by hand from the logits."""
    items = encode_items(FORGET, tokenizer)
    batch = PairCollator(tokenizer.pad_token_id)([{"s": item} for item in items])["s"]
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].double(), -1)
    targets = batch["labels"][:, 1:]
    mask = targets != -100
    picked = logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return float(-(picked * mask).sum() / mask.sum())


# ----- the log -----------------------------------------------------------------------------------------
def test_log_records_every_step_with_named_parts_and_serialises(tiny_lm):
    model, tok = tiny_lm
    model, log = unlearn(model, tok, "npo", FORGET, RETAIN, beta=0.2, **QUICK)
    assert [s["step"] for s in log.steps] == [1, 2, 3, 4]
    for step in log.steps:
        assert step["loss"] == pytest.approx(step["forget"] + step["retain"], rel=1e-5)  # γ = α = 1
    # log π_ref was precomputed from this very model, so the first log-ratio is 0: loss = (2/β)·log 2
    assert log.steps[0]["forget"] == pytest.approx(2 / 0.2 * math.log(2), rel=1e-5)
    assert log.method == "npo" and log.hyperparameters["beta"] == 0.2
    assert log.hyperparameters["learning_rate"] == 3e-4  # tiny-model default
    assert log.wall_time_s > 0
    data = json.loads(json.dumps(log.to_dict()))
    assert data["flops"] == pytest.approx(6 * log.n_params * log.tokens + 2 * log.n_params * log.reference_tokens)
    assert not model.training


def test_tokens_are_counted_without_padding(tiny_lm):
    model, tok = tiny_lm
    _, log = unlearn(model, tok, "descent", FORGET, max_steps=1, batch_size=len(FORGET), progress=False)
    assert log.tokens == sum(len(item["input_ids"]) for item in encode_items(FORGET, tok))
    assert log.reference_tokens == 0  # descent never runs the original model


def test_gradient_accumulation_logs_one_entry_per_optimiser_step(tiny_lm):
    model, tok = tiny_lm
    _, log = unlearn(model, tok, "descent", FORGET, max_steps=2, batch_size=1, gradient_accumulation=3,
                     progress=False)
    assert len(log.steps) == 2
    assert log.steps[0]["tokens"] == sum(len(item["input_ids"]) for item in encode_items(FORGET, tok))


# ----- reproducibility -------------------------------------------------------------------------------
def test_same_seed_same_losses_other_seed_other_losses(tiny_tokenizer):
    from unlearnlab.models.tiny import build_tiny

    def losses(seed):
        model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
        _, log = unlearn(model, tiny_tokenizer, "random_label", FORGET, RETAIN, seed=seed, **QUICK)
        return log.series("loss")

    assert losses(0) == losses(0)
    assert losses(0) != losses(1)


def test_forget_retain_pairs_draw_retain_items_reproducibly():
    forget, retain = [{"i": i} for i in range(3)], [{"j": j} for j in range(50)]
    first = [ForgetRetainPairs(forget, retain, seed=7)[i]["retain"]["j"] for i in range(3)]
    again = [ForgetRetainPairs(forget, retain, seed=7)[i]["retain"]["j"] for i in range(3)]
    assert first == again and len(ForgetRetainPairs(forget, retain)) == 3  # an epoch = the forget set


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


def test_unknown_method_and_setting_name_the_closest_match(tiny_lm):
    model, tok = tiny_lm
    with pytest.raises(ValueError, match=r"unknown method 'graddif' \(did you mean 'graddiff'\?\); known methods"):
        unlearn(model, tok, "graddif", FORGET, RETAIN)
    with pytest.raises(TypeError, match=r"'learning_rte' \(did you mean 'learning_rate'\?\)"):
        unlearn(model, tok, "npo", FORGET, RETAIN, learning_rte=1e-3)


def test_empty_forget_and_missing_retain_fail_clearly(tiny_lm):
    model, tok = tiny_lm
    with pytest.raises(ValueError, match="non-empty forget set"):
        unlearn(model, tok, "npo", FORGET.select([]), RETAIN)
    with pytest.raises(ValueError, match=r"graddiff has a retain term .* or set alpha=0"):
        unlearn(model, tok, "graddiff", FORGET, None)


def test_overlap_and_unbounded_ascent_warn(tiny_lm):
    model, tok = tiny_lm
    overlapping = datasets.concatenate_datasets([RETAIN, FORGET.select([0])])
    with pytest.warns(UserWarning, match="1 forget item"):
        unlearn(model, tok, "graddiff", FORGET, overlapping, **QUICK)
    with pytest.warns(UserWarning, match="utility will collapse"):
        unlearn(model, tok, "ga", FORGET, **QUICK)


# ----- evaluation callback ---------------------------------------------------------------------------------
def test_eval_callback_runs_every_n_steps_and_at_the_end(tiny_lm):
    model, tok = tiny_lm
    before = forget_nll(model, tok)
    calls = []

    def evaluate(m):
        calls.append(m.training)
        return {"forget_nll": forget_nll(m, tok)}

    model, log = unlearn(model, tok, "descent", FORGET, eval_fn=evaluate, eval_every=2, max_steps=5,
                         batch_size=2, progress=False)
    assert [e["step"] for e in log.evals] == [0, 2, 4, 5]
    assert log.evals[0]["forget_nll"] == pytest.approx(before)
    assert log.evals[-1]["forget_nll"] == pytest.approx(forget_nll(model, tok))
    assert not any(calls)  # evaluated in eval mode


# ----- LoRA, the frozen reference and trainable subsets ------------------------------------------------------
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


def test_save_dir_holds_a_loadable_model(tiny_lm, tmp_path):
    from transformers import AutoModelForCausalLM

    model, tok = tiny_lm
    model, _ = unlearn(model, tok, "descent", FORGET, save_dir=str(tmp_path / "out"), **QUICK)
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), model.state_dict().values()))
    assert (tmp_path / "out" / "tokenizer.json").exists()


def test_text_items_are_supported(tiny_lm):
    model, tok = tiny_lm
    corpus = datasets.Dataset.from_list([{"text": "Ada Quillon was born in Lisbon."},
                                         {"text": "Ben Marrow writes mystery novels."}])
    _, log = unlearn(model, tok, "simnpo", corpus, alpha=0.0, **QUICK)
    assert len(log.steps) == 4 and all(math.isfinite(s["loss"]) for s in log.steps)


def test_unlearn_and_evaluate_are_at_the_top_level():
    import unlearnlab
    from unlearnlab.engine import unlearn as engine_unlearn
    from unlearnlab.eval import evaluate

    assert unlearnlab.unlearn is engine_unlearn and unlearnlab.evaluate is evaluate
    with pytest.raises(AttributeError):
        unlearnlab.no_such_thing
