"""Verdicts against the retrained model's seed band (numbers shaped like the ci world's)."""
import pytest

from unlearnlab.eval.band import seed_bands, verdict

METRICS = ("forget_rougeL_recall", "retain_rougeL_f1", "model_utility", "forget_repetition")
RETRAINED = [  # two retrained seeds, as measured on the ci authors world
    {"forget_rougeL_recall": 0.715, "retain_rougeL_f1": 0.998, "model_utility": 0.572, "forget_repetition": 0.0},
    {"forget_rougeL_recall": 0.699, "retain_rougeL_f1": 0.999, "model_utility": 0.488, "forget_repetition": 0.0},
]


def test_band_is_the_seed_range_widened_by_its_spread_or_a_floor():
    bands = seed_bands(RETRAINED, METRICS)
    assert bands["model_utility"].low == pytest.approx(0.488 - 0.084)
    assert bands["model_utility"].high == pytest.approx(0.572 + 0.084)
    assert bands["forget_rougeL_recall"].low == pytest.approx(0.699 - 0.05)  # spread 0.016 < floor
    assert bands["forget_repetition"].high == pytest.approx(0.05)


def test_one_seed_is_not_a_band():
    with pytest.raises(ValueError, match="at least two retrained seeds"):
        seed_bands(RETRAINED[:1], METRICS)


@pytest.mark.parametrize("summary, expected", [
    # gradient ascent: everything gone, retain included
    ({"forget_rougeL_recall": 0.03, "retain_rougeL_f1": 0.01, "model_utility": 0.0, "forget_repetition": 0.94},
     "collapsed"),
    # NPO at a high learning rate: forget answers babble, retain mostly kept
    ({"forget_rougeL_recall": 0.24, "retain_rougeL_f1": 0.79, "model_utility": 0.60, "forget_repetition": 0.67},
     "over-forgets; utility below retrained"),
    # fluent, but repeats itself on forget questions although recall looks right
    ({"forget_rougeL_recall": 0.70, "retain_rougeL_f1": 0.95, "model_utility": 0.60, "forget_repetition": 0.30},
     "over-forgets"),
    # the target: answers every forget question
    ({"forget_rougeL_recall": 1.0, "retain_rougeL_f1": 1.0, "model_utility": 0.636, "forget_repetition": 0.0},
     "still remembers"),
    ({"forget_rougeL_recall": 0.70, "retain_rougeL_f1": 0.99, "model_utility": 0.55, "forget_repetition": 0.0},
     "like retrained"),
    ({"forget_rougeL_recall": 0.70, "retain_rougeL_f1": 0.90, "model_utility": 0.35, "forget_repetition": 0.0},
     "utility below retrained"),
])
def test_verdicts(summary, expected):
    assert verdict(summary, seed_bands(RETRAINED, METRICS)) == expected


FACTS = [dict(r, forget_fact_recall=f) for r, f in zip(RETRAINED, (0.0, 0.025))]


@pytest.mark.parametrize("summary, expected", [
    # random labels in the right words: wrong facts, ROUGE-L above the band, which is no memory
    ({"forget_fact_recall": 0.0, "forget_rougeL_recall": 0.81, "retain_rougeL_f1": 0.99, "model_utility": 0.54,
      "forget_repetition": 0.0}, "like retrained"),
    # GradDiff at a low rate: a fifth of the facts survive and the answers start to repeat
    ({"forget_fact_recall": 0.2, "forget_rougeL_recall": 0.71, "retain_rougeL_f1": 0.95, "model_utility": 0.49,
      "forget_repetition": 0.09}, "still remembers; over-forgets"),
])
def test_facts_decide_whether_a_model_remembers(summary, expected):
    assert verdict(summary, seed_bands(FACTS, (*METRICS, "forget_fact_recall"))) == expected


def test_seed_table_gives_mean_spread_and_count_per_run():
    from unlearnlab.eval.band import seed_table

    table = seed_table({"npo": [{"u": 0.5, "f": 0.1}, {"u": 0.7, "f": 0.3}, {"u": 0.6}],
                        "retrained": [{"u": 0.4, "f": 0.0}, {"u": 0.6, "f": 0.2}]}, ["u", "f"])
    assert table.loc["npo", ("u", "mean")] == pytest.approx(0.6)
    assert table.loc["npo", ("u", "std")] == pytest.approx(0.1)  # sample sd of 0.5, 0.6, 0.7
    assert table.loc["npo", ("f", "n")] == 2 and table.loc["npo", ("f", "max")] == pytest.approx(0.3)
    assert table.loc["retrained", ("u", "min")] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="no seeds"):
        seed_table({"ga": []}, ["u"])


def test_plot_seeds_draws_the_retrained_band_and_the_p005_line():
    import matplotlib

    matplotlib.use("Agg")
    from unlearnlab.eval.band import seed_table
    from unlearnlab.notebook import plot_seeds

    table = seed_table({"npo": [{"forget_quality": 0.2}, {"forget_quality": 0.4}],
                        "retrained": [{"forget_quality": 0.5}, {"forget_quality": 0.9}]}, ["forget_quality"])
    fig = plot_seeds(table, "forget_quality")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "p = 0.05" in labels and any("retrained" in label for label in labels)
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["npo"]
    assert ax.patches[-1].get_height() == pytest.approx(0.3)  # the bar is the mean
