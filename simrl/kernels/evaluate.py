"""Sample responses from a policy and score them by gold and proxy (or the proxy alone)
without storing them."""

from __future__ import annotations

import numpy as np
from numba import njit

from simrl.kernels.reward import gold_score, proxy_one, proxy_scratch
from simrl.kernels.sampling import sample_one


@njit(cache=True)
def sample_and_score(
    cdf: np.ndarray, prompts: np.ndarray, rng: np.random.Generator, rm: tuple, gold: tuple
):
    """For each prompt in ``prompts`` draw one response and return ``(gold, proxy, length)``.

    ``rm`` and ``gold`` are the specs of :mod:`simrl.kernels.reward`.
    """
    N = prompts.shape[0]
    T, A = cdf.shape[1], cdf.shape[3]
    V = A - 1
    g = np.empty(N)
    p = np.empty(N)
    lens = np.empty(N)
    row = np.zeros(T, np.int64)
    counts, fidx, fval, h, rs = proxy_scratch(rm, V, T)
    for n in range(N):
        x = prompts[n]
        L = sample_one(cdf, x, rng, row)
        g[n] = gold_score(x, row, L, gold, counts)
        p[n] = proxy_one(x, row, L, rm, counts, fidx, fval, h, rs)
        lens[n] = L
    return g, p, lens


@njit(cache=True)
def sample_and_score_proxy(
    cdf: np.ndarray, prompts: np.ndarray, rng: np.random.Generator, rm: tuple
):
    """For each prompt in ``prompts`` draw one response and return its proxy reward.

    Draws the same responses from ``rng`` as :func:`sample_and_score`; for checkpoints whose
    gold and length are computed exactly (:mod:`simrl.kernels.moments`).
    """
    N = prompts.shape[0]
    T, A = cdf.shape[1], cdf.shape[3]
    V = A - 1
    p = np.empty(N)
    row = np.zeros(T, np.int64)
    counts, fidx, fval, h, rs = proxy_scratch(rm, V, T)
    for n in range(N):
        x = prompts[n]
        L = sample_one(cdf, x, rng, row)
        p[n] = proxy_one(x, row, L, rm, counts, fidx, fval, h, rs)
    return p
