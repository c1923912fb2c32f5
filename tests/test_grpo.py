"""GRPO and Dr. GRPO: their expected first-pass update, enumerated over every group of G
responses of a tiny world, and what it must (and must not) be invariant to; the same
invariance along whole runs of the kernel. The kernel's steps are checked against a plain
re-implementation in test_pg.py."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from test_pg import P_, T_, V_, actions, finite_difference, flat, kernel_steps, table, tiny_world
from test_pg import tiny_policy as random_world

from simrl.kernels import pg
from simrl.policy import enumerate_responses

G = 3  # responses per prompt (rloo_k)


def responses(theta, u, U, shared):
    """Per prompt: each response's probability, action count and score vector
    sum_t d log pi(y_t | s_t) / d params (flattened as test_pg.flat)."""
    logp = table(theta, u, U)
    tokens, lengths = enumerate_responses(V_, T_)
    out = []
    for x in range(P_):
        probs, counts, scores = [], [], []
        for row, length in zip(tokens, lengths, strict=True):
            acts = actions(row, length)
            gt, gu, gU = np.zeros_like(theta), np.zeros_like(u), np.zeros_like(U)
            prev, lp = 0, 0.0
            for t, a in enumerate(acts):
                lp += logp[x, t, prev, a]
                pg.add_score(gt, gu, gU, shared, x, t, prev, np.exp(logp[x, t, prev]), a, 1.0)
                prev = a
            probs.append(math.exp(lp))
            counts.append(len(acts))
            scores.append(flat(gt, gu, gU, shared))
        out.append((np.array(probs), np.array(counts), np.array(scores)))
    return out


def expected_update(world, rewards, std_norm):
    """E over prompts (uniform) and over G i.i.d. responses of the per-sample updates at step
    size 1 on the first pass (rho = 1, nothing clipped), KL coefficient 0:
    (1/P) sum_x sum_y pi(y) E[c(y_1) | y_1 = y] S(y) by symmetry of the G samples, with the
    kernel's advantages (group_advantages) and per-token coefficients (sample_coefs;
    GRPO divides by the response's action count)."""
    total = 0.0
    coef = np.zeros(T_)
    for x, (probs, counts, scores) in enumerate(world):
        n = len(probs)
        idx = np.array(list(itertools.product(range(n), repeat=G)))  # every ordered group
        r = rewards[x][idx].ravel()
        adv = np.zeros_like(r)
        pg.group_advantages(r, G, std_norm, adv)
        first = adv.reshape(-1, G)[:, 0]
        weight = np.prod(probs[idx[:, 1:]], axis=1)  # P(the other G - 1 responses)
        mean_a = np.bincount(idx[:, 0], weights=weight * first, minlength=n)  # E[A_1 | y_1]
        for y in range(n):
            m = counts[y]
            w = 1.0 / m if std_norm else 1.0
            z = np.zeros(T_)
            pg.sample_coefs(w * mean_a[y], 0.0, z, z, z, m, True, 0.2, pg.KL_K1, coef)
            assert np.all(coef[:m] == coef[0])  # one coefficient along the response
            total = total + probs[y] * coef[0] * scores[y]
    return total / P_


def reward_table(seed):
    """Distinct rewards per prompt, at least 4/14 apart, so that every group with two
    different responses has an SD far above GRPO's epsilon."""
    rng = np.random.default_rng(seed)
    n = len(enumerate_responses(V_, T_)[1])
    return [rng.permutation(np.linspace(-2.0, 2.0, n)) for _ in range(P_)]


@pytest.mark.parametrize("shared", [False, True])
def test_grpo_is_invariant_to_a_positive_affine_map_of_the_reward_per_prompt(shared):
    """Group normalization: r -> c r + d(x), c > 0, leaves GRPO's expected update unchanged
    (exactly for d; for c up to epsilon / (c SD), here < 1e-3); Dr. GRPO's is unchanged by
    d and multiplied by c."""
    _, theta, u, U = random_world(3, shared, 1.0)
    world = responses(theta, u, U, shared)
    r = reward_table(4)
    d = np.random.default_rng(5).normal(0.0, 10.0, P_)
    shift = [r[x] + d[x] for x in range(P_)]
    for std_norm in (True, False):
        base = expected_update(world, r, std_norm)
        assert np.linalg.norm(base) > 1e-3
        np.testing.assert_allclose(
            expected_update(world, shift, std_norm), base, rtol=1e-9, atol=1e-12
        )
    base = expected_update(world, r, True)
    for c in (3.0, 100.0):
        scaled = expected_update(world, [c * r[x] + d[x] for x in range(P_)], True)
        assert np.linalg.norm(scaled - base) < 1e-3 * np.linalg.norm(base)
    dr = expected_update(world, r, False)
    np.testing.assert_allclose(
        expected_update(world, [3.0 * r[x] + d[x] for x in range(P_)], False), 3.0 * dr,
        rtol=1e-9, atol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize("shared", [False, True])
def test_dr_grpo_is_the_policy_gradient_scaled_by_g_minus_1_over_g(shared):
    """Dr. GRPO's advantage r - mean r includes the sample itself, so its expected update is
    ((G - 1)/G) grad E_pi[r] exactly (finite differences of the enumerated expected reward);
    GRPO's is not a multiple of it (the SD and the 1/|o| weighting bias it)."""
    _, theta, u, U = random_world(6, shared, 1.0)
    world = responses(theta, u, U, shared)
    r = reward_table(7)
    tokens, lengths = enumerate_responses(V_, T_)

    def expected_reward(th, uu, UU):
        logp = table(th, uu, UU)
        total = 0.0
        for x in range(P_):
            for i, (row, length) in enumerate(zip(tokens, lengths, strict=True)):
                prev, lp = 0, 0.0
                for t, a in enumerate(actions(row, length)):
                    lp += logp[x, t, prev, a]
                    prev = a
                total += math.exp(lp) * r[x][i]
        return total / P_

    grad = finite_difference(expected_reward, theta, u, U, shared)
    dr = expected_update(world, r, False)
    np.testing.assert_allclose(dr, (G - 1) / G * grad, rtol=1e-6, atol=1e-9 * np.abs(grad).max())
    grpo = expected_update(world, r, True)
    cos = grpo @ grad / (np.linalg.norm(grpo) * np.linalg.norm(grad))
    assert 0.0 < cos < 0.999


def test_group_advantages_match_numpy_and_py_func():
    rng = np.random.default_rng(0)
    r = rng.standard_normal(24)
    r[:4] = 1.5  # a group of equal rewards: A = 0, not 0/0
    for std_norm in (True, False):
        a, b = np.zeros(24), np.zeros(24)
        pg.group_advantages(r, 4, std_norm, a)
        pg.group_advantages.py_func(r, 4, std_norm, b)
        g = r.reshape(-1, 4)
        want = g - g.mean(axis=1, keepdims=True)
        if std_norm:
            want = want / (g.std(axis=1, ddof=1, keepdims=True) + pg.GRPO_EPS)
        np.testing.assert_allclose(a, want.ravel(), rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(a, b)
        assert np.all(a[:4] == 0.0)


@pytest.mark.parametrize("shared", [False, True])
def test_grpo_runs_ignore_the_rewards_scale_and_offsets_and_dr_grpo_runs_do_not(shared):
    """Along 8 kernel steps (3 clipped epochs each, the k3 loss, which does not touch the
    reward): GRPO ends where it ends with 1.7 r + d(x), up to the epsilon in the SD; Dr.
    GRPO moves differently."""
    s = tiny_world()
    d = np.array([0.3, -2.0, 5.0])
    ends = {}
    for std_norm in (True, False):
        for affine in (None, (1.7, d)):
            got = kernel_steps(
                s, pg.ALGO_GRPO, pg.KL_K3, shared, 8, np.random.default_rng(11), lr=0.3,
                affine=affine, std_norm=std_norm,
            )  # fmt: skip
            ends[std_norm, affine is None] = got[0] + got[1] + got[2][:, None, None, :]
    moved = np.abs(ends[True, True] - s.ref.logits).max()
    assert moved > 0.05
    assert np.abs(ends[True, False] - ends[True, True]).max() < 1e-3 * moved
    assert np.abs(ends[False, False] - ends[False, True]).max() > 0.05 * moved
