"""Sample responses from a policy and score them by gold and proxy (or the proxy alone)
without keeping them: responses are drawn and scored a chunk at a time
(:func:`simrl.kernels.reward.proxy_into`)."""

from __future__ import annotations

import numpy as np
from numba import njit

from simrl.kernels.reward import gold_score, proxy_into
from simrl.kernels.sampling import sample_one

CHUNK = 4096  # responses drawn, then scored, at a time


@njit(cache=True)
def sample_and_score(
    cdf: np.ndarray,
    prompts: np.ndarray,
    rng: np.random.Generator,
    rm: tuple,
    gold: tuple | None,
):
    """For each prompt in ``prompts`` draw one response and return ``(gold, proxy, length)``.

    ``rm`` and ``gold`` are the specs of :mod:`simrl.kernels.reward`. With ``gold`` None the
    gold is not scored (its entries are left unset) and Numba prunes that branch before
    typing it: :func:`sample_and_score_proxy`.
    """
    N = prompts.shape[0]
    T, A = cdf.shape[1], cdf.shape[3]
    g = np.empty(N)
    p = np.empty(N)
    lens = np.empty(N)
    toks = np.zeros((min(N, CHUNK), T), np.int64)
    ln = np.zeros(min(N, CHUNK), np.int64)
    counts = np.zeros(A)
    for start in range(0, N, CHUNK):
        m = min(CHUNK, N - start)
        for j in range(m):
            x = prompts[start + j]
            ln[j] = sample_one(cdf, x, rng, toks[j])
            if gold is not None:
                g[start + j] = gold_score(x, toks[j], ln[j], gold, counts)
            lens[start + j] = ln[j]
        proxy_into(prompts[start:], toks, ln, m, A - 1, rm, p[start:])
    return g, p, lens


@njit(cache=True)
def sample_and_score_proxy(
    cdf: np.ndarray, prompts: np.ndarray, rng: np.random.Generator, rm: tuple
):
    """For each prompt in ``prompts`` draw one response and return its proxy reward.

    Draws the same responses from ``rng`` as :func:`sample_and_score`, which it is with no
    gold; for checkpoints whose gold and length are computed exactly
    (:mod:`simrl.kernels.moments`).
    """
    return sample_and_score(cdf, prompts, rng, rm, None)[1]
