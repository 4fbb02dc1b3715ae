"""The per-example views the notebooks use: answers side by side, memorisation, token losses, widgets."""
import math

import numpy as np
import pandas as pd
import pytest

from unlearnlab.notebook import answers_table
from unlearnlab.eval.results import EvalResult, ItemResult, SplitResult
from unlearnlab.eval.scoring import SequenceStats
from unlearnlab.notebook import memorisation_frame, token_losses
from unlearnlab.training import finetune

MEMORISE = dict(num_train_epochs=60, learning_rate=1e-2, per_device_train_batch_size=2, weight_decay=0.0,
                warmup_steps=0.05, lr_scheduler_type="cosine", disable_tqdm=True)

ITEMS = [
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
]


def test_answers_table_shows_what_a_trained_model_says(tiny_lm):
    model, tokenizer = tiny_lm
    untrained = answers_table({"before": model}, tokenizer, ITEMS, max_new_tokens=12)
    model, _ = finetune(model, tokenizer, ITEMS, **MEMORISE)
    table = answers_table({"after": model}, tokenizer, ITEMS, max_new_tokens=12, with_rouge=True)
    assert list(table["truth"]) == [i["answer"] for i in ITEMS]
    assert list(table["after"]) == list(table["truth"])  # memorised exactly
    assert (table["after ROUGE-L"] == 1.0).all()
    assert list(untrained["before"]) != list(table["truth"])
    with pytest.raises(ValueError, match="at least one item"):
        answers_table({"m": model}, tokenizer, [])


def test_token_losses_has_one_row_per_answer_token(tiny_lm):
    model, tokenizer = tiny_lm
    table = token_losses({"m": model}, tokenizer, ITEMS[0])
    n_answer = len(tokenizer(" " + ITEMS[0]["answer"], add_special_tokens=False)["input_ids"]) + 1  # + EOS
    assert len(table) == n_answer and (table["m"] > 0).all()
    assert "".join(table["token"][:-1]).strip() == ITEMS[0]["answer"]


def _result(name: str, nlls: dict[str, float], correct: dict[str, list[bool]]) -> EvalResult:
    items = [ItemResult(id=i, answer=SequenceStats(nll_mean=n, nll_sum=n * 4, n_tokens=4,
                                                   token_correct=correct[i])) for i, n in nlls.items()]
    return EvalResult(name=name, splits={"forget": SplitResult("forget", "forget10", items)})


def test_memorisation_frame_is_retrained_minus_target():
    target = _result("t", {"a1.genre": 0.1, "a1.award": 0.2}, {"a1.genre": [True] * 4, "a1.award": [False, True, True, True]})
    reference = _result("r", {"a1.genre": 0.5, "a1.award": 3.0}, {"a1.genre": [True] * 4, "a1.award": [False] * 4})
    frame = memorisation_frame(target, reference)
    assert isinstance(frame, pd.DataFrame) and list(frame["attribute"]) == ["genre", "award"]
    assert frame["counterfactual"].tolist() == pytest.approx([0.4 * 4, 2.8 * 4])  # summed over 4 tokens
    assert frame["exact_memorization"].tolist() == pytest.approx([1.0, 0.75])
    assert frame["extraction_strength"].tolist() == pytest.approx([1.0, 0.75])
    assert frame["retrained_exact_memorization"].tolist() == pytest.approx([1.0, 0.0])


def test_value_memorisation_is_the_per_token_gap_on_the_value_tokens_only(tiny_tokenizer):
    from unlearnlab.notebook.tables import value_positions

    answer, value = "Ada Quillon was born in Lisbon.", "Lisbon"
    positions = value_positions(tiny_tokenizer, value, answer)
    tokens = tiny_tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
    assert positions and tiny_tokenizer.decode([tokens[i] for i in positions]).strip() == value
    assert value_positions(tiny_tokenizer, "Paris", answer) == []

    n = len(tokens)
    def stats(logps):
        return SequenceStats(nll_mean=-sum(logps) / n, nll_sum=-sum(logps), n_tokens=n + 1, token_logprobs=logps,
                             token_correct=[True] * n)
    target = [-0.1] * n
    retrained = [-0.1 if i not in positions else -3.1 for i in range(n)]  # unsure only about the value
    items = [{"id": "a1.birthplace", "answer": answer, "value": value}]
    results = [EvalResult(name=m, splits={"forget": SplitResult("forget", "forget10", [
        ItemResult(id="a1.birthplace", answer=stats(lp))])}) for m, lp in (("t", target), ("r", retrained))]
    frame = memorisation_frame(*results, tokenizer=tiny_tokenizer, items=items)
    assert frame["value_tokens"].iloc[0] == len(positions)
    assert frame["value_memorisation"].iloc[0] == pytest.approx(3.0)  # nats per value token
    assert frame["counterfactual"].iloc[0] == pytest.approx(3.0 * len(positions))  # summed over the answer


def shown_by_explorers(monkeypatch) -> list:
    """Everything the explorers display from now on, in order (instead of sending it to a notebook)."""
    from unlearnlab.notebook.widgets import base

    shown = []
    monkeypatch.setattr(base, "display", shown.append)
    return shown


def test_answer_explorer_shows_answers_table_of_the_chosen_split(tiny_lm, monkeypatch):
    from unlearnlab.notebook.widgets import answer_explorer

    model, tokenizer = tiny_lm
    shown = shown_by_explorers(monkeypatch)
    box = answer_explorer({"m": model}, tokenizer, {"a": ITEMS, "b": ITEMS[1:]}, n=1)
    box.children[0].value = "b"
    assert len(shown) == 2  # the first split on creation, then the chosen one
    pd.testing.assert_frame_equal(shown[0], answers_table({"m": model}, tokenizer, ITEMS[:1]))
    pd.testing.assert_frame_equal(shown[1], answers_table({"m": model}, tokenizer, ITEMS[1:2]))


def test_token_loss_explorer_draws_token_losses_of_the_chosen_item(tiny_lm, monkeypatch):
    from unlearnlab.notebook.widgets import token_loss_explorer

    model, tokenizer = tiny_lm
    shown = shown_by_explorers(monkeypatch)
    token_loss_explorer({"m": model}, tokenizer, ITEMS).children[0].value = 1
    assert len(shown) == 2
    for figure, item in zip(shown, ITEMS):
        drawn = figure.axes[0].images[0].get_array().filled()  # the heatmap's cells: models × tokens
        expected = token_losses({"m": model}, tokenizer, item)[["m"]].to_numpy().T
        assert drawn.shape == expected.shape and drawn.ravel().tolist() == pytest.approx(expected.ravel().tolist(), rel=1e-5)


def test_answers_during_unlearning_records_each_checkpoint(tiny_lm):
    from unlearnlab.notebook import answers_during_unlearning
    from unlearnlab.notebook import step_explorer

    model, tokenizer = tiny_lm
    model, _ = finetune(model, tokenizer, ITEMS, **MEMORISE)
    model, log, snapshots = answers_during_unlearning(
        model, tokenizer, "ga", forget=ITEMS[:1], retain=ITEMS[1:], items=ITEMS, every=2,
        max_steps=6, learning_rate=5e-3, per_device_train_batch_size=1, max_new_tokens=12, disable_tqdm=True)
    assert sorted(snapshots) == [e["step"] for e in log.evals] == [0, 2, 4, 6]
    assert snapshots[0]["answer"].tolist() == [i["answer"] for i in ITEMS]  # memorised before
    assert snapshots[6]["answer ROUGE-L"][0] < 1.0  # the forget answer dissolved
    step_explorer(snapshots).children[0].value = 6


def test_answers_during_unlearning_adds_the_eval_fn_to_the_same_log(tiny_lm):
    from unlearnlab.eval import loss_probe
    from unlearnlab.notebook import answers_during_unlearning

    model, tokenizer = tiny_lm
    model, _ = finetune(model, tokenizer, ITEMS, **MEMORISE)
    _, log, snapshots = answers_during_unlearning(
        model, tokenizer, "ga", forget=ITEMS[:1], retain=ITEMS[1:], items=ITEMS[:1], every=3,
        eval_fn=loss_probe(tokenizer, forget=ITEMS[:1]), max_steps=6, learning_rate=5e-3,
        per_device_train_batch_size=1, max_new_tokens=8, disable_tqdm=True)
    assert sorted(snapshots) == [e["step"] for e in log.evals] == [0, 3, 6]
    assert all({"mean_rougeL_recall", "forget"} <= set(e) for e in log.evals)
    assert log.evals[-1]["forget"] > log.evals[0]["forget"]  # gradient ascent raised the forget loss


def test_run_explorer_shows_the_chosen_run(monkeypatch):
    from unlearnlab.notebook.widgets import run_explorer

    shown = shown_by_explorers(monkeypatch)
    tables = {0.0: pd.DataFrame({"answer": ["gone"]}), 1.0: pd.DataFrame({"answer": ["kept"]})}
    box = run_explorer(tables, "λ")
    assert box.children[0].options == (0.0, 1.0)
    box.children[0].value = 1.0
    assert [t["answer"][0] for t in shown] == ["gone", "kept"]


def test_npo_beta_explorer_draws_the_curves_of_the_chosen_beta(monkeypatch):
    import matplotlib.pyplot as plt
    import torch

    from unlearnlab.methods.preference import npo_gradient_weight, npo_loss
    from unlearnlab.notebook.widgets import npo_beta_explorer, training

    drawn = []  # the figure each render shows
    monkeypatch.setattr(training.plt, "show", lambda: drawn.append(plt.gcf()))
    box = npo_beta_explorer(betas=(0.1, 1.0))
    box.children[0].value = 1.0
    assert len(drawn) == 2  # β = 0.1 on creation, then β = 1
    for figure, beta in zip(drawn, (0.1, 1.0)):
        loss_ax, weight_ax = figure.axes
        npo_loss_line, npo_weight_line = loss_ax.lines[1], weight_ax.lines[1]  # after gradient ascent's
        assert npo_loss_line.get_label() == npo_weight_line.get_label() == f"NPO β={beta:g}"
        assert len([line for line in loss_ax.lines if line.get_label().startswith("NPO")]) == 1
        log_ratio = torch.tensor(npo_loss_line.get_xdata())
        assert npo_loss_line.get_ydata() == pytest.approx(npo_loss(log_ratio, beta).numpy(), rel=1e-5)
        assert npo_weight_line.get_ydata() == pytest.approx(npo_gradient_weight(log_ratio, beta).numpy(), rel=1e-5)
    plt.close("all")


def test_forget_loss_curves_plot_ga_and_npo_losses_and_weights():
    import matplotlib.pyplot as plt

    from unlearnlab.notebook import forget_loss_curves

    axes = forget_loss_curves(betas=(0.1, 1.0))
    assert [len(ax.lines) for ax in axes] == [4, 4]  # GA, two βs, the x = 0 marker
    weight = axes[1].lines[2].get_ydata()  # NPO with β = 1, from log-ratio −40 to 10
    assert weight[0] < 1e-6 and abs(weight[-1] - 2 / (1 + math.exp(-10))) < 1e-4
    plt.close("all")


def test_log_ratios_are_differences_of_summed_answer_nll():
    from unlearnlab.notebook import log_ratios

    def result(nlls):
        items = [ItemResult(id=f"a{i}", answer=SequenceStats(n / 2, n, 2)) for i, n in enumerate(nlls)]
        return EvalResult(name="m", splits={"forget": SplitResult(name="forget", source="forget10", items=items)})

    ratios = log_ratios(result([9.0, 2.0]), result([1.0, 2.0]))
    assert ratios.to_dict() == {"a0": -8.0, "a1": 0.0}


def test_loss_probe_reports_the_mean_answer_loss_of_each_set(tiny_lm):
    import torch

    from unlearnlab.formats import encode_qa, pad_batch
    from unlearnlab.eval.probes import loss_probe, mean_answer_loss
    from unlearnlab.numerics import mean_nll

    model, tokenizer = tiny_lm
    batch = pad_batch([encode_qa(tokenizer, r["question"], r["answer"]) for r in ITEMS], tokenizer.pad_token_id)
    with torch.no_grad():
        expected = mean_nll(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                            batch["labels"]).item()
    probe = loss_probe(tokenizer, both=ITEMS, first=ITEMS[:1])
    losses = probe(model)
    assert losses["both"] == pytest.approx(expected, rel=1e-5) and set(losses) == {"both", "first"}
    # batching does not change the mean (it is over tokens, not over batches)
    assert mean_answer_loss(model, tokenizer, ITEMS, batch_size=1) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        loss_probe(tokenizer, forget=[])


def test_activation_probe_is_the_mean_token_norm_of_the_layer_output(tiny_lm):
    import torch

    from unlearnlab.eval.probes import activation_probe, mean_activation_norm
    from unlearnlab.formats import encode_qa, pad_batch

    model, tokenizer = tiny_lm
    rows = [encode_qa(tokenizer, r["question"], r["answer"]) for r in ITEMS]
    batch = pad_batch(rows, tokenizer.pad_token_id)
    with torch.no_grad():  # hidden_states[l + 1] is the output of decoder layer l
        hidden = model(**{k: batch[k] for k in ("input_ids", "attention_mask")}, output_hidden_states=True)
    expected = hidden.hidden_states[1][batch["attention_mask"].bool()].norm(dim=-1).mean().item()
    assert mean_activation_norm(model, tokenizer, ITEMS, layer=0) == pytest.approx(expected, rel=1e-5)
    # batching and padding do not change it: padded positions are left out
    assert mean_activation_norm(model, tokenizer, ITEMS, layer=0, batch_size=1) == pytest.approx(expected, rel=1e-5)
    norms = activation_probe(tokenizer, 1, forget=ITEMS[:1], retain=ITEMS[1:])(model)
    assert set(norms) == {"forget", "retain"} and norms["forget"] != norms["retain"]
    with pytest.raises(ValueError, match="non-empty"):
        activation_probe(tokenizer, 0, forget=[])


def fake_trace(p_clean=0.9, p_corrupt=0.2):
    """What :func:`unlearnlab.localize.trace_fact` returns, for 2 blocks and 4 tokens (subject at 1 and 2)."""
    from types import SimpleNamespace

    import torch

    restored = torch.tensor([[0.1, 0.8, 0.2, 0.3], [0.2, 0.3, 0.4, 0.9], [0.2, 0.2, 0.3, 0.5]])
    prompt = SimpleNamespace(tokens=["Where", "ĠAmir", "ĠBravby", "?"], subject_positions=[1, 2])
    return SimpleNamespace(prompt=prompt, restored=restored, p_clean=p_clean, p_corrupt=p_corrupt)


def test_trace_heatmap_draws_the_restored_probabilities_with_the_subject_marked():
    import matplotlib.pyplot as plt

    from unlearnlab.notebook import COLORS, trace_heatmap

    trace = fake_trace()
    ax = trace_heatmap(trace)
    assert np.allclose(ax.images[0].get_array(), trace.restored.numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["embeddings", "block 0", "block 1"]
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == ["Where", " Amir", " Bravby", "?"]
    forget = COLORS["forget"]
    assert [labels[i].get_color() == forget for i in range(4)] == [False, True, True, False]
    assert "0.90" in ax.get_title() and "0.20" in ax.get_title()
    plt.close("all")


def test_figure_explorer_draws_the_chosen_option(monkeypatch):
    import matplotlib.pyplot as plt

    from unlearnlab.notebook.widgets import figure_explorer, figures, trace_explorer

    monkeypatch.setattr(figures.plt, "show", lambda: None)
    drawn = []
    box = figure_explorer([1e-4, 1e-3], drawn.append, "λ", slider=True)
    box.children[0].value = 1e-3
    assert drawn == [1e-4, 1e-3]
    box = trace_explorer({"a": fake_trace(p_clean=0.5), "b": fake_trace(p_clean=0.7)})
    box.children[0].value = "b"
    assert box.children[0].options == ("a", "b") and "0.70" in plt.gca().get_title()
    plt.close("all")
