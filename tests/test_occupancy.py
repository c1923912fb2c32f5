"""Occupancy chi^2: occupancies against enumeration of every response, the gradient against
finite differences, the regularizer's step, and data processing under pooling."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_logits
from hypothesis import given
from hypothesis import strategies as st

from simrl.kernels import occupancy as kocc
from simrl.occupancy import OccupancyChi2, occupancy_measure
from simrl.policy import TabularPolicy, compose_logits, enumerate_responses, shared_logit_grads


def enumerated_visits(policy: TabularPolicy, pool: bool) -> np.ndarray:
    """Expected visits of each (x, t, prev, a) per response, by walking every response of
    every prompt and weighting its steps by its probability (EOS a step when emitted)."""
    P, T, V = policy.shape
    tokens, lengths = enumerate_responses(V, T)
    d = np.zeros((P, 1 if pool else T, V + 1, V + 1))
    for x in range(P):
        px = np.full(len(lengths), x, np.int64)
        prob = np.exp(policy.sequence_logprobs(px, tokens, lengths))
        for y, n, p in zip(tokens, lengths, prob, strict=True):
            prev = 0
            for t in range(n + 1 if n < T else T):
                a = y[t] if t < n else 0
                d[x, 0 if pool else t, prev, a] += p
                prev = a
    return d


def enumerated_chi2(policy: TabularPolicy, ref: TabularPolicy, pool: bool) -> float:
    mu = enumerated_visits(policy, pool)
    mu_ref = enumerated_visits(ref, pool)
    mu, mu_ref = mu / mu.sum(), mu_ref / mu_ref.sum()
    live = mu_ref > 0
    return float((mu[live] ** 2 / mu_ref[live]).sum() - 1.0)


@pytest.mark.parametrize("pool", [False, True])
def test_occupancy_and_chi2_match_enumeration(pool):
    rng = np.random.default_rng(0)
    P, T, V = 2, 3, 2
    ref = TabularPolicy(random_logits(rng, P, T, V, 1.0))
    pol = TabularPolicy(ref.logits + random_logits(rng, P, T, V, 0.7))
    d, _ = kocc.state_action_occupancy(pol.logp(), pool)
    np.testing.assert_allclose(d, enumerated_visits(pol, pool), atol=1e-13)
    np.testing.assert_allclose(occupancy_measure(pol, pool).sum(), 1.0)
    chi2 = OccupancyChi2.of(ref, pool).value(pol)
    assert chi2 == pytest.approx(enumerated_chi2(pol, ref, pool), rel=1e-10)
    assert chi2 > 0.05
    assert OccupancyChi2.of(ref, pool).value(ref) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("shared", [False, True])
def test_chi2_gradient_matches_finite_differences(shared, pool):
    rng = np.random.default_rng(1)
    P, T, V = 2, 3, 2
    ref = TabularPolicy(random_logits(rng, P, T, V, 1.0))
    reg = OccupancyChi2.of(ref, pool)
    theta = ref.logits + random_logits(rng, P, T, V, 0.5)
    u = 0.4 * rng.standard_normal(V + 1) if shared else np.zeros(V + 1)
    U = 0.4 * rng.standard_normal((P, V + 1)) if shared else np.zeros((P, V + 1))
    _, g = reg.value_and_grad(compose_logits(theta, u, U))
    gu, gU = shared_logit_grads(g)
    params, grads = ([theta, u, U], [g, gu, gU]) if shared else ([theta], [g])
    eps = 1e-6
    for arr, grad in zip(params, grads, strict=True):
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = reg.value_and_grad(compose_logits(theta, u, U))[0]
            arr[idx] = old - eps
            down = reg.value_and_grad(compose_logits(theta, u, U))[0]
            arr[idx] = old
            fd[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, fd, atol=1e-8, rtol=1e-5)
    assert np.abs(g).max() > 1e-2


def test_kernels_match_py_func_and_gradient_vanishes_at_reference():
    rng = np.random.default_rng(2)
    P, T, V = 3, 4, 3
    ref = TabularPolicy(random_logits(rng, P, T, V, 1.0))
    reg = OccupancyChi2.of(ref)
    logits = ref.logits + random_logits(rng, P, T, V, 0.5)
    logp = TabularPolicy(logits).logp()
    g, g_py = np.zeros_like(logits), np.zeros_like(logits)
    c = kocc.chi2_grad(logp, reg.d_ref, g)
    assert kocc.chi2_grad.py_func(logp, reg.d_ref, g_py) == pytest.approx(c, rel=1e-12)
    np.testing.assert_allclose(g_py, g, atol=1e-13)
    chi2_ref, g_ref = reg.value_and_grad(ref.logits)  # the minimum: chi^2 = 0, flat
    assert abs(chi2_ref) < 1e-12 and np.abs(g_ref).max() < 1e-12


@pytest.mark.parametrize("shared", [False, True])
def test_step_descends_chi2_and_moves_only_with_a_coefficient(shared):
    rng = np.random.default_rng(3)
    P, T, V = 2, 4, 3
    ref = TabularPolicy(random_logits(rng, P, T, V, 1.0))
    reg = OccupancyChi2.of(ref)
    theta = ref.logits + random_logits(rng, P, T, V, 0.5)
    u, U = np.zeros(V + 1), np.zeros((P, V + 1))
    before = theta.copy()
    reg.step(theta, u, U, shared, 0.0, 0.1)
    np.testing.assert_array_equal(theta, before)
    lr = 0.1 if shared else 1.0  # u and U collect the gradient of every state
    chi2 = [reg.step(theta, u, U, shared, 1.0, lr) for _ in range(50)]
    assert np.all(np.diff(chi2) < 0) and chi2[-1] < 0.5 * chi2[0]
    assert (np.abs(u).max() > 0) == shared


@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.05, 3.0))
def test_pooling_positions_never_increases_chi2(seed, scale):
    """Summing the position out of the state is a coarsening (data processing inequality)."""
    rng = np.random.default_rng(seed)
    ref = TabularPolicy(random_logits(rng, 2, 3, 3, 1.0))
    pol = TabularPolicy(ref.logits + random_logits(rng, 2, 3, 3, scale))
    full = OccupancyChi2.of(ref).value(pol)
    pooled = OccupancyChi2.of(ref, pool_positions=True).value(pol)
    assert -1e-12 <= pooled <= full + 1e-12
