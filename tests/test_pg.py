"""The policy-gradient kernel: its rows, its per-sample update and the expected update of each
KL penalty, checked by enumerating every response of a tiny world."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from simrl.kernels import pg
from simrl.kernels.softmax import softmax_row

seeds = st.integers(0, 2**32 - 1)


@given(seeds, st.sampled_from([1e-3, 1.0, 300.0]), st.booleans())
def test_policy_row_is_bit_identical_to_softmax_row(seed, scale, ties):
    """The kernel's rows must equal the shared softmax bit for bit: log pi - log pi_ref is
    then exactly 0 where the policies agree, and the speed-ups change no result."""
    rng = np.random.default_rng(seed)
    P, T, A = 2, 3, 5
    theta = scale * rng.standard_normal((P, T, A, A))
    if ties:  # equal maxima and exact zeros
        theta = np.round(theta)
    u, U = rng.standard_normal(A), rng.standard_normal((P, A))
    logits, lp, pr = np.zeros(A), np.zeros((2, A)), np.zeros((2, A))
    want_lp, want_pr = np.zeros(A), np.zeros(A)
    for x, t, prev in np.ndindex(P, T, A):
        pg.policy_row(theta, u, U, x, t, prev, logits, lp[1], pr[1])
        softmax_row(theta[x, t, prev] + u + U[x], want_lp, want_pr)
        assert np.array_equal(lp[1], want_lp) and np.array_equal(pr[1], want_pr)


def test_policy_row_propagates_nan_like_softmax_row():
    theta = np.zeros((1, 1, 4, 4))
    theta[0, 0, 0, 2] = np.nan
    logits, lp, pr = np.zeros(4), np.zeros(4), np.zeros(4)
    pg.policy_row(theta, np.zeros(4), np.zeros((1, 4)), 0, 0, 0, logits, lp, pr)
    assert np.isnan(lp).all() and np.isnan(pr).all()
