"""Side-by-side tables, distance to the retrained model and the forget-vs-utility Pareto plot."""
import matplotlib.pyplot as plt
import pytest

from unlearnlab.eval import EvalResult, compare, distance_to_retrain, pareto_front
from unlearnlab.notebook import plot_pareto
from unlearnlab.notebook import COLORS


def _result(name: str, **aggregates) -> EvalResult:
    return EvalResult(name=name, splits={}, aggregates=aggregates)


RESULTS = {
    "reference": _result("reference", forget_quality=1.0, model_utility=0.60, forget_prob=0.10, retain_prob=0.90),
    "target": _result("target", forget_quality=1e-6, model_utility=0.62, forget_prob=0.95, retain_prob=0.95),
    "ga": _result("ga", forget_quality=0.05, model_utility=0.10, forget_prob=0.00, retain_prob=0.20),
    "npo": _result("npo", forget_quality=0.30, model_utility=0.50, forget_prob=0.15, retain_prob=0.80),
}


def test_compare_puts_headline_columns_first():
    table = compare(RESULTS)
    assert list(table.index) == ["reference", "target", "ga", "npo"]
    assert list(table.columns[:2]) == ["forget_quality", "model_utility"]
    assert table.loc["npo", "forget_prob"] == 0.15
    assert list(compare(list(RESULTS.values()), columns=["retain_prob"]).index) == list(RESULTS)
    with pytest.raises(KeyError, match="forget_quality"):
        compare(RESULTS, columns=["forget_qualty"])


def test_distance_to_retrain_is_the_mean_absolute_gap():
    table = distance_to_retrain(RESULTS, "reference", metrics=["forget_prob", "retain_prob", "not_reported"])
    assert table.loc["reference", "mean_gap"] == 0.0
    assert table.loc["npo", "forget_prob"] == pytest.approx(0.05)
    assert table.loc["npo", "mean_gap"] == pytest.approx((0.05 + 0.10) / 2)
    assert table.loc["target", "mean_gap"] == pytest.approx((0.85 + 0.05) / 2)
    assert "not_reported" not in table.columns


def test_pareto_front_keeps_only_undominated_points():
    xs = [1.0, 1e-6, 0.05, 0.30]
    ys = [0.60, 0.62, 0.10, 0.50]
    assert pareto_front(xs, ys) == [1, 0]  # npo is dominated by the reference, ga by everything
    assert pareto_front([0.1, 0.1], [0.5, 0.5]) == [0, 1]  # ties are both kept


def test_plot_marks_reference_and_target():
    fig = plot_pareto(RESULTS, reference="reference", target="target")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "reference (retain-only reference)" in labels and "target (before unlearning)" in labels
    colours = {tuple(c.get_facecolor()[0][:3]) for c in ax.collections}
    hex_colours = {"#%02x%02x%02x" % tuple(round(v * 255) for v in c) for c in colours}
    assert {COLORS["reference"].lower(), COLORS["target"].lower(), COLORS["method"].lower()} <= hex_colours
    plt.close(fig)
    with pytest.raises(ValueError, match="forget_quality"):
        plot_pareto({"x": _result("x", model_utility=0.5)})


def test_plot_against_retrained_draws_the_seed_band_and_every_model():
    from unlearnlab.eval.band import seed_bands
    from unlearnlab.notebook import plot_against_retrained

    retrained = {name: _result(name, forget_rougeL_recall=x, model_utility=0.55)
                 for name, x in (("retrained (seed 0)", 0.71), ("retrained (seed 1)", 0.69))}
    bands = seed_bands([r.summary() for r in retrained.values()], ["forget_rougeL_recall", "model_utility"])
    results = {**retrained, "target": _result("target", forget_rougeL_recall=1.0, model_utility=0.63),
               "npo": _result("npo", forget_rougeL_recall=0.2, model_utility=0.6)}
    fig = plot_against_retrained(results, bands)
    ax = fig.axes[0]
    box = [p for p in ax.patches if p.get_label() == "retrained seed band"][0]
    assert box.get_x() == pytest.approx(0.69 - 0.05) and box.get_width() == pytest.approx(0.02 + 0.1)
    assert len(ax.collections) == 4, "one point per model"
    plt.close(fig)
