"""Chapter 07's localisation tools: causal tracing (and, below, the saliency map)."""
from __future__ import annotations

import torch

from unlearnlab.localize import tracing
from unlearnlab.localize.saliency import saliency_by_module
from unlearnlab.training.masks import saliency_masks

ITEM = {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon.",
        "value": "Lisbon", "author": "Ada Quillon"}


def test_fact_prompt_finds_the_subject_and_stops_before_the_value(tiny_lm):
    model, tok = tiny_lm
    fact = tracing.fact_prompt(tok, ITEM)
    text = tok.decode(fact.input_ids, skip_special_tokens=True)
    assert text.endswith("born in") and "Lisbon" not in text
    assert tok.decode([fact.target_id]).strip().startswith(tok.decode(tok(" Lisbon", add_special_tokens=False)["input_ids"][:1]).strip())
    named = tok.decode([fact.input_ids[i] for i in fact.subject_positions])
    assert named.count("Ada") == 2, "both the question's and the answer's name are the subject"
    assert len(fact.groups) == len(fact.input_ids) and fact.groups[-1] == "last token"


def test_no_noise_means_no_effect(tiny_lm):
    model, tok = tiny_lm
    trace = tracing.trace_fact(model, tok, ITEM, samples=1, noise_scale=0.0)
    assert abs(trace.p_corrupt - trace.p_clean) < 1e-6
    assert torch.allclose(trace.restored, torch.full_like(trace.restored, trace.p_clean), atol=1e-6)


def test_restoring_the_last_layer_at_every_position_recovers_the_clean_run(tiny_lm):
    model, tok = tiny_lm
    model.eval()
    fact = tracing.fact_prompt(tok, ITEM)
    ids = torch.tensor([fact.input_ids])
    clean, logits = tracing.clean_states(model, ids)
    noise = 10 * torch.randn(len(fact.subject_positions), clean[0].shape[-1], generator=torch.Generator().manual_seed(0))
    everything = list(range(ids.shape[1]))
    out = tracing.corrupted_run(model, ids, fact.subject_positions, noise, [(len(clean) - 1, everything)], clean)
    assert not torch.allclose(out[0], logits, atol=1e-3), "the noise changes the prediction"
    assert torch.allclose(out[1], logits, atol=1e-5), "the last block's clean output fixes everything after it"
    # restoring the embeddings everywhere undoes the corruption too, for every kind of trace
    for kind in tracing.TRACE_KINDS:
        states, _ = tracing.clean_states(model, ids, kind)
        again = tracing.corrupted_run(model, ids, fact.subject_positions, noise, [(0, everything)], states, kind)
        assert torch.allclose(again[1], logits, atol=1e-5)


def test_trace_shape_and_groups(tiny_lm):
    model, tok = tiny_lm
    trace = tracing.trace_fact(model, tok, ITEM, samples=2)
    assert trace.restored.shape == (model.config.num_hidden_layers + 1, len(trace.prompt.input_ids))
    grouped = trace.by_group()
    assert grouped.shape == (model.config.num_hidden_layers + 1, len(tracing.POSITION_GROUPS))
    summary = tracing.average_traces([trace, trace])
    assert torch.allclose(summary["restored"], grouped, equal_nan=True)


def test_saliency_by_module_counts_every_entry(tiny_lm):
    model, _ = tiny_lm
    grads = {n: torch.rand_like(p) for n, p in model.named_parameters()}
    masks = saliency_masks(grads, 0.25)
    table = saliency_by_module(masks)
    assert table["total"].sum() == sum(p.numel() for p in model.parameters())
    assert abs(table["kept"].sum() / table["total"].sum() - 0.25) < 0.01
    assert ("0", "down_proj") in table.index


def test_rank_one_update_writes_the_value_and_spares_c_orthogonal_keys():
    from unlearnlab.localize.editing import rank_one_update
    gen = torch.Generator().manual_seed(0)
    d, m = 6, 10
    w = torch.randn(d, m, generator=gen, dtype=torch.float64)
    samples = torch.randn(200, m, generator=gen, dtype=torch.float64)
    c = samples.T @ samples / 200
    k, v = torch.randn(m, generator=gen, dtype=torch.float64), torch.randn(d, generator=gen, dtype=torch.float64)
    delta = rank_one_update(w, k, v, c).double()
    assert torch.allclose((w + delta) @ k, v, atol=1e-5), "W k = v after the edit"
    other = torch.randn(m, generator=gen, dtype=torch.float64)
    c_inv_k = torch.linalg.solve(c, k)
    orthogonal = other - (other @ c_inv_k) / (k @ c_inv_k) * k  # now k^T C^-1 orthogonal = 0
    assert abs(float(orthogonal @ c_inv_k)) < 1e-8
    assert torch.allclose((w + delta) @ orthogonal, w @ orthogonal, atol=1e-5), "C-orthogonal keys keep their values"
    assert torch.linalg.matrix_rank(delta) == 1


def test_apply_edit_on_a_model_hits_the_value(tiny_lm):
    from unlearnlab.localize import editing
    model, tok = tiny_lm
    model.eval()
    c = editing.key_second_moment(model, tok, [ITEM, {**ITEM, "question": "Who is Ada Quillon?"}], layer=0)
    key, value, nll = editing.optimise_value(model, tok, ITEM, "Paris", layer=0, steps=3)
    assert key.shape == (model.config.intermediate_size,) and value.shape == (model.config.hidden_size,)
    assert nll > 0
    edit = editing.apply_edit(model, 0, key, value, c)
    assert torch.allclose(editing.down_proj(model, 0).weight.float() @ key, value, atol=1e-3)
    assert torch.allclose(editing.fact_keys(model, tok, [ITEM], 0)[0], key, atol=1e-5), "the key is read before the edit"
    assert edit.delta.shape == editing.down_proj(model, 0).weight.shape



def _p_next(model, tok, item, token_id: int) -> tuple[float, int]:
    """p(token_id) and the argmax at the traced prompt's last position."""
    fact = tracing.fact_prompt(tok, item)
    with torch.no_grad():
        p = model(input_ids=torch.tensor([fact.input_ids])).logits[0, -1].softmax(-1)
    return float(p[token_id]), int(p.argmax())


def _trained_scale(model):
    """A fresh model's (tied) output rows have norm ~0.16, too short for any token to win clearly after the
    final norm; a trained model's are ~1.  Scale them up so the edit's target is reachable, as it is there."""
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(10)
    return model


def test_optimise_value_installs_the_new_token_as_the_argmax(tiny_lm):
    """The optimised value must *install* the new answer, not only remove the old one (p > 0.5, top token)."""
    from unlearnlab.localize import editing
    model, tok = tiny_lm
    _trained_scale(model).eval()
    paris = tok(" Paris", add_special_tokens=False)["input_ids"][0]
    assert editing.output_ceiling(model, paris) > 0.9, "the scaled model can say ' Paris'"
    # a fresh MLP writes almost nothing (‖W k‖ ≈ 0.02), so ROME's clamp at 4‖W k‖ would bind; the chapter's
    # trained model writes ‖W k‖ ≈ 66 and needs about 1.3 times that, so there the default clamp is slack
    key, value, nll = editing.optimise_value(model, tok, ITEM, "Paris", layer=0, max_norm=float("inf"))
    assert nll < 0.1, f"the optimisation stalled at {nll:.2f} nats"
    c = editing.key_second_moment(model, tok, [ITEM, {**ITEM, "question": "Who is Ada Quillon?"}], layer=0)
    editing.apply_edit(model, 0, key, value, c)
    p, top = _p_next(model, tok, ITEM, paris)
    assert top == paris and p > 0.5, (p, top)


def test_optimise_value_stops_early_clamps_and_reports_the_nll_of_what_it_returns(tiny_lm):
    from unlearnlab.localize import editing
    model, tok = tiny_lm
    model.eval()
    key, value, nll = editing.optimise_value(model, tok, ITEM, "Paris", layer=0, stop_nll=1e3)
    w = editing.down_proj(model, 0).weight.float()
    assert torch.equal(value, w @ key), "a target reached at step 0 means δ = 0"
    paris = tok(" Paris", add_special_tokens=False)["input_ids"][0]
    assert abs(nll + torch.log(torch.tensor(_p_next(model, tok, ITEM, paris)[0])).item()) < 1e-4
    _, clamped, _ = editing.optimise_value(model, tok, ITEM, "Paris", layer=0, steps=20, max_norm=0.1)
    assert (clamped - w @ key).norm() <= 0.1 * (w @ key).norm() * (1 + 1e-5), "‖δ‖ is clamped"


def test_output_ceiling_bounds_what_the_model_and_any_edit_can_reach(tiny_lm):
    """Unscaled, the fresh model's rows are short: the ceiling is low and the optimisation stalls under it."""
    from unlearnlab.localize import editing
    model, tok = tiny_lm
    model.eval()
    for word in ("Lisbon", "Paris"):
        token = tok(" " + word, add_special_tokens=False)["input_ids"][0]
        assert len(tok(" " + word, add_special_tokens=False)["input_ids"]) == 1
        ceiling = editing.output_ceiling(model, token)
        assert ceiling < 0.1, "a fresh model's short rows let no token win clearly"
        assert _p_next(model, tok, ITEM, token)[0] <= ceiling + 1e-6
        _, _, nll = editing.optimise_value(model, tok, ITEM, word, layer=1, steps=30)
        assert torch.exp(torch.tensor(-nll)).item() <= ceiling + 1e-4, "no δ beats the ceiling"
