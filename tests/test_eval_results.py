"""Results as files and as judged numbers: the aggregate registry, saving, loading, the retrained model."""
import json
import math
import warnings

import pytest

from unlearnlab.eval import EvalResult, aggregates, load_result, reference_log, retrained_log_from
from unlearnlab.eval.aggregates import aggregate, split_aggregate
from unlearnlab.eval.results import ItemResult, SplitResult
from unlearnlab.eval.scoring import SequenceStats


def _item(n: int, nll: float, generation: str = "in Lisbon") -> ItemResult:
    return ItemResult(id=f"i{n}", answer=SequenceStats(nll_mean=nll, nll_sum=nll * 4, n_tokens=4,
                                                       token_logprobs=[-nll] * 3, vocab_mean=[-2.0] * 3,
                                                       vocab_var=[1.0] * 3),
                      perturbed=[SequenceStats(nll_mean=nll + 1, nll_sum=0, n_tokens=4)],
                      generation=generation, zlib_bytes=20)


def _result(name: str = "model", shift: float = 0.0, **meta) -> EvalResult:
    """A result with forget and holdout items whose NLLs are given (no model needed)."""
    splits = {"forget": SplitResult("forget", "forget10", [_item(n, 0.5 + 0.1 * n + shift) for n in range(4)]),
              "holdout": SplitResult("holdout", "holdout", [_item(10 + n, 1.0 + 0.1 * n) for n in range(4)])}
    meta = {"world": "authors", "world_fingerprint": "abc", "profile": "ci", "forget": "forget10", **meta}
    return EvalResult(name=name, splits=splits, meta=meta).refresh()


# ----- registry ---------------------------------------------------------------------------
def test_a_new_aggregate_is_registered_without_editing_any_central_function(monkeypatch):
    monkeypatch.setattr(aggregates, "AGGREGATES", dict(aggregates.AGGREGATES))

    @split_aggregate("answer_words")
    def answer_words(split, items, settings):
        return {f"{split}_answer_words": sum(len(i.generation.split()) for i in items) / len(items)}

    @aggregate("forget_minus_holdout_nll")
    def gap(result, computed, notes):
        return {"forget_minus_holdout_nll": computed["forget_nll"] - computed["holdout_nll"]}

    values = _result().recompute()
    assert values["forget_answer_words"] == 2.0
    assert values["forget_minus_holdout_nll"] == pytest.approx(values["forget_nll"] - values["holdout_nll"])
    assert "forget_prob" in values and "mia_auc_loss" in values  # the built-in families still run


# ----- saving ------------------------------------------------------------------------------
def test_save_refuses_to_overwrite_unless_asked_and_leaves_no_temporary_file(tmp_path):
    path = _result("first").save(tmp_path / "result.json")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _result("second").save(path)
    assert load_result(path).name == "first"
    _result("second").save(path, overwrite=True)
    assert load_result(path).name == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


# ----- loading -----------------------------------------------------------------------------
def test_loading_recomputes_and_refuses_hand_edited_aggregates(tmp_path):
    path = _result().save(tmp_path / "result.json")
    data = json.loads(path.read_text())
    data["aggregates"]["mia_auc_loss"] = 0.5
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"result\.json.*mia_auc_loss"):
        load_result(path)
    assert load_result(path, recompute=True).aggregates["mia_auc_loss"] == 1.0


def test_stale_aggregates_are_replaced_by_recomputed_ones(tmp_path):
    path = _result().save(tmp_path / "result.json")
    data = json.loads(path.read_text())
    del data["aggregates"]["forget_prob"]
    data["aggregates"]["retired_metric"] = 1.0
    path.write_text(json.dumps(data))
    loaded = load_result(path)
    assert "retired_metric" not in loaded.aggregates
    assert loaded.aggregates["forget_prob"] == pytest.approx(_result().aggregates["forget_prob"])


@pytest.mark.parametrize("text, message", [
    ('{"format": 2, "name": "x", "spl', "not valid JSON"),
    ("[1, 2, 3]", "not an unlearnlab evaluation result"),
    ('{"format": 99, "name": "x", "splits": {}}', "format 99"),
])
def test_truncated_foreign_or_newer_files_get_a_message_naming_the_file(tmp_path, text, message):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        load_result(path)
    assert "broken.json" in str(error.value)


def test_format_1_files_with_the_old_reference_names_still_load(tmp_path):
    result = _result().against(_result("retrained", shift=1.0))
    result.split("forget").items[0].retrained_nll_mean = 0.25
    data = json.loads(result.to_json())
    data["format"] = 1
    data["reference_log"] = data.pop("retrained_log")
    for item in data["splits"]["forget"]["items"]:
        item["ref_nll_mean"] = item.pop("retrained_nll_mean")
        item["generation_ref_nll"] = item.pop("generation_retrained_nll")
    (tmp_path / "old.json").write_text(json.dumps(data))
    loaded = load_result(tmp_path / "old.json")
    assert loaded.retrained_log["name"] == "retrained"
    assert loaded.split("forget").items[0].retrained_nll_mean == 0.25
    assert loaded.aggregates == pytest.approx(result.aggregates)


# ----- the retrained model ------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [("world_fingerprint", "other"), ("profile", "laptop"),
                                          ("forget", "forget05"), ("world", "books")])
def test_a_retrained_result_from_elsewhere_is_refused(field, value):
    elsewhere = _result("retrained", shift=1.0, **{field: value})
    with pytest.raises(ValueError, match=f"{field}.*Evaluate the retrained model on the same"):
        _result().against(elsewhere)


def test_against_the_retrained_model_gives_forget_quality_and_privleak():
    judged = _result().against(_result("retrained", shift=1.0))
    assert 0 <= judged.aggregates["forget_quality"] <= 1
    assert not math.isnan(judged.aggregates["privleak"])
    assert judged.retrained_log["profile"] == "ci"


def test_old_reference_names_warn_and_still_work():
    retrained = _result("retrained", shift=1.0)
    with pytest.warns(DeprecationWarning, match="retrained_log_from"):
        assert reference_log(retrained) == retrained_log_from(retrained)
    judged = _result().against(retrained)
    with pytest.warns(DeprecationWarning, match="retrained_log"):
        assert judged.reference_log == judged.retrained_log
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        judged.to_json()  # the new names raise no warning
