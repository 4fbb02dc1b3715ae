"""NPO, SimNPO, DPO, WGA and UNDIAL against the published code they are meant to reproduce.

The *oracles* below transcribe the loss functions of open-unlearning, the
reference implementation most unlearning papers report numbers with:

    https://github.com/locuslab/open-unlearning
    commit d3d7cf9e6b3c125d16687d4232680d8d83548f1a (2025-12-23)
    src/trainer/utils.py          compute_batch_nll, compute_dpo_loss,
                                  compute_undial_loss, compute_wga_loss
    src/trainer/unlearn/npo.py    NPO = compute_dpo_loss with no preferred answer
    src/trainer/unlearn/dpo.py    DPO: the alternate answer wins, the forget answer loses
    src/trainer/unlearn/simnpo.py SimNPO's forget term, written inline there

They follow that code's computation path step by step (same shifts, same
reductions, same order of operations) but take logits instead of a model, and
they use nothing from unlearnlab.  unlearnlab's methods are written
differently (one forward pass for all streams, logits only from the first
answer position on, precomputed log π_ref), so agreement on an awkward batch
(prompts of different lengths masked with -100, answers of different lengths,
right padding) is real evidence that both compute the same formula.

Where unlearnlab differs on purpose, the test says so and compares after the
conversion.  The one such difference is UNDIAL's reduction: see
``test_undial_matches_open_unlearning_on_answer_tokens``.

unlearnlab computes its losses in float32 (``.float()`` on the logits), the
oracles in float64, hence the float32-sized tolerances.
"""
from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unlearnlab.methods import FrozenOriginal, get_method

VOCAB = 128  # > 100, so that open-unlearning's UNDIAL can index the vocabulary with -100 (see its oracle)
WIDTH = 10
PROMPT_LENGTHS = (3, 4, 3, 5)  # label positions masked with -100 before the answer
ANSWER_LENGTHS = (4, 2, 6, 3)  # scored label positions; the rest of each row is padding (-100)
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


# ----- the fixed batch ----------------------------------------------------------------------------------
def make_labels(seed: int) -> torch.Tensor:
    """Right-padded labels: -100 on the prompt, token ids on the answer, -100 on the padding."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.full((len(PROMPT_LENGTHS), WIDTH), -100)
    for row, (prompt, answer) in enumerate(zip(PROMPT_LENGTHS, ANSWER_LENGTHS)):
        labels[row, prompt:prompt + answer] = torch.randint(VOCAB, (answer,), generator=gen)
    return labels


def make_logits(seed: int, labels: torch.Tensor, boosts=(9.0, 7.0, 5.0, 0.0)) -> torch.Tensor:
    """Random float64 logits, with each row's answer tokens made likelier by that row's boost.

    Purely random logits give every answer an NLL near log(VOCAB), where SimNPO's
    and NPO's log-sigmoids saturate and WGA's weights vanish: a wrong formula
    would then still give a loss near 0.  The boosts play a model that has
    memorised some answers (per-token NLL from about 0.01 to about 5).
    """
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(len(PROMPT_LENGTHS), WIDTH, VOCAB, generator=gen, dtype=torch.float64)
    for row, boost in enumerate(boosts):
        for t in (labels[row, 1:] != -100).nonzero().flatten().tolist():
            logits[row, t, labels[row, t + 1]] += boost  # position t predicts label t + 1
    return logits


@pytest.fixture
def batch():
    """Labels and logits of the model, of the reference model, and of a preferred (refusal) answer."""
    labels, win_labels = make_labels(0), make_labels(3)
    return types.SimpleNamespace(
        labels=labels, logits=make_logits(1, labels), ref_logits=make_logits(2, labels, (8.0, 8.0, 4.0, 1.0)),
        win_labels=win_labels, win_logits=make_logits(4, win_labels, (0.0, 2.0, 1.0, 3.0)),
        win_ref_logits=make_logits(5, win_labels, (1.0, 1.0, 1.0, 1.0)),
    )


# ----- oracles: open-unlearning's formulas, transcribed -------------------------------------------------------
def ou_batch_nll(logits, labels):
    """compute_batch_nll: per sequence, the answer NLL *summed* over tokens (not averaged)."""
    shifted_labels = labels[..., 1:]
    shifted_logits = logits[..., :-1, :]
    per_token = nn.CrossEntropyLoss(ignore_index=-100, reduction="none")(
        shifted_logits.transpose(-1, -2), shifted_labels)
    return per_token.sum(dim=-1)


def ou_dpo_loss(beta, win=None, lose=None):
    """compute_dpo_loss; ``win`` and ``lose`` are (logits, ref_logits, labels), either may be None.

    log-ratio = −(NLL_θ − NLL_ref) = log π_θ(y|x) − log π_ref(y|x), summed over tokens;
    loss = −(2/β)·mean over the batch of log σ(β·(ratio_win − ratio_lose)), a missing side counting 0.
    """
    win_log_ratio, lose_log_ratio = 0.0, 0.0
    if win is not None:
        logits, ref_logits, labels = win
        win_log_ratio = -(ou_batch_nll(logits, labels) - ou_batch_nll(ref_logits, labels))
    if lose is not None:
        logits, ref_logits, labels = lose
        lose_log_ratio = -(ou_batch_nll(logits, labels) - ou_batch_nll(ref_logits, labels))
    return -2 / beta * F.logsigmoid(beta * (win_log_ratio - lose_log_ratio)).mean()


def ou_npo_loss(logits, ref_logits, labels, beta):
    """npo.py: compute_dpo_loss with win_inputs=None and the forget answer as the loser."""
    return ou_dpo_loss(beta, win=None, lose=(logits, ref_logits, labels))


def ou_simnpo_loss(logits, labels, beta, delta):
    """simnpo.py: summed NLL / number of answer labels − δ, then −(2/β)·mean log σ(β·that).

    open-unlearning counts ``labels != -100`` on the *unshifted* labels; that equals
    the number of scored (shifted) labels whenever position 0 is a prompt token,
    as in every batch here.
    """
    loss_mask = labels != -100
    forget_loss = ou_batch_nll(logits, labels) / loss_mask.sum(-1) - delta
    return -F.logsigmoid(beta * forget_loss).mean() * 2 / beta


def ou_wga_loss(logits, labels, beta):
    """compute_wga_loss: −mean over answer tokens of [p(y_t)^β]_stop-gradient · CE_t."""
    shift_logits = logits[..., :-1, :]
    shift_labels = labels[..., 1:]
    lm_loss = nn.CrossEntropyLoss(ignore_index=-100, reduction="none")(
        shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1))
    weight_ce = ((-lm_loss).exp().detach()) ** beta
    return -(weight_ce * lm_loss)[shift_labels.reshape(-1) != -100].mean()


def ou_undial_position_losses(logits, teacher_logits, labels, beta):
    """compute_undial_loss before its final ``.mean()``: one loss per shifted position of every row.

    The target is softmax(teacher logits − β on the label's token).  open-unlearning
    builds that one-hot by indexing the vocabulary with the raw labels, so at an
    unscored position (label −100) Python's negative indexing lowers token
    VOCAB − 100 instead, and those positions stay in the loss.
    """
    shift_labels = labels[..., 1:]
    shift_logits = logits[..., :-1, :]
    shift_teacher_logits = teacher_logits[..., :-1, :]
    mask = torch.zeros_like(shift_teacher_logits)
    batch_idx = torch.arange(mask.shape[0]).view(-1, 1, 1)
    seq_idx = torch.arange(mask.shape[1]).view(1, -1, 1)
    mask[batch_idx, seq_idx, shift_labels.unsqueeze(-1)] = 1.0
    soft_label = F.softmax(shift_teacher_logits - mask * beta, dim=-1)
    return nn.CrossEntropyLoss(reduction="none")(
        shift_logits.reshape(-1, shift_logits.size(-1)), soft_label.reshape(-1, soft_label.size(-1)))


def ou_undial_loss(logits, teacher_logits, labels, beta):
    """compute_undial_loss: the mean over *all* shifted positions, prompt and padding included."""
    return ou_undial_position_losses(logits, teacher_logits, labels, beta).mean()


# ----- calling unlearnlab's methods on the same tensors ------------------------------------------------------
class TeacherLogits:
    """Stands in for FrozenOriginal: the original model's logits on the forget batch."""

    def __init__(self, logits):
        self._logits = logits

    def logits(self, batch):
        return self._logits


def ref_logp(ref_logits, labels):
    """log π_ref(y|x) per row, as the engine precomputes it: here from the oracle, not from unlearnlab."""
    return -ou_batch_nll(ref_logits, labels)


def forget_batch(b):
    """The forget batch a method sees: labels, log π_ref of the answer, and the preferred answer (DPO)."""
    preferred = {"labels": b.win_labels, "ref_logp": ref_logp(b.win_ref_logits, b.win_labels)}
    return {"labels": b.labels, "ref_logp": ref_logp(b.ref_logits, b.labels), "preferred": preferred}


def unlearnlab_loss(name, b, logits, win_logits=None, **hyperparameters):
    """unlearnlab's forget loss for method ``name`` on the batch, from the given (grad-tracking) logits."""
    method = get_method(name, **hyperparameters)
    streams = {"forget": logits, "preferred": win_logits}
    return method.forget_loss(streams, forget_batch(b), TeacherLogits(b.ref_logits))


def assert_same_loss_and_gradient(ours, oracle, *inputs):
    """Equal values, and equal gradients with respect to the logits (so stop-gradients match too)."""
    torch.testing.assert_close(ours.double(), oracle, **TOLERANCE)
    for g_ours, g_oracle in zip(torch.autograd.grad(ours, inputs), torch.autograd.grad(oracle, inputs)):
        torch.testing.assert_close(g_ours.double(), g_oracle, **TOLERANCE)


def test_the_batch_is_awkward(batch):
    """Guard for the tests below: masked prompts, padding and unequal answer lengths are all present."""
    scored = batch.labels[:, 1:] != -100
    assert sorted(set(scored.sum(1).tolist())) == sorted(set(ANSWER_LENGTHS))
    assert not scored[:, :2].any() and (~scored).sum() > scored.sum()
    assert (batch.labels[:, 0] == -100).all()  # see ou_simnpo_loss's docstring
    per_token_nll = ou_batch_nll(batch.logits, batch.labels) / scored.sum(1)
    assert per_token_nll.min() < 0.1 and per_token_nll.max() > 5  # memorised and unknown answers alike


# ----- the comparisons ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.1, 1.0, 5.0])
def test_npo_matches_open_unlearning(batch, beta):
    logits = batch.logits.clone().requires_grad_()
    ours = unlearnlab_loss("npo", batch, logits, beta=beta)
    oracle = ou_npo_loss(logits, batch.ref_logits, batch.labels, beta)
    assert_same_loss_and_gradient(ours, oracle, logits)


@pytest.mark.parametrize("beta, delta", [(4.5, 0.0), (2.5, 1.0), (0.5, 3.0)])
def test_simnpo_matches_open_unlearning(batch, beta, delta):
    logits = batch.logits.clone().requires_grad_()
    ours = unlearnlab_loss("simnpo", batch, logits, beta=beta, delta=delta)
    oracle = ou_simnpo_loss(logits, batch.labels, beta, delta)
    assert_same_loss_and_gradient(ours, oracle, logits)


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_dpo_matches_open_unlearning(batch, beta):
    """unlearnlab's DPO prefers a refusal; open-unlearning's prefers the dataset's alternate answer.

    Which answer wins is data, not formula: here both get the same preferred answer.
    """
    logits = batch.logits.clone().requires_grad_()
    win_logits = batch.win_logits.clone().requires_grad_()
    ours = unlearnlab_loss("dpo", batch, logits, win_logits, beta=beta)
    oracle = ou_dpo_loss(beta, win=(win_logits, batch.win_ref_logits, batch.win_labels),
                         lose=(logits, batch.ref_logits, batch.labels))
    assert_same_loss_and_gradient(ours, oracle, logits, win_logits)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_wga_matches_open_unlearning(batch, beta):
    logits = batch.logits.clone().requires_grad_()
    ours = unlearnlab_loss("wga", batch, logits, beta=beta)
    oracle = ou_wga_loss(logits, batch.labels, beta)
    assert_same_loss_and_gradient(ours, oracle, logits)


@pytest.mark.parametrize("beta", [1.0, 10.0])
def test_undial_matches_open_unlearning_on_answer_tokens(batch, beta):
    """A deliberate difference in the reduction.

    open-unlearning averages UNDIAL's per-position cross-entropy over *every*
    shifted position, prompt and padding included (distilling the teacher there,
    with the −100 label lowering token VOCAB − 100).  unlearnlab averages over
    answer tokens only, like every other loss in both code bases.  Conversion:
    take open-unlearning's per-position losses and average them over the answer
    tokens.  On this batch the two reductions differ, so the test also shows
    that the conversion is needed.
    """
    logits = batch.logits.clone().requires_grad_()
    ours = unlearnlab_loss("undial", batch, logits, beta=beta)
    positions = ou_undial_position_losses(logits, batch.ref_logits, batch.labels, beta)
    on_answers = batch.labels[:, 1:].reshape(-1) != -100
    assert_same_loss_and_gradient(ours, positions[on_answers].mean(), logits)
    assert not torch.isclose(ours.double(), positions.mean(), rtol=1e-3)


def test_undial_equals_open_unlearning_when_every_position_is_scored(batch):
    """With no prompt and no padding (only label 0 unscored) the two reductions coincide, unconverted."""
    labels = make_labels(0)
    labels[:, 1:] = torch.randint(VOCAB, (labels.shape[0], WIDTH - 1), generator=torch.Generator().manual_seed(6))
    batch.labels = labels
    logits = batch.logits.clone().requires_grad_()
    ours = unlearnlab_loss("undial", batch, logits, beta=10.0)
    assert_same_loss_and_gradient(ours, ou_undial_loss(logits, batch.ref_logits, labels, 10.0), logits)


# ----- the same, through Method.compute_loss (one forward, prompt positions skipped) --------------------------
class FixedLogits(nn.Module):
    """A 'model' whose logits are given: lets compute_loss run its real path on the fixed batch."""

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("table", logits)

    def forward(self, input_ids, attention_mask, logits_to_keep=0):
        assert input_ids.shape == self.table.shape[:2]
        return types.SimpleNamespace(logits=self.table[:, -logits_to_keep:])


def model_batch(labels, **extra):
    ids = labels.clamp_min(0)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels, **extra}


@pytest.mark.parametrize("name, oracle", [
    ("npo", lambda b: ou_npo_loss(b.logits, b.ref_logits, b.labels, 0.1)),
    ("simnpo", lambda b: ou_simnpo_loss(b.logits, b.labels, 4.5, 0.0)),
    ("wga", lambda b: ou_wga_loss(b.logits, b.labels, 1.0)),
    ("undial", lambda b: ou_undial_position_losses(b.logits, b.ref_logits, b.labels, 10.0)
     [b.labels[:, 1:].reshape(-1) != -100].mean()),  # the answer-token mean, as above
    ("dpo", lambda b: ou_dpo_loss(0.1, win=(b.win_logits, b.win_ref_logits, b.win_labels),
                                  lose=(b.logits, b.ref_logits, b.labels))),
])
def test_compute_loss_reports_the_open_unlearning_forget_loss(batch, name, oracle):
    """The engine's path skips the shared prompt columns (here the first 2) before computing any loss."""
    method = get_method(name, alpha=0.0)  # forget term only; defaults as in open-unlearning's configs
    forget = model_batch(batch.labels, ref_logp=ref_logp(batch.ref_logits, batch.labels),
                         preferred=model_batch(batch.win_labels,
                                               ref_logp=ref_logp(batch.win_ref_logits, batch.win_labels)))
    stacked = torch.cat([batch.logits, batch.win_logits]) if name == "dpo" else batch.logits
    reference = FrozenOriginal(FixedLogits(batch.ref_logits))
    _, parts = method.compute_loss(FixedLogits(stacked), forget, None, reference)
    torch.testing.assert_close(parts["forget"].double(), oracle(batch), **TOLERANCE)
