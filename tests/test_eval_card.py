"""The desiderata scorecard and the unlearning card, on hand-made summaries with known verdicts."""
import pytest

from unlearnlab.eval.band import seed_bands
from unlearnlab.eval.card import attack_band, desideratum_verdicts, scorecard, unlearning_card
from unlearnlab.eval.results import EvalResult, ItemResult, SplitResult
from unlearnlab.eval.scoring import SequenceStats

RETRAINED = [{"hard_in_scope_fact_recall": 0.10, "model_utility": 0.60, "forget_fact_recall": 0.05},
             {"hard_in_scope_fact_recall": 0.20, "model_utility": 0.70, "forget_fact_recall": 0.07}]


def result(name: str, aggregates: dict, profile: str = "ci") -> EvalResult:
    split = SplitResult("forget", "forget10", [])
    meta = {"world": "authors", "forget": "forget10", "profile": profile}
    return EvalResult(name, {"forget": split}, meta=meta, aggregates=dict(aggregates))


def test_scorecard_judges_each_desideratum_against_the_band():
    bands = seed_bands(RETRAINED, list(RETRAINED[0]))  # in scope: [0.0, 0.3]; utility [0.5, 0.8]
    general = scorecard({"hard_in_scope_fact_recall": 0.25, "model_utility": 0.4}, bands)
    assert desideratum_verdicts(general) == {"generality": "met", "authenticity": "not measured",
                                             "precision": "not met"}
    leaky = scorecard({"hard_in_scope_fact_recall": 0.9}, bands, {"relearning": (0.8, attack_band([0.3, 0.4]))})
    assert desideratum_verdicts(leaky) == {"generality": "not met", "authenticity": "not met",
                                           "precision": "not measured"}


def test_authentic_when_recovering_no_more_than_a_model_that_never_knew():
    band = attack_band([0.30, 0.40])  # spread 0.1 -> [0.2, 0.5]
    assert (band.low, band.high) == pytest.approx((0.2, 0.5))
    checks = scorecard({}, {}, {"relearning": (0.45, band)})
    assert [c.ok for c in checks] == [True]


def test_card_reports_evidence_verdicts_and_risks_from_results():
    runs = [result(f"npo-{k}", {"hard_in_scope_fact_recall": 0.5 + 0.1 * k, "model_utility": 0.65,
                                "forget_fact_recall": 0.06}) for k in range(2)]
    refs = [result(f"retrained-{k}", r) for k, r in enumerate(RETRAINED)]
    card = unlearning_card("Forget the four forget10 authors.", "npo", runs, refs, settings={"lr": 1e-4},
                           attacks={"quantization 4-bit": (0.1, [0.05, 0.1])})
    assert card.startswith("# Unlearning card")
    assert "Forget the four forget10 authors." in card and "lr=0.0001" in card
    assert "| hard_in_scope_fact_recall | — | 0.550 | [0.000, 0.300] |" in card  # mean of 0.5 and 0.6
    assert "- **generality**: not met" in card and "- **authenticity**: met" in card
    assert "- **precision**: met" in card
    risks = card.split("## Residual risks")[1]
    assert "generality: hard_in_scope_fact_recall = 0.550 (above" in risks and "ci profile" in risks


def per_item_result(name: str, shift: float, profile: str = "laptop") -> EvalResult:
    """A result whose aggregates come from per-item statistics, so it survives a save and load."""
    def item(n: int) -> ItemResult:
        nll = 0.5 + 0.1 * n + shift
        return ItemResult(id=f"i{n}", answer=SequenceStats(nll_mean=nll, nll_sum=4 * nll, n_tokens=4,
                                                           token_logprobs=[-nll] * 3),
                          perturbed=[SequenceStats(nll_mean=nll + 1, nll_sum=0, n_tokens=4)],
                          generation="in Lisbon", zlib_bytes=20)
    split = SplitResult("forget", "forget10", [item(n) for n in range(4)])
    meta = {"world": "authors", "forget": "forget10", "profile": profile}
    return EvalResult(name, {"forget": split}, meta=meta).refresh()


def test_card_from_saved_files_equals_card_from_results_and_refuses_empty_input(tmp_path):
    refs = [per_item_result(f"retrained-{k}", 0.1 * k) for k in range(2)]
    run = per_item_result("ga", 0.5)
    paths = [r.save(tmp_path / f"r{k}.json") for k, r in enumerate(refs)]
    with pytest.raises(ValueError, match="at least one unlearned result"):
        unlearning_card("x", "ga", [], paths)
    from_files = unlearning_card("x", "ga", [run.save(tmp_path / "ga.json")], paths)
    assert from_files == unlearning_card("x", "ga", [run], refs)
    assert "forget split `forget10` (4 items)" in from_files and "ci profile" not in from_files


def test_a_check_line_names_the_side_of_the_band_that_matters():
    from unlearnlab.eval.band import Band
    from unlearnlab.eval.card import Check

    band = Band(0.5, 0.7, (0.55, 0.65))
    assert "(at or below the top of the retrained band" in Check("generality", "x", 0.1, band, True).line()
    assert "(above the retrained band" in Check("authenticity", "x", 0.9, band, False).line()
    assert "(below the retrained band" in Check("precision", "x", 0.1, band, False).line()
    assert "(at or above the floor of the retrained band" in Check("precision", "x", 0.9, band, True).line()
