"""Invariants of the pairwise losses (DESIGN.md section 1; sources 000 and 001)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simrl.kernels.rm import LOSS_BT, batch_loss_grad

finite = st.floats(-20, 20, allow_nan=False)
rewards = st.integers(1, 12).flatmap(
    lambda B: st.tuples(
        arrays(np.float64, B, elements=finite), arrays(np.float64, B, elements=finite)
    )
)


def loss(rw, rl, center=0.0, bsr=0.0):
    B = rw.shape[0]
    return batch_loss_grad(rw, rl, LOSS_BT, 0.0, 0.0, center, bsr, np.zeros(B), np.zeros(B))


def penalty(rw, rl, center=0.0, bsr=0.0):
    """The regularizer alone: total loss minus plain Bradley-Terry."""
    return loss(rw, rl, center, bsr) - loss(rw, rl)


@given(rewards, st.integers(1, 4), st.data())
def test_bt_is_invariant_to_a_per_prompt_shift(pair, n_prompts, data):
    """-log sigma(r_w - r_l) depends on differences only: r -> r + c(x) changes nothing."""
    rw, rl = pair
    prompts = data.draw(arrays(np.int64, rw.shape, elements=st.integers(0, n_prompts - 1)))
    shift = data.draw(arrays(np.float64, n_prompts, elements=finite))[prompts]
    assert math.isclose(loss(rw + shift, rl + shift), loss(rw, rl), rel_tol=1e-9, abs_tol=1e-9)


@given(rewards, finite)
def test_centering_and_bsr_see_the_shift(pair, c):
    rw, rl = pair
    s = rw + rl
    m = s.mean() / 2  # mean of the 2B rewards
    assume(abs(c) > 1e-3 and abs(c + 2 * m) > 1e-3 and abs(c + s.mean()) > 1e-3)
    # centering: c' mean (s_i + 2c)^2 differs from c' mean s_i^2 unless c = -mean(s)
    assert not math.isclose(
        penalty(rw + c, rl + c, center=0.5), penalty(rw, rl, center=0.5), rel_tol=1e-9, abs_tol=1e-9
    )
    # BSR: lambda B (m + c)^2 differs from lambda B m^2 unless c = 0 or c = -2m
    assert not math.isclose(
        penalty(rw + c, rl + c, bsr=0.5), penalty(rw, rl, bsr=0.5), rel_tol=1e-9, abs_tol=1e-9
    )


@given(rewards, st.floats(1e-3, 10))
def test_bsr_is_exactly_the_formula(pair, lam):
    rw, rl = pair
    B = rw.shape[0]
    want = lam * B * ((rw.sum() + rl.sum()) / (2 * B)) ** 2
    assert math.isclose(penalty(rw, rl, bsr=lam), want, rel_tol=1e-7, abs_tol=1e-9)


@given(rewards, st.floats(1e-3, 10))
def test_bsr_is_zero_iff_the_batch_sums_to_zero(pair, lam):
    rw, rl = pair
    centred_w, centred_l = rw - (rw.sum() + rl.sum()) / (2 * rw.size), rl.copy()
    centred_l -= (rl.sum() + centred_w.sum()) / rl.size  # now the 2B rewards sum to ~0
    assert abs(penalty(centred_w, centred_l, bsr=lam)) < 1e-9
    s = rw.sum() + rl.sum()
    assume(abs(s) > 1e-3)
    assert penalty(rw, rl, bsr=lam) > 0


@given(rewards, st.floats(1e-3, 10), st.randoms(use_true_random=False))
def test_bsr_is_invariant_to_permuting_pairs(pair, lam, rnd):
    rw, rl = pair
    perm = list(range(rw.size))
    rnd.shuffle(perm)
    assert math.isclose(
        penalty(rw[perm], rl[perm], bsr=lam), penalty(rw, rl, bsr=lam), rel_tol=1e-9, abs_tol=1e-9
    )


@given(rewards)
def test_bsr_gradient_is_the_same_for_every_reward(pair):
    """d/dr_j [lambda B m^2] = lambda m for all 2B rewards (Hong et al. 2025)."""
    rw, rl = pair
    B = rw.size
    g0w, g0l, g1w, g1l = (np.zeros(B) for _ in range(4))
    batch_loss_grad(rw, rl, LOSS_BT, 0.0, 0.0, 0.0, 0.0, g0w, g0l)
    batch_loss_grad(rw, rl, LOSS_BT, 0.0, 0.0, 0.0, 0.3, g1w, g1l)
    extra = np.concatenate([g1w - g0w, g1l - g0l])
    np.testing.assert_allclose(extra, 0.3 * (rw.sum() + rl.sum()) / (2 * B), atol=1e-12)
