"""Sophia (SOUL's second-order optimiser): one step by hand, the Hessian estimate, and a short unlearning run."""
from __future__ import annotations

import datasets
import pytest
import torch

from unlearnlab.training import UnlearnConfig, unlearn
from unlearnlab.training.sophia import Sophia, gnb_estimate

FORGET = datasets.Dataset.from_list([
    {"question": "Where was Ada Quillon born?", "answer": "Ada Quillon was born in Lisbon."},
    {"question": "What genre does Ben Marrow write?", "answer": "Ben Marrow writes mystery novels."},
])


def test_one_step_matches_the_hand_computed_update():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = Sophia([p], lr=0.1, betas=(0.9, 0.99), gamma=0.5, weight_decay=0.0)
    opt.update_hessian([torch.tensor([1.0, 0.5, 100.0])])  # h = 0.01 · estimate = (0.01, 0.005, 1.0)
    p.grad = torch.tensor([0.1, -0.2, 0.3])
    opt.step()
    # m = 0.1·g = (0.01, −0.02, 0.03); γh = (0.005, 0.0025, 0.5); m/γh = (2, −8, 0.06) -> clip (1, −1, 0.06)
    assert torch.allclose(p.detach(), torch.tensor([1.0 - 0.1, -2.0 + 0.1, 0.5 - 0.1 * 0.06]), atol=1e-7)


def test_weight_decay_and_no_hessian_give_sign_steps():
    p = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
    opt = Sophia([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.tensor([1e-3, -5.0])
    opt.step()  # h = 0: every ratio is clipped, so the step is −lr·sign(g) after decay by 1 − lr·wd = 0.95
    assert torch.allclose(p.detach(), torch.tensor([2.0 * 0.95 - 0.1, -1.0 * 0.95 + 0.1]))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="optimizer"):
        UnlearnConfig(optimizer="lion")
    with pytest.raises(ValueError, match="sophia_gamma"):
        UnlearnConfig(optimizer="sophia", sophia_gamma=0.0)


def test_gnb_estimate_is_nonnegative_and_leaves_grads_alone(tiny_lm):
    from unlearnlab.formats import encode_dataset
    from unlearnlab.training.pairs import PairCollator

    model, tok = tiny_lm
    rows = list(encode_dataset(FORGET, tok))
    batch = PairCollator(tok.pad_token_id)([{"s": r} for r in rows])["s"]
    params = [p for p in model.parameters() if p.requires_grad]
    estimates = gnb_estimate(model, batch, params, generator=torch.Generator().manual_seed(0))
    assert all(p.grad is None for p in params)
    present = [e for e in estimates if e is not None]
    assert present and all((e >= 0).all() for e in present) and sum(float(e.sum()) for e in present) > 0


def test_unlearning_with_sophia_raises_the_forget_loss(tiny_lm, monkeypatch):
    from unlearnlab.formats import encode_dataset
    from unlearnlab.training import influence as inf
    from unlearnlab.training import trainer as trainer_module

    calls = []
    real = trainer_module.gnb_estimate
    monkeypatch.setattr(trainer_module, "gnb_estimate", lambda *a, **k: calls.append(1) or real(*a, **k))

    model, tok = tiny_lm
    encoded = encode_dataset(FORGET, tok)
    before = inf.losses(model, encoded, tok.pad_token_id).mean()
    unlearned, log = unlearn(model, tok, "ga", FORGET, optimizer="sophia", sophia_hessian_every=2,
                             learning_rate=1e-3, max_steps=4, per_device_train_batch_size=2, disable_tqdm=True)
    after = inf.losses(unlearned, encoded, tok.pad_token_id).mean()
    assert log.hyperparameters["optimizer"] == "sophia"
    assert after > before + 0.05
    assert len(calls) == 2  # Hessian estimates before steps 1 and 3 (global steps 0 and 2)
