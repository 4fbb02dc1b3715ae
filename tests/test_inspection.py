"""The per-example views the notebooks use: answers side by side, memorisation, token losses, widgets."""
import pandas as pd
import pytest

from unlearnlab.answers import answers_table
from unlearnlab.eval.results import EvalResult, ItemResult, SplitResult
from unlearnlab.eval.scoring import SequenceStats
from unlearnlab.per_example import memorisation_frame, token_losses
from unlearnlab.train import finetune

ITEMS = [
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
]


def test_answers_table_shows_what_a_trained_model_says(tiny_lm):
    model, tokenizer = tiny_lm
    untrained = answers_table({"before": model}, tokenizer, ITEMS, max_new_tokens=12)
    model, _ = finetune(model, tokenizer, ITEMS, epochs=60, learning_rate=1e-2, batch_size=2,
                        weight_decay=0.0, progress=False)
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


def test_memorisation_frame_is_reference_minus_target():
    target = _result("t", {"a1.genre": 0.1, "a1.award": 0.2}, {"a1.genre": [True] * 4, "a1.award": [False, True, True, True]})
    reference = _result("r", {"a1.genre": 0.5, "a1.award": 3.0}, {"a1.genre": [True] * 4, "a1.award": [False] * 4})
    frame = memorisation_frame(target, reference)
    assert isinstance(frame, pd.DataFrame) and list(frame["attribute"]) == ["genre", "award"]
    assert frame["counterfactual"].tolist() == pytest.approx([0.4 * 4, 2.8 * 4])  # summed over 4 tokens
    assert frame["exact_memorization"].tolist() == pytest.approx([1.0, 0.75])
    assert frame["extraction_strength"].tolist() == pytest.approx([1.0, 0.75])
    assert frame["reference_exact_memorization"].tolist() == pytest.approx([1.0, 0.0])


def test_widgets_wrap_the_same_functions(tiny_lm):
    from unlearnlab.widgets import answer_explorer, token_loss_explorer

    model, tokenizer = tiny_lm
    box = answer_explorer({"m": model}, tokenizer, {"a": ITEMS, "b": ITEMS[:1]}, n=1)
    box.children[0].value = "b"  # switching the split re-renders without error
    token_loss_explorer({"m": model}, tokenizer, ITEMS).children[0].value = 1


def test_answers_during_unlearning_records_each_checkpoint(tiny_lm):
    from unlearnlab.answers import answers_during_unlearning
    from unlearnlab.widgets import step_explorer

    model, tokenizer = tiny_lm
    model, _ = finetune(model, tokenizer, ITEMS, epochs=60, learning_rate=1e-2, batch_size=2,
                        weight_decay=0.0, progress=False)
    model, log, snapshots = answers_during_unlearning(
        model, tokenizer, "ga", forget=ITEMS[:1], retain=ITEMS[1:], items=ITEMS, every=2,
        max_steps=6, learning_rate=5e-3, batch_size=1, max_new_tokens=12, progress=False)
    assert sorted(snapshots) == [e["step"] for e in log.evals] == [0, 2, 4, 6]
    assert snapshots[0]["answer"].tolist() == [i["answer"] for i in ITEMS]  # memorised before
    assert snapshots[6]["answer ROUGE-L"][0] < 1.0  # the forget answer dissolved
    step_explorer(snapshots).children[0].value = 6
