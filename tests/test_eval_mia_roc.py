"""ROC points and bootstrap AUC intervals of the membership-inference attacks (chapter 11)."""
import numpy as np
import pytest

from unlearnlab.eval import mia


def _area(fpr, tpr):
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def test_roc_points_area_equals_mia_auc_with_ties():
    rng = np.random.default_rng(0)
    members = rng.normal(0.0, 1.0, 30).round(1)  # rounding makes ties between and within the sets
    others = rng.normal(0.7, 1.0, 40).round(1)
    fpr, tpr = mia.roc_points(members, others)
    assert fpr[0] == 0.0 and tpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert _area(fpr, tpr) == pytest.approx(mia.mia_auc(members, others))


def test_roc_points_perfect_attack_passes_through_the_corner():
    fpr, tpr = mia.roc_points([0.1, 0.2], [0.3, 0.4])
    assert (0.0, 1.0) in set(zip(fpr.tolist(), tpr.tolist()))


def test_bootstrap_auc_brackets_the_auc_and_is_reproducible():
    rng = np.random.default_rng(1)
    members, others = rng.normal(0, 1, 40), rng.normal(0.5, 1, 40)
    auc, low, high = mia.bootstrap_auc(members, others, n_boot=300, seed=3)
    assert auc == pytest.approx(mia.mia_auc(members, others))
    assert low <= auc <= high and 0.05 < high - low < 0.4
    assert mia.bootstrap_auc(members, others, n_boot=300, seed=3) == (auc, low, high)


def test_fast_auc_equals_sklearn_auc():
    members, others = np.array([0.1, 0.5, 0.5, 0.9]), np.array([0.5, 0.6, 0.2])
    assert mia._fast_auc(members, others) == pytest.approx(mia.mia_auc(members, others))


def test_roc_points_needs_both_sets():
    with pytest.raises(ValueError):
        mia.roc_points([], [0.1])
