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
