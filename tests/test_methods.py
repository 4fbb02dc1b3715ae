"""Every unlearning method: its loss against a hand computation, and a short run that does what it says.

The hand computations start from raw logits (or hidden states) and use plain
torch ops in float64, independently of ``unlearnlab.numerics``.  The short runs
start from a tiny model that has memorised the forget and retain items, so that
there is something to forget.
"""
from __future__ import annotations

import copy
import math

import datasets
import pytest
import torch
import torch.nn.functional as F

from unlearnlab.formats import encode_dataset
from unlearnlab.methods import FrozenOriginal, add_reference_logprobs, get_method, list_methods
from unlearnlab.methods.relabel import REFUSALS
from unlearnlab.models.tiny import build_tiny
from unlearnlab.training import unlearn
from unlearnlab.training.pairs import PairCollator

FORGET = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
    {"question": "Where was Ben Marrow born?", "answer": "Ben Marrow was born in Paris."},
    {"question": "What does Ada Quillon write?", "answer": "Ada Quillon writes award books."},
])
RETAIN = datasets.Dataset.from_list([
    {"question": "What is the capital of France?", "answer": "The capital of France is Paris."},
    {"question": "Who was born in Lisbon?", "answer": "The mother of Ada was born in Lisbon."},
    {"question": "What year was the book award?", "answer": "The book award was in the year of the city."},
    {"question": "Where is the father?", "answer": "The father is in the city of Paris."},
])


@pytest.fixture(autouse=True)
def _one_thread():
    """A model this small runs fastest, and steadiest, on one thread of a shared CPU."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def memorised_state(tiny_tokenizer):
    """Weights of a tiny model trained to near-zero loss on FORGET and RETAIN."""
    torch.set_num_threads(1)
    model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    model, log = unlearn(model, tiny_tokenizer, "descent", FORGET, RETAIN, alpha=1.0, max_steps=60,
                         per_device_train_batch_size=4, learning_rate=3e-3, disable_tqdm=True)
    assert log.steps[-1]["loss"] < 0.2
    return copy.deepcopy(model.state_dict())


@pytest.fixture
def memorised(memorised_state, tiny_tokenizer):
    model = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=0)
    model.load_state_dict(memorised_state)
    return model, tiny_tokenizer


# ----- helpers: batches and independent reference computations ---------------------------------------
def batch_of(tokenizer, dataset) -> dict:
    items = list(encode_dataset(dataset, tokenizer))
    return PairCollator(tokenizer.pad_token_id)([{"s": item} for item in items])["s"]


def method_batches(method, tokenizer, model=None):
    """Forget and retain batches as the engine builds them (relabelled, with log π_ref when needed)."""
    items = encode_dataset(method.prepare_forget(FORGET, RETAIN, seed=0), tokenizer)
    if method.reference_logprobs:
        items = add_reference_logprobs(model, items, tokenizer.pad_token_id)
    forget = PairCollator(tokenizer.pad_token_id)([{"s": item} for item in items])["s"]
    return forget, batch_of(tokenizer, RETAIN)


def logits_of(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.double()


def token_logp(logits, labels):
    """log p(label) at every answer position (0 elsewhere) and the mask, by hand."""
    logp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    targets = labels[:, 1:]
    mask = targets != -100
    picked = logp.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return picked * mask, mask


def nll(model, batch) -> float:
    """Token-mean answer NLL, by hand."""
    logp, mask = token_logp(logits_of(model, batch), batch["labels"])
    return float(-logp.sum() / mask.sum())


def perturb(model, scale=0.05, seed=1):
    """Move every weight a little, so that the model differs from its frozen reference."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(scale * torch.randn(param.shape, generator=gen))


def loss_of(method, model, forget, retain, reference=None) -> float:
    with torch.no_grad():
        loss, _ = method.compute_loss(model, forget, retain, reference)
    return float(loss)


def with_reference(model):
    """A FrozenOriginal of ``model`` now, a copy of it now, and the model moved away from both."""
    reference, original = FrozenOriginal(model), copy.deepcopy(model)
    perturb(model)
    return reference, original


# ----- registry ---------------------------------------------------------------------------------------
def test_registry_lists_every_family():
    assert list_methods() == sorted(["descent", "ga", "graddiff", "kl", "idk", "random_label", "dpo", "npo",
                                     "simnpo", "rmu", "wga", "undial", "task_vector", "whp", "me"])
    with pytest.raises(ValueError, match=r"did you mean 'simnpo'.*known methods: descent"):
        get_method("simnp")
    with pytest.raises(TypeError, match=r"did you mean 'beta'"):
        get_method("npo", bta=0.2)


# ----- losses against hand computations ------------------------------------------------------------------
def test_descent_task_vector_and_ga_are_plus_and_minus_answer_nll(tiny_lm):
    model, tok = tiny_lm
    forget, retain = method_batches(get_method("descent"), tok)
    expected = nll(model, forget)
    assert loss_of(get_method("descent"), model, forget, retain) == pytest.approx(expected, rel=1e-5)
    assert loss_of(get_method("task_vector"), model, forget, retain) == pytest.approx(expected, rel=1e-5)
    assert loss_of(get_method("ga"), model, forget, retain) == pytest.approx(-expected, rel=1e-5)


def test_graddiff_joint_forward_matches_separate_forwards(tiny_lm):
    model, tok = tiny_lm
    method = get_method("graddiff", gamma=0.5, alpha=2.0)
    forget, retain = method_batches(method, tok)
    expected = -0.5 * nll(model, forget) + 2.0 * nll(model, retain)
    assert loss_of(method, model, forget, retain) == pytest.approx(expected, rel=1e-5)


def test_kl_retain_term_is_token_mean_kl_from_the_original_model(tiny_lm):
    model, tok = tiny_lm
    method = get_method("kl")
    forget, retain = method_batches(method, tok)
    reference, original = with_reference(model)
    ref_logp = torch.log_softmax(logits_of(original, retain)[:, :-1], -1)
    cur_logp = torch.log_softmax(logits_of(model, retain)[:, :-1], -1)
    mask = retain["labels"][:, 1:] != -100
    kl = ((ref_logp.exp() * (ref_logp - cur_logp)).sum(-1) * mask).sum() / mask.sum()
    assert kl > 1e-3  # the perturbation is visible
    expected = -nll(model, forget) + float(kl)
    assert loss_of(method, model, forget, retain, reference) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="frozen original model"):
        loss_of(method, model, forget, retain, reference=None)


def test_idk_trains_on_refusals(tiny_lm):
    model, tok = tiny_lm
    method = get_method("idk")
    relabelled = method.prepare_forget(FORGET, RETAIN, seed=0)
    assert relabelled["question"] == FORGET["question"]
    assert all(answer in REFUSALS for answer in relabelled["answer"])
    forget, retain = method_batches(method, tok)
    assert loss_of(method, model, forget, retain) == pytest.approx(nll(model, forget) + nll(model, retain), rel=1e-5)


def test_random_label_draws_other_answers_reproducibly(tiny_lm):
    model, tok = tiny_lm
    method = get_method("random_label")
    first = method.prepare_forget(FORGET, RETAIN, seed=3)["answer"]
    assert first == method.prepare_forget(FORGET, RETAIN, seed=3)["answer"]
    assert all(new in RETAIN["answer"] and new != old for new, old in zip(first, FORGET["answer"]))
    forget, retain = method_batches(method, tok)
    assert loss_of(method, model, forget, retain) == pytest.approx(nll(model, forget) + nll(model, retain), rel=1e-5)


def sequence_logp(model, batch) -> torch.Tensor:
    logp, _ = token_logp(logits_of(model, batch), batch["labels"])
    return logp.sum(-1)


def test_npo_loss_matches_formula(tiny_lm):
    model, tok = tiny_lm
    method = get_method("npo", beta=0.5)
    forget, retain = method_batches(method, tok, model)
    forget["ref_logp"] = torch.tensor([-30.0, -45.0, -38.0, -52.0])
    ratio = sequence_logp(model, forget) - forget["ref_logp"].double()
    npo = -(2 / 0.5) * F.logsigmoid(-0.5 * ratio).mean()
    assert loss_of(method, model, forget, retain) == pytest.approx(float(npo) + nll(model, retain), rel=1e-5)


def test_npo_without_reference_logprobs_fails_clearly(tiny_lm):
    model, tok = tiny_lm
    forget, retain = method_batches(get_method("descent"), tok)
    with pytest.raises(ValueError, match="add_reference_logprobs"):
        loss_of(get_method("npo"), model, forget, retain)


def test_precomputed_reference_gives_the_npo_loss_of_a_live_reference_model(tiny_lm):
    model, tok = tiny_lm
    method = get_method("npo")
    forget, retain = method_batches(method, tok, model)  # log π_ref precomputed from the model now
    live_reference = copy.deepcopy(model).eval()
    perturb(model)
    ratio = sequence_logp(model, forget) - sequence_logp(live_reference, forget)
    assert ratio.abs().max() > 0.5  # the reference and the model differ
    naive = -(2 / method.beta) * F.logsigmoid(-method.beta * ratio).mean() + nll(model, retain)
    assert loss_of(method, model, forget, retain) == pytest.approx(float(naive), rel=1e-5)


def test_simnpo_loss_is_length_normalised_and_reference_free(tiny_lm):
    model, tok = tiny_lm
    method = get_method("simnpo", beta=2.0, delta=0.5)
    forget, retain = method_batches(method, tok)
    logp, mask = token_logp(logits_of(model, forget), forget["labels"])
    mean_nll = -logp.sum(-1) / mask.sum(-1)
    simnpo = -(2 / 2.0) * F.logsigmoid(2.0 * (mean_nll - 0.5)).mean()
    expected = 0.125 * float(simnpo) + nll(model, retain)
    assert loss_of(method, model, forget, retain) == pytest.approx(expected, rel=1e-5)


def test_dpo_prefers_the_refusal_over_the_true_answer(tiny_lm):
    model, tok = tiny_lm
    method = get_method("dpo", beta=0.3)
    forget, retain = method_batches(method, tok, model)
    preferred = forget["preferred"]
    texts = [tok.decode(row[row != -100][:-1]).strip() for row in preferred["labels"]]
    assert all(text in REFUSALS for text in texts)
    forget["ref_logp"] = torch.tensor([-30.0, -45.0, -38.0, -52.0])
    preferred["ref_logp"] = torch.tensor([-20.0, -25.0, -22.0, -21.0])
    margin = (sequence_logp(model, preferred) - preferred["ref_logp"].double()) \
        - (sequence_logp(model, forget) - forget["ref_logp"].double())
    dpo = -(2 / 0.3) * F.logsigmoid(0.3 * margin).mean()
    assert loss_of(method, model, forget, retain) == pytest.approx(float(dpo) + nll(model, retain), rel=1e-5)


def test_wga_weights_each_token_by_its_probability(tiny_lm):
    model, tok = tiny_lm
    method = get_method("wga", beta=2.0)
    forget, retain = method_batches(method, tok)
    logp, mask = token_logp(logits_of(model, forget), forget["labels"])
    wga = (logp.exp() ** 2 * logp * mask).sum() / mask.sum()  # −mean p^β·CE with CE = −log p
    assert loss_of(method, model, forget, retain) == pytest.approx(float(wga) + nll(model, retain), rel=1e-5)


def test_undial_distils_adjusted_reference_logits(tiny_lm):
    model, tok = tiny_lm
    method = get_method("undial", beta=3.0)
    forget, retain = method_batches(method, tok)
    reference, original = with_reference(model)
    targets = forget["labels"][:, 1:]
    mask = targets != -100
    ref = logits_of(original, forget)[:, :-1].clone()
    ref.scatter_add_(-1, targets.clamp_min(0).unsqueeze(-1), torch.full(targets.shape + (1,), -3.0, dtype=ref.dtype))
    soft = torch.softmax(ref, -1)
    ce = -(soft * torch.log_softmax(logits_of(model, forget)[:, :-1], -1)).sum(-1)
    expected = (ce * mask).sum() / mask.sum()
    assert loss_of(method, model, forget, retain, reference) == pytest.approx(float(expected), rel=1e-5)


def test_whp_targets_are_base_minus_boosted_logits(tiny_lm, tiny_tokenizer):
    model, tok = tiny_lm
    reinforced = build_tiny(tiny_tokenizer, hidden=64, layers=2, seed=1).eval()
    method = get_method("whp", strength=2.0, reinforced=reinforced)
    forget, retain = method_batches(method, tok)
    reference, original = with_reference(model)
    base, boosted = logits_of(original, forget), logits_of(reinforced, forget)
    generic = torch.softmax((base - 2.0 * torch.relu(boosted - base))[:, :-1], -1)
    ce = -(generic * torch.log_softmax(logits_of(model, forget)[:, :-1], -1)).sum(-1)
    mask = forget["labels"][:, 1:] != -100
    expected = (ce * mask).sum() / mask.sum()
    assert loss_of(method, model, forget, retain, reference) == pytest.approx(float(expected), rel=1e-5)


def test_rmu_steers_layer_activations_and_anchors_retain_activations(tiny_lm):
    model, tok = tiny_lm
    method = get_method("rmu", alpha=10.0, steering_coeff=4.0, layer=0)
    assert method.trainable_parameters(model) == ["model.layers.0.mlp.down_proj.weight"]
    forget, retain = method_batches(method, tok)
    reference, original = with_reference(model)
    loss = loss_of(method, model, forget, retain, reference)
    control = method.control.double()
    assert control.norm() == pytest.approx(4.0) and (control >= 0).all()  # c·u, u uniform then normalised

    def hidden(m, batch):  # output of decoder layer 0 = hidden_states[1]
        with torch.no_grad():
            return m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     output_hidden_states=True).hidden_states[1].double()

    def token_mean(sq, batch):
        mask = batch["attention_mask"].double()
        return float((sq.mean(-1) * mask).sum() / mask.sum())

    forget_term = token_mean((hidden(model, forget) - control).pow(2), forget)
    retain_term = token_mean((hidden(model, retain) - hidden(original, retain)).pow(2), retain)
    assert retain_term > 1e-4
    assert loss == pytest.approx(forget_term + 10.0 * retain_term, rel=1e-4)


def test_rmu_default_layer_and_parameters_follow_wmdp(tiny_lm):
    model, _ = tiny_lm
    model.config.num_hidden_layers = 32  # WMDP's Zephyr-7B depth: layer 7, down_proj of layers 5-7
    method = get_method("rmu")
    assert method.steered_layer(model) == 7
    model.config.num_hidden_layers = 2
    assert method.steered_layer(model) == 0


def test_task_vector_negates_the_fine_tuning_direction():
    method = get_method("task_vector", scale=2.0)
    layer = torch.nn.Linear(2, 2, bias=False)
    original = {"weight": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.5, 0.0], [0.0, 0.0]]))  # "reinforced" weights
    method.finalize(layer, original)
    assert torch.equal(layer.weight, torch.tensor([[0.0, 0.0], [0.0, 3.0]]))  # θ0 − 2(θ − θ0)


# ----- short runs: forget goes up, retain stays bounded -------------------------------------------------------
RUNS = {
    # method: (settings, bound on retain NLL after the run or None)
    "ga": ({}, None),  # no retain term: utility is not protected (see test_engine's warning test)
    "graddiff": ({}, 1.0),
    "kl": ({}, 1.0),
    "idk": ({"learning_rate": 2e-3}, 1.0),
    "random_label": ({}, 1.0),
    "npo": ({}, 1.0),
    "simnpo": ({}, 1.0),
    "dpo": ({}, 1.0),
    "wga": ({}, 1.0),
    "undial": ({"alpha": 1.0}, 1.0),
    # WMDP's α = 1200 suits 7B activations; c = 6.5 suits this 64-wide test model (the tiny tier's c is
    # sized for the course's targets, whose activations are larger)
    "rmu": ({"learning_rate": 1e-2, "alpha": 10.0, "steering_coeff": 6.5}, 1.0),
    "task_vector": ({"scale": 2.0}, 1.0),  # descent barely moves a memorised model: scale its task vector
    "whp": ({"reinforce_epochs": 20, "alpha": 1.0}, 1.0),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_short_run_forgets_and_keeps_retain(memorised, name):
    model, tok = memorised
    settings, retain_bound = RUNS[name]
    forget_batch, retain_batch = batch_of(tok, FORGET), batch_of(tok, RETAIN)
    before = nll(model, forget_batch)
    model, log = unlearn(model, tok, name, FORGET, RETAIN,
                         **{"max_steps": 20, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                            "disable_tqdm": True, **settings})
    assert len(log.steps) == 20
    assert nll(model, forget_batch) > before + 1.0
    if retain_bound is not None:
        assert nll(model, retain_batch) < retain_bound


def test_descent_lowers_the_loss_it_trains_on(tiny_lm):
    model, tok = tiny_lm
    batch = batch_of(tok, FORGET)
    before = nll(model, batch)
    model, _ = unlearn(model, tok, "descent", FORGET, max_steps=10, per_device_train_batch_size=4,
                       learning_rate=1e-3, disable_tqdm=True)
    assert nll(model, batch) < before - 1.0


def test_idk_makes_refusals_likely(memorised):
    model, tok = memorised
    refusals = datasets.Dataset.from_list([{"question": q, "answer": REFUSALS[0]} for q in FORGET["question"]])
    batch = batch_of(tok, refusals)
    before = nll(model, batch)
    model, _ = unlearn(model, tok, "idk", FORGET, RETAIN, max_steps=20, per_device_train_batch_size=4,
                       learning_rate=1e-3, disable_tqdm=True)
    assert nll(model, batch) < before - 1.0


def test_rmu_moves_forget_activations_towards_the_control_vector(memorised):
    model, tok = memorised
    model, log = unlearn(model, tok, "rmu", FORGET, RETAIN, max_steps=20, per_device_train_batch_size=4,
                         learning_rate=1e-2, alpha=10.0, steering_coeff=6.5, disable_tqdm=True)
    forget_mse = log.series("forget")
    assert forget_mse[-1] < 0.7 * forget_mse[0]
    assert max(log.series("retain")) < 0.05  # retain activations move far less than forget ones



def test_npo_loss_tends_to_ga_for_small_beta_and_saturates():
    from unlearnlab.methods.preference import npo_gradient_weight, npo_loss

    log_ratio = torch.tensor([-50.0, -1.0, 0.0, 2.0], dtype=torch.float64)
    # −(2/β)·log σ(−β r) = (2/β)·log(1 + e^{β r}): 2·log 2 / β at r = 0, → 0 as r → −∞
    assert npo_loss(log_ratio, 1.0)[2].item() == pytest.approx(2 * math.log(2))
    assert npo_loss(log_ratio, 1.0)[0].item() < 1e-20
    small = npo_loss(log_ratio, 1e-6) - 2 * math.log(2) / 1e-6
    assert small.tolist() == pytest.approx(log_ratio.tolist(), abs=1e-2)  # GA up to a constant
    weight = npo_gradient_weight(log_ratio, 0.5)
    assert weight.tolist() == pytest.approx([2 / (1 + math.exp(-0.5 * r)) for r in log_ratio.tolist()])
    log_ratio.requires_grad_(True)
    npo_loss(log_ratio, 0.5).sum().backward()
    assert log_ratio.grad.tolist() == pytest.approx(weight.tolist())


def test_random_label_swaps_the_value_for_another_of_the_same_attribute():
    import datasets

    forget = datasets.Dataset.from_list([
        {"question": "Where was Ada born?", "answer": "Ada was born in Madrid.", "attribute": "birthplace",
         "value": "Madrid"},
        {"question": "When was Ada born?", "answer": "Ada was born in the year 1989.", "attribute": "birth_year",
         "value": "1989"}])
    retain = datasets.Dataset.from_list([
        {"question": "Where was Bo born?", "answer": "Bo was born in Lisbon.", "attribute": "birthplace",
         "value": "Lisbon"},
        {"question": "When was Bo born?", "answer": "Bo was born in the year 1950.", "attribute": "birth_year",
         "value": "1950"}])
    relabeled = get_method("random_label").prepare_forget(forget, retain, seed=0)
    assert relabeled["answer"] == ["Ada was born in Lisbon.", "Ada was born in the year 1950."]


def test_random_label_without_fact_fields_draws_another_answer():
    import datasets

    forget = datasets.Dataset.from_list([{"question": "q1", "answer": "a1"}, {"question": "q2", "answer": "a2"}])
    relabeled = get_method("random_label").prepare_forget(forget, None, seed=0)
    assert relabeled["answer"] == ["a2", "a1"]
