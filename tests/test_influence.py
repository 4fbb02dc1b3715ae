"""Influence functions and Newton removal (unlearnlab.training.influence) against hand-computed answers."""
from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch

from unlearnlab.training import influence as inf


def quadratic_problem(n: int = 6, d: int = 3, seed: int = 0):
    """ℓ_i(θ) = ½‖A_i θ − b_i‖²: every minimiser and Hessian is known in closed form."""
    rng = np.random.default_rng(seed)
    a = torch.tensor(rng.normal(size=(n, d, d)))
    b = torch.tensor(rng.normal(size=(n, d)))

    def item_loss(theta, i):
        return 0.5 * ((a[i] @ theta - b[i]) ** 2).sum()

    def minimiser(items):
        gram = sum(a[i].T @ a[i] for i in items)
        rhs = sum(a[i].T @ b[i] for i in items)
        return torch.linalg.solve(gram, rhs)

    return a, b, item_loss, minimiser


def test_newton_removal_lands_on_the_minimiser_without_the_removed_points():
    """With the Hessian of the loss *without* R the step is exact; with the full Hessian it is first-order close."""
    a, b, item_loss, minimiser = quadratic_problem(n=30)
    n = len(a)
    theta_hat = minimiser(range(n))
    removed = [1, 4]
    kept = [i for i in range(n) if i not in removed]
    mean_kept = lambda t: sum(item_loss(t, i) for i in kept) / n
    h_kept = inf.hessian(mean_kept, theta_hat)
    assert torch.allclose(h_kept, sum(a[i].T @ a[i] for i in kept) / n, atol=1e-10)  # hand-computed Hessian
    t = theta_hat.clone().requires_grad_(True)
    g_removed = torch.autograd.grad(sum(item_loss(t, i) for i in removed), t)[0]
    exact = minimiser(kept)
    stepped = inf.newton_removal(theta_hat, g_removed, lambda v: inf.damped_solve(h_kept, v, 0.0), n)
    assert torch.allclose(stepped, exact, atol=1e-8)
    h_all = sum(a[i].T @ a[i] for i in range(n)) / n
    first_order = inf.newton_removal(theta_hat, g_removed, lambda v: inf.damped_solve(h_all, v, 0.0), n)
    move = (exact - theta_hat).norm()
    assert (first_order - exact).norm() < 0.3 * move  # the error is second order in the removed share


def test_influence_on_a_quadratic_test_loss_matches_retraining_to_first_order():
    a, b, item_loss, minimiser = quadratic_problem(n=40, seed=1)
    n = len(a)
    theta_hat = minimiser(range(n))
    h = sum(a[i].T @ a[i] for i in range(n)) / n
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    test_loss = lambda t: 0.5 * ((t - target) ** 2).sum()
    g_test = theta_hat - target
    grads = torch.stack([a[i].T @ (a[i] @ theta_hat - b[i]) for i in range(n)])
    estimate = inf.influence_on_test(g_test, grads, torch.linalg.solve(h, g_test), n)
    truth = torch.stack([test_loss(minimiser([j for j in range(n) if j != i])) - test_loss(theta_hat)
                         for i in range(n)])
    assert inf.spearman(estimate.tolist(), truth.tolist()) > 0.95
    assert torch.allclose(estimate, truth, atol=0.1 * truth.abs().max())


def test_conjugate_gradient_and_lissa_solve_a_damped_system():
    rng = np.random.default_rng(2)
    m = torch.tensor(rng.normal(size=(5, 5)))
    h = m @ m.T / 5 + 0.1 * torch.eye(5, dtype=torch.float64)
    rhs = torch.tensor(rng.normal(size=5))
    exact = torch.linalg.solve(h, rhs)
    assert torch.allclose(inf.conjugate_gradient(lambda v: h @ v, rhs, iterations=50, tolerance=1e-12), exact,
                          atol=1e-8)
    scale = float(torch.linalg.eigvalsh(h).max()) * 1.1
    assert torch.allclose(inf.lissa(lambda v: h @ v, rhs, scale=scale, iterations=3000), exact, atol=1e-6)
    assert torch.allclose(inf.damped_solve(h - 0.1 * torch.eye(5, dtype=torch.float64), rhs, 0.1), exact, atol=1e-8)


def test_spearman_on_hand_ranks():
    assert inf.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert inf.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1,2,3) vs (1,3,2): d² = 0 + 1 + 1 -> 1 − 6·2/(3·8) = 0.5
    assert inf.spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def tiny_setup():
    from unlearnlab import models, worlds
    from unlearnlab.formats import encode_dataset
    from unlearnlab.models.tiny import build_tiny

    world = worlds.load("authors", n_authors=4, n_holdout=1)
    _, tokenizer = models.load("tiny", world)
    rows = list(world.tables["full"])[:12]
    encoded = encode_dataset(datasets.Dataset.from_list(rows), tokenizer)
    model = build_tiny(tokenizer, 32, 1, seed=0)
    model.config._attn_implementation = "eager"
    return model, tokenizer, encoded


def test_head_loss_is_the_network_loss_and_its_hessian_matches_autograd(tiny_setup):
    model, tokenizer, encoded = tiny_setup
    head = inf.HeadLoss(model, encoded, tokenizer.pad_token_id, index=torch.arange(0, 200, 10))
    theta = head.theta0()
    assert torch.allclose(head.losses(theta), inf.losses(model, encoded, tokenizer.pad_token_id), atol=1e-5)
    by_hand = torch.autograd.functional.hessian(lambda t: head.losses(t).mean(), theta)
    assert torch.allclose(head.hessian(theta, chunk=7), by_hand, atol=1e-6)
    grads = head.gradients(theta, [0, 3])
    t = theta.clone().requires_grad_(True)
    assert torch.allclose(grads[1], torch.autograd.grad(head.losses(t)[3], t)[0], atol=1e-7)


def test_fit_drops_exactly_the_left_out_terms(tiny_setup):
    """Same seed, nothing dropped: identical weights; one item dropped: different, and that item fits worse."""
    import copy

    model, tokenizer, encoded = tiny_setup
    pad = tokenizer.pad_token_id
    runs = []
    for drop in ((), (), (2,)):
        m = copy.deepcopy(model)
        inf.fit(m, encoded, pad, epochs=3, learning_rate=1e-2, batch_size=4, seed=0, drop=drop)
        runs.append(m)
    a, b, c = (torch.cat([p.detach().flatten() for p in m.parameters()]) for m in runs)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
