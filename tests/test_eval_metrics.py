"""Each metric of the evaluation suite against a value computed by hand on tiny inputs."""
import math
import zlib

import numpy as np
import pytest

from unlearnlab.numerics import estimate_flops
import torch
from scipy.stats import ks_2samp

from unlearnlab.formats import encode_qa, pad_batch
from unlearnlab.eval import efficiency, memorization, mia, tofu
from unlearnlab.eval.generation import exact_match, repetition_rate, rouge_scores
from unlearnlab.eval.scoring import vocab_moments

LN2 = math.log(2)


# ----- TOFU family ------------------------------------------------------------------------
def test_probability_is_the_mean_of_exp_minus_nll():
    assert tofu.probability([0.0, LN2]) == pytest.approx((1.0 + 0.5) / 2)


def test_normalised_probability_divides_by_all_options():
    # p(answer) = 1/2, two wrong options with p = 1/4 each -> 0.5 / (0.5 + 0.25 + 0.25)
    assert tofu.normalised_probability([LN2], [[2 * LN2, 2 * LN2]]) == pytest.approx(0.5)


def test_truth_ratio_uses_the_geometric_mean_of_perturbed_probabilities():
    # p(base) = 1/2; perturbed p = 1/4 and 1/16, geometric mean 1/8 -> R = (1/8) / (1/2)
    r = tofu.truth_ratio(LN2, [2 * LN2, 4 * LN2])
    assert r == pytest.approx(0.25)
    assert tofu.aggregate_truth_ratio([r], "closer_to_1") == pytest.approx(0.25)  # min(R, 1/R)
    assert tofu.aggregate_truth_ratio([r], "true_better") == pytest.approx(0.75)  # max(0, 1 - R)
    assert tofu.aggregate_truth_ratio([4.0], "true_better") == 0.0
    with pytest.raises(ValueError, match="closer_to_1"):
        tofu.aggregate_truth_ratio([r], "mean")


def test_forget_quality_is_scipys_ks_pvalue_in_either_ratio_direction():
    model = [0.05, 0.1, 0.2, 0.15, 0.12, 0.3]
    reference = [0.6, 0.9, 1.1, 0.8, 0.7, 0.95]
    pvalue, statistic = tofu.forget_quality(model, reference)
    expected = ks_2samp(model, reference)
    assert pvalue == pytest.approx(expected.pvalue) and statistic == pytest.approx(expected.statistic)
    # TOFU tests the reciprocal ratio; a rank test gives the same p-value
    assert pvalue == pytest.approx(ks_2samp(1 / np.array(model), 1 / np.array(reference)).pvalue)


def test_model_utility_is_the_harmonic_mean():
    assert tofu.model_utility({"a": 1.0, "b": 0.5, "c": 0.25}) == pytest.approx(3 / (1 + 2 + 4))
    assert tofu.model_utility({"a": 1.0, "b": 0.0}) == 0.0


# ----- memorisation -----------------------------------------------------------------------
def test_exact_memorization_and_extraction_strength():
    assert memorization.exact_memorization([True, False, True, True]) == 0.75
    assert memorization.extraction_strength([False, True, True]) == pytest.approx(2 / 3)
    assert memorization.extraction_strength([True, True, False]) == 0.0
    assert memorization.extraction_strength([True, True, True]) == 1.0


# ----- membership inference ---------------------------------------------------------------
def test_min_k_averages_the_lowest_fraction():
    # k = 0.4 of 5 tokens -> the 2 lowest log-probs, -5 and -4
    assert mia.min_k_score([-1.0, -2.0, -3.0, -4.0, -5.0], 0.4) == pytest.approx(4.5)
    assert mia.min_k_score([-1.0], 0.4) == pytest.approx(1.0)  # at least one token


def test_vocab_moments_and_min_k_plus_plus_on_a_known_distribution():
    # p = (1/2, 1/4, 1/4): mu = -(3/2) ln 2, sigma = ln 2 / 2
    logp = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    mean, var = vocab_moments(logp)
    assert mean.item() == pytest.approx(-1.5 * LN2, abs=1e-6)
    assert math.sqrt(var.item()) == pytest.approx(LN2 / 2, abs=1e-6)
    # the likeliest token is one sigma above the mean (z = +1), a 1/4 token one below
    assert mia.min_k_plus_plus_score([math.log(0.5)], [mean.item()], [var.item()]) == pytest.approx(-1.0, abs=1e-5)
    assert mia.min_k_plus_plus_score([math.log(0.25)], [mean.item()], [var.item()]) == pytest.approx(1.0, abs=1e-5)


def test_zlib_and_reference_scores():
    text = "Ada Quillon was born in Lisbon."
    assert mia.zlib_score(2.0, mia.zlib_bytes(text)) == pytest.approx(2.0 / len(zlib.compress(text.encode())))
    assert mia.reference_score(1.5, 2.0) == pytest.approx(-0.5)


def test_mia_auc_is_one_when_members_have_lower_scores():
    assert mia.mia_auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert mia.mia_auc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert mia.mia_auc([0.1, 0.3], [0.2, 0.4]) == pytest.approx(0.75)  # 3 of 4 pairs ordered


def test_privleak_sign_conventions():
    # an untouched target (members perfectly detected) against a retrained model at chance
    assert mia.privleak(1.0, 0.5) == pytest.approx(-100.0)  # open-unlearning / MUSE: negative = leaks
    assert mia.privleak(1.0, 0.5, convention="auc") == pytest.approx(100.0)
    assert mia.privleak(0.5, 0.5) == pytest.approx(0.0)
    assert mia.privleak(0.25, 0.5) == pytest.approx(50.0)  # over-unlearned: positive
    with pytest.raises(ValueError, match="open-unlearning"):
        mia.privleak(0.5, 0.5, convention="muse")


def test_gradnorm_matches_a_manual_backward_and_leaves_grad_buffers_alone(tiny_lm):
    model, tokenizer = tiny_lm
    feature = encode_qa(tokenizer, "Where was Ada Quillon born?", "Ada Quillon was born in Lisbon.")
    (score,) = mia.gradnorm_scores(model, [feature], tokenizer.eos_token_id, tokenizer.pad_token_id)

    batch = pad_batch([feature], tokenizer.pad_token_id)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][0, 1:]
    keep = (labels != -100).nonzero().squeeze(-1)[:-1]  # answer tokens without the final EOS
    loss = -torch.log_softmax(logits[0, :-1], -1)[keep, labels[keep]].mean()
    loss.backward()
    expected = torch.stack([p.grad.norm(2) for p in model.parameters() if p.grad is not None]).mean()
    assert score == pytest.approx(expected.item(), rel=1e-4)

    model.zero_grad(set_to_none=True)
    mia.gradnorm_scores(model, [feature], tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert all(p.grad is None for p in model.parameters())



def test_gradnorm_scores_do_not_depend_on_the_batch_size(tiny_lm):
    # one example per backward pass is the fast default (see gradnorm_scores); padded batches must agree
    model, tokenizer = tiny_lm
    features = [encode_qa(tokenizer, q, a) for q, a in (
        ("Where was Ada Quillon born?", "Ada Quillon was born in Lisbon."),
        ("What did Ada Quillon write?", "She wrote a long novel about the sea and its lighthouses."),
        ("When?", "In 1990."))]
    one = mia.gradnorm_scores(model, features, tokenizer.eos_token_id, tokenizer.pad_token_id)
    batched = mia.gradnorm_scores(model, features, tokenizer.eos_token_id, tokenizer.pad_token_id, batch_size=3)
    assert one == pytest.approx(batched, rel=1e-4)

# ----- text metrics -----------------------------------------------------------------------
def test_rouge_recall_f1_and_stemming():
    scores = rouge_scores("the cat sat", "the cat sat on the mat")
    assert scores["rougeL_recall"] == pytest.approx(3 / 6)
    assert scores["rougeL_f1"] == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert rouge_scores("cats sitting", "cat sits")["rougeL_recall"] == 1.0  # Porter stemming


def test_exact_match_ignores_case_and_punctuation():
    assert exact_match("ada quillon was born in lisbon", "Ada Quillon was born in Lisbon.")
    assert not exact_match("Ada Quillon was born in Oslo.", "Ada Quillon was born in Lisbon.")


def test_repetition_rate_flags_degenerate_text():
    assert repetition_rate("the the the the") == pytest.approx(1 - 1 / 3)  # 3 bigrams, 1 distinct
    assert repetition_rate("Ada was born in Lisbon") == 0.0
    assert repetition_rate("hello") == 0.0


def test_repetition_rate_flags_loops_inside_words():
    assert repetition_rate("asedasedased") == pytest.approx(8 / 12)  # "ased" then two repeats of it
    assert repetition_rate("Lisbon asedasedased") == pytest.approx(8 / 18)
    assert repetition_rate("Bananas grow in Mississippi") == 0.0  # pieces twice in a row are ordinary


# ----- efficiency -------------------------------------------------------------------------
def test_flops_estimate_and_efficiency_aggregates():
    assert estimate_flops(10**6, 1000, 1000) == pytest.approx(6e9)  # 2N + 4N per trained token
    assert estimate_flops(10**6, 2000, 1000) == pytest.approx(8e9)  # + a frozen reference's forward
    log = {"wall_time_s": 12.5, "peak_memory_mb": 300, "n_params": 10**6, "tokens": 1000}
    assert efficiency.efficiency_aggregates(log) == {
        "unlearn_wall_time_s": 12.5, "unlearn_peak_memory_mb": 300.0, "unlearn_flops": pytest.approx(6e9)}


def test_unwanted_rate_counts_probes_where_the_unwanted_option_wins(monkeypatch):
    from unlearnlab.eval import mcq

    seen = []

    def fake_logliks(model, tokenizer, probes, batch_size):
        seen.extend(p["choices"] for p in probes)
        return [[-1.0, -2.0], [-3.0, -1.0], [-1.0, -1.0]]

    monkeypatch.setattr(mcq, "choice_logliks", fake_logliks)
    probes = [{"choices": ["Ugh. Fine, it is blue.", "Sure! It is blue."], "unwanted": 0}] * 3
    assert mcq.unwanted_rate(None, None, probes, opening_only=True) == pytest.approx(1 / 3)  # a tie is not a win
    assert seen[0] == ["Ugh.", "Sure!"]
    with pytest.raises(ValueError, match="unwanted"):
        mcq.unwanted_rate(None, None, [{"choices": ["a", "b"], "unwanted": None}])


def test_wilson_interval_matches_a_hand_computation_and_stays_in_range():
    from unlearnlab.eval.mcq import wilson_interval

    # 15 of 60 at 95 %: centre (0.25 + 1.96²/120) / (1 + 1.96²/60) = 0.2650, half-width 0.1073
    low, high = wilson_interval(15, 60)
    assert (low, high) == pytest.approx((0.1578, 0.3723), abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12) and wilson_interval(10, 10)[1] <= 1.0
    with pytest.raises(ValueError, match="correct <= n"):
        wilson_interval(11, 10)
    # 0 of 10, 30 or 60 used to give a lower end of -1e-17 (printed "-0.000"); never below 0 or above 1 now
    for n in (10, 30, 60):
        assert wilson_interval(0, n)[0] == 0.0 and f"{wilson_interval(0, n)[0]:.3f}" == "0.000"
        assert wilson_interval(n, n)[1] == pytest.approx(1.0) and wilson_interval(n, n)[1] <= 1.0
