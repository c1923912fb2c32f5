"""Sample responses from a policy and score them by gold and proxy without storing them."""

from __future__ import annotations

import numpy as np
from numba import njit

from simrl.kernels.features import features_one, max_nnz
from simrl.kernels.gold import gold_one
from simrl.kernels.rm import forward_one
from simrl.kernels.sampling import sample_one


@njit(cache=True)
def sample_and_score(
    cdf: np.ndarray,
    prompts: np.ndarray,
    rng: np.random.Generator,
    rm_params: np.ndarray,
    F: int,
    H: int,
    prompt_features: bool,
    b0: int,
    feat_scale: float,
    values: np.ndarray,
    bigram: np.ndarray,
    saturation: np.ndarray,
    length_weight: float,
    length_opt: float,
    repeat_penalty: float,
):
    """For each prompt in ``prompts`` draw one response and return ``(gold, proxy, length)``."""
    N = prompts.shape[0]
    _P, T, _S, A = cdf.shape
    V = A - 1
    gold = np.empty(N)
    proxy = np.empty(N)
    lens = np.empty(N)
    row = np.zeros(T, np.int64)
    counts = np.zeros(V + 1)
    K = max_nnz(V, T)
    fidx = np.zeros(K, np.int32)
    fval = np.zeros(K)
    h = np.zeros(H)
    for n in range(N):
        x = prompts[n]
        L = sample_one(cdf, x, rng, row)
        gold[n] = gold_one(
            x, row, L, values, bigram, saturation, length_weight, length_opt, repeat_penalty, counts
        )
        features_one(x, row, L, V, F, prompt_features, b0, feat_scale, counts, fidx, fval)
        proxy[n] = forward_one(fidx, fval, rm_params, F, H, h)
        lens[n] = L
    return gold, proxy, lens
