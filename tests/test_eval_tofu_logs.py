"""Loading TOFU's own per-item eval logs gives the numbers TOFU's aggregate_eval_stat.py computes.

The fixture below has the structure of TOFU's ``eval_log_aggregated.json`` (one
entry per eval file; statistics keyed by item index; five perturbed answers on
the forget and retain sets, three on the real-world sets).  The expected values
are computed in the test by following TOFU's aggregation code step by step.
"""
import json

import numpy as np
import pytest
from scipy.stats import hmean, ks_2samp

from unlearnlab.eval import from_tofu_logs


def _entry(gt, para, perturb, rouge):
    """One TOFU eval file: per-item average losses, sums, token counts and ROUGE."""
    idx = [str(i) for i in range(len(gt))]
    counts = [8 + i for i in range(len(gt))]
    return {
        "avg_gt_loss": dict(zip(idx, gt)),
        "gt_loss": {k: g * n for k, g, n in zip(idx, gt, counts)},
        "num_token_gt": dict(zip(idx, counts)),
        "avg_paraphrased_loss": dict(zip(idx, para)),
        "average_perturb_loss": dict(zip(idx, perturb)),
        "perturb_loss": {k: [p * 9 for p in ps] for k, ps in zip(idx, perturb)},
        "num_token_perturb": {k: [9] * len(ps) for k, ps in zip(idx, perturb)},
        "rougeL_recall": dict(zip(idx, rouge)),
        "generated_text": {k: ["Question", "an answer", "an answer"] for k in idx},
    }


UNLEARNED = {
    "eval_log_forget.json": _entry(
        gt=[2.1, 1.7, 3.0, 2.4], para=[2.3, 1.9, 2.8, 2.6],
        perturb=[[2.5, 2.2, 2.9, 2.4, 2.6], [1.8, 2.0, 1.6, 2.2, 1.9], [2.7, 2.5, 3.1, 2.6, 2.9],
                 [2.0, 2.2, 2.4, 2.1, 2.3]],
        rouge=[0.4, 0.2, 0.0, 0.5]),
    "eval_log.json": _entry(
        gt=[0.3, 0.5, 0.2], para=[0.6, 0.8, 0.5],
        perturb=[[1.5, 1.7, 1.2, 1.9, 1.4], [1.1, 1.3, 1.0, 1.6, 1.2], [2.0, 1.8, 1.7, 2.2, 1.9]],
        rouge=[0.9, 0.8, 1.0]),
    # the real-world sets score the answer twice: avg_paraphrased_loss differs slightly from avg_gt_loss
    "eval_real_author_wo_options.json": _entry(
        gt=[1.0, 1.4, 0.9], para=[1.01, 1.38, 0.92],
        perturb=[[1.6, 1.9, 1.5], [1.2, 1.8, 2.0], [1.1, 1.3, 1.7]], rouge=[0.7, 0.6, 0.8]),
    "eval_real_world_wo_options.json": _entry(
        gt=[0.8, 1.2, 0.6], para=[0.79, 1.21, 0.62],
        perturb=[[1.4, 1.6, 1.5], [1.3, 1.1, 1.9], [1.0, 1.2, 0.9]], rouge=[0.75, 0.5, 0.9]),
}
RETAIN_MODEL = {"eval_log_forget.json": _entry(
    gt=[2.9, 2.6, 3.3, 3.1], para=[3.0, 2.7, 3.2, 3.3],
    perturb=[[3.1, 2.9, 3.2, 3.0, 2.8], [2.6, 2.8, 2.5, 2.9, 2.7], [3.4, 3.1, 3.3, 3.5, 3.2],
             [3.0, 3.2, 3.4, 3.1, 3.3]],
    rouge=[0.1, 0.0, 0.1, 0.2])}


def _tofu_aggregation(logs, retain_logs):
    """TOFU's aggregate_eval_stat.py, step by step: get_model_utility and get_forget_quality."""
    names = {"eval_real_author_wo_options.json": "Real Authors", "eval_real_world_wo_options.json": "Real World",
             "eval_log.json": "Retain", "eval_log_forget.json": "Forget"}
    out = {}
    for key, log in logs.items():
        gt = np.array(list(log["avg_gt_loss"].values()))
        perturbed = np.array(list(log["average_perturb_loss"].values()))
        if "eval_log" in key:
            out[f"Prob. {names[key]}"] = np.mean(np.exp(-gt))
        else:
            true, false = np.exp(-gt), np.exp(-perturbed)
            out[f"Prob. {names[key]}"] = np.mean(true / np.concatenate([true[:, None], false], axis=1).sum(-1))
        out[f"ROUGE {names[key]}"] = np.mean(list(log["rougeL_recall"].values()))
        para = np.array(list(log["avg_paraphrased_loss"].values()))
        stat = np.exp(perturbed.mean(-1) - para)  # paraphrased over perturbed
        out[f"Truth Ratio {names[key]}"] = (np.mean(np.minimum(stat, 1 / stat)) if "forget" in key
                                            else np.mean(np.maximum(0, 1 - 1 / stat)))
    out["Model Utility"] = hmean([v for k, v in out.items() if "Forget" not in k])

    def ratios(log):
        return np.exp(np.array(list(log["average_perturb_loss"].values())).mean(-1)
                      - np.array(list(log["avg_paraphrased_loss"].values())))

    out["Forget Quality"] = ks_2samp(ratios(logs["eval_log_forget.json"]),
                                     ratios(retain_logs["eval_log_forget.json"])).pvalue
    return out


def test_tofu_logs_give_tofus_truth_ratio_forget_quality_and_model_utility(tmp_path):
    path = tmp_path / "eval_log_aggregated.json"
    path.write_text(json.dumps(UNLEARNED))
    result = from_tofu_logs(path, retain_logs=RETAIN_MODEL)
    expected = _tofu_aggregation(UNLEARNED, RETAIN_MODEL)
    agg = result.aggregates
    pairs = {
        "Prob. Forget": "forget_prob", "Prob. Retain": "retain_prob",
        "Prob. Real Authors": "real_authors_prob_normalised", "Prob. Real World": "world_facts_prob_normalised",
        "ROUGE Forget": "forget_rougeL_recall", "ROUGE Retain": "retain_rougeL_recall",
        "ROUGE Real Authors": "real_authors_rougeL_recall", "ROUGE Real World": "world_facts_rougeL_recall",
        "Truth Ratio Forget": "forget_truth_ratio", "Truth Ratio Retain": "retain_truth_ratio",
        "Truth Ratio Real Authors": "real_authors_truth_ratio", "Truth Ratio Real World": "world_facts_truth_ratio",
        "Model Utility": "model_utility", "Forget Quality": "forget_quality",
    }
    for tofu_name, ours in pairs.items():
        assert agg[ours] == pytest.approx(expected[tofu_name], rel=1e-9), tofu_name
    assert agg["retain_prob"] == pytest.approx(np.mean(np.exp([-0.3, -0.5, -0.2])))  # a literal check
    assert "9 numbers" in result.notes["model_utility"]


def test_unknown_log_entries_are_rejected():
    with pytest.raises(KeyError, match="eval_log_forget.json"):
        from_tofu_logs({"eval_log_forgot.json": {}})
