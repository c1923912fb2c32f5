"""Occupancy chi^2: occupancies against enumeration of every response, the gradient against
finite differences, the regularizer's step, data processing under pooling, and the
regularizer inside the policy-gradient step."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from conftest import finite_difference, random_logits, tiny_config
from hypothesis import given
from hypothesis import strategies as st

from simrl.build import build
from simrl.config import ConfigError
from simrl.kernels import occupancy as kocc
from simrl.kernels import pg
from simrl.occupancy import OccupancyChi2, occupancy_measure
from simrl.optimize import Target, optimize
from simrl.policy import TabularPolicy, compose_logits, enumerate_responses, shared_logit_grads
from simrl.policy_gradient import chi2_reference


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
    grads = [g, gu, gU] if shared else [g]

    def chi2_of(th, uu, UU):
        return reg.value_and_grad(compose_logits(th, uu, UU))[0]

    fd = finite_difference(chi2_of, theta, u, U, shared, h=1e-6)
    np.testing.assert_allclose(np.concatenate([a.ravel() for a in grads]), fd, atol=1e-8, rtol=1e-5)
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
    # The value alone is the gradient kernel's value, bit for bit, and its py_func's.
    assert kocc.chi2_value(logp, reg.d_ref) == c == reg.value(TabularPolicy(logits))
    assert kocc.chi2_value.py_func(logp, reg.d_ref) == pytest.approx(c, rel=1e-12)


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


# --- The regularizer inside the policy-gradient step (policy.occupancy_chi2) ----------------


def pg_run(s, theta0, shared, chi2, n_steps, seed, algo=pg.ALGO_RLOO, r_mul=1.0, beta=0.05):
    """``n_steps`` of policy_steps on the proxy (times ``r_mul``) from ``theta0``, one call
    per step; returns the effective logits after every step."""
    P, _T, V = s.ref.shape
    theta, u, U = theta0.copy(), np.zeros(V + 1), np.zeros((P, V + 1))
    state, rng = np.array([beta, np.nan]), np.random.default_rng(seed)
    target = Target.proxy(s.rm)
    out = []
    for _ in range(n_steps):
        ok = pg.policy_steps(
            theta, u, U, shared, s.ref.logp(), target.source, target.rm, target.gold, r_mul,
            target.add, False, algo, pg.KL_K1, 0.0, 1e4, 4, P, 0.05, 1, 0.2, False, 0.9,
            True, chi2, chi2_reference(s.ref, chi2), 1, rng, np.zeros((1, 3)), state,
        )  # fmt: skip
        assert ok
        out.append(compose_logits(theta, u, U))
    return out


@functools.lru_cache(maxsize=1)
def tiny_world():
    return build(tiny_config())


def perturbed(s, scale=0.7, seed=8):
    return s.ref.logits + scale * np.random.default_rng(seed).standard_normal(s.ref.logits.shape)


@pytest.mark.parametrize("shared", [False, True])
def test_with_only_the_chi2_term_the_policy_returns_to_the_reference(shared):
    """A constant reward (r_mul = 0: every RLOO advantage is exactly 0) and no KL penalty
    leave only lambda chi^2: from a perturbed start chi^2 falls at every step (small lr) and
    the policy comes back towards pi_ref in KL too."""
    s = tiny_world()
    reg = OccupancyChi2.of(s.ref)
    theta0 = perturbed(s)
    logits = pg_run(s, theta0, shared, 1.0 if shared else 5.0, 40, 0, r_mul=0.0, beta=0.0)
    chi2 = [reg.value(TabularPolicy(theta0))] + [reg.value(TabularPolicy(z)) for z in logits]
    assert np.all(np.diff(chi2) < 0) and chi2[-1] < 0.7 * chi2[0]
    kl0 = TabularPolicy(theta0).kl(s.ref).mean()
    assert TabularPolicy(logits[-1]).kl(s.ref).mean() < 0.8 * kl0
    flat = pg_run(s, theta0, shared, 0.0, 3, 0, r_mul=0.0, beta=0.0)  # lambda = 0: no move
    np.testing.assert_array_equal(flat[-1], theta0)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("algo", [pg.ALGO_REINFORCE, pg.ALGO_RLOO])
def test_combined_step_is_the_pg_step_plus_the_chi2_step(algo, shared):
    """One step with lambda > 0 moves the logits by the same step with lambda = 0 (same
    samples: the regularizer draws nothing) plus OccupancyChi2.step from the same point."""
    s = tiny_world()
    P, _T, V = s.ref.shape
    theta0 = perturbed(s, 0.5, 9)
    (both,) = pg_run(s, theta0, shared, 3.0, 1, 4, algo)
    (pg_only,) = pg_run(s, theta0, shared, 0.0, 1, 4, algo)
    theta, u, U = theta0.copy(), np.zeros(V + 1), np.zeros((P, V + 1))
    OccupancyChi2.of(s.ref).step(theta, u, U, shared, 3.0, 0.05)
    chi2_only = compose_logits(theta, u, U)
    assert np.abs(chi2_only - theta0).max() > 1e-3 and np.abs(pg_only - theta0).max() > 1e-3
    np.testing.assert_allclose(both - theta0, (pg_only - theta0) + (chi2_only - theta0), atol=1e-13)


def test_occupancy_chi2_is_wired_through_the_config():
    """policy.occupancy_chi2 reaches the kernel: the same run with lambda > 0 ends nearer
    the reference's occupancy, and the config refuses it where it has no meaning."""
    cfg = tiny_config(policy={"steps": 60, "eval_every": 60, "lr": 0.2})
    s = tiny_world()
    ends = []
    for lam in (0.0, 2.0):
        pcfg = dataclasses.replace(cfg.policy, occupancy_chi2=lam)
        pol, _ = optimize(s.ref, Target.proxy(s.rm), pcfg, np.random.default_rng(3), _ignore)
        ends.append(OccupancyChi2.of(s.ref).value(pol))
    assert ends[1] < 0.8 * ends[0]
    for opt in ("dpo", "bon"):
        with pytest.raises(ConfigError, match=r"policy\.occupancy_chi2"):
            tiny_config(policy={"optimizer": opt, "occupancy_chi2": 1.0})


def _ignore(_step, _policy) -> None:
    pass
