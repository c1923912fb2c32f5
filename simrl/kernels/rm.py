"""The default proxy r = w . tanh(W f + c) + b on sparse features: scoring one response
and the gradient of its reward, and ensembles of such proxies.

Parameters live in one flat float64 vector: ``W`` (F x H, row-major) at ``[0, F H)``, then
``c`` (H), ``w`` (H) and ``b`` (1). Fitting is in :mod:`simrl.kernels.rm_fit`, the losses in
:mod:`simrl.kernels.losses`, the optimizer in :mod:`simrl.kernels.adam`; they are re-exported
here. Other architectures (activations, depth, head norm) are :mod:`simrl.kernels.mlp`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simrl.kernels.activations import fast_tanh
from simrl.kernels.adam import ADAM_BETA1, ADAM_BETA2, ADAM_EPS, adam_block, ieee_sqrt, sgd_block
from simrl.kernels.losses import (
    LOSS_BT,
    LOSS_DR,
    LOSS_HINGE,
    LOSS_LOGITNORM,
    LOSS_MARGIN,
    batch_loss_grad,
    pair_loss_grad,
    sigmoid,
    smoothed_logistic,
    softplus,
)
from simrl.kernels.rm_fit import (
    add_rows,
    batch_backward,
    batch_forward,
    compact,
    fit,
    scatter_rows,
    update,
)

# The default proxy's kernels, wherever they live, under one import (tests and benchmarks).
__all__ = [
    "ADAM_BETA1",
    "ADAM_BETA2",
    "ADAM_EPS",
    "ENSEMBLE_MEAN",
    "ENSEMBLE_MIN",
    "ENSEMBLE_UWO",
    "LOSS_BT",
    "LOSS_DR",
    "LOSS_HINGE",
    "LOSS_LOGITNORM",
    "LOSS_MARGIN",
    "adam_block",
    "add_rows",
    "backward_one",
    "batch_backward",
    "batch_forward",
    "batch_loss_grad",
    "compact",
    "ensemble_one",
    "fast_tanh",
    "fit",
    "forward_one",
    "ieee_sqrt",
    "pair_loss_grad",
    "scatter_rows",
    "scores",
    "sgd_block",
    "sigmoid",
    "smoothed_logistic",
    "softplus",
    "update",
]


@njit(cache=True, inline="always")
def forward_one(
    idx: np.ndarray, val: np.ndarray, params: np.ndarray, F: int, H: int, h: np.ndarray
) -> float:
    """Reward of one response; writes its hidden state into ``h``.

    ``idx``/``val`` is a row of :func:`simrl.kernels.features.features_one`: its non-zero
    entries first, then zero padding, so the sum stops at the first zero. Each term is added
    from a contiguous view of W's row, which LLVM vectorizes across the hidden units without
    reordering any h[j]'s sum (4x faster than a branch per slot and indexed loads).
    """
    oc, ow = F * H, F * H + H
    for j in range(H):
        h[j] = params[oc + j]
    for k in range(idx.shape[0]):
        v = val[k]
        if v == 0.0:
            break
        row = params[idx[k] * H : idx[k] * H + H]
        for j in range(H):
            h[j] += v * row[j]
    for j in range(H):  # vectorized; the dot below keeps its order
        h[j] = fast_tanh(h[j])
    r = params[ow + H]
    for j in range(H):
        r += params[ow + j] * h[j]
    return r


@njit(cache=True)
def scores(idx: np.ndarray, val: np.ndarray, params: np.ndarray, F: int, H: int):
    """Rewards ``r[N]`` and hidden states ``h[N, H]`` of many responses."""
    N = idx.shape[0]
    r = np.empty(N)
    hs = np.empty((N, H))
    for n in range(N):
        r[n] = forward_one(idx[n], val[n], params, F, H, hs[n])
    return r, hs


@njit(cache=True)
def backward_one(
    idx: np.ndarray,
    val: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    h: np.ndarray,
    g: float,
    grad: np.ndarray,
) -> None:
    """Accumulate g * d r / d params into ``grad`` (sparse in W)."""
    oc, ow = F * H, F * H + H
    grad[ow + H] += g
    for j in range(H):
        grad[ow + j] += g * h[j]
        da = g * params[ow + j] * (1.0 - h[j] * h[j])  # tanh' = 1 - tanh^2
        h[j] = da  # reuse h as the pre-activation gradient
        grad[oc + j] += da
    for k in range(idx.shape[0]):
        v = val[k]
        if v != 0.0:
            base = idx[k] * H
            for j in range(H):
                grad[base + j] += v * h[j]


# Ensemble combination codes (Coste et al. 2024), kept in sync with
# simrl.reward_model.ENSEMBLE_MODES.
ENSEMBLE_MEAN = 0
ENSEMBLE_MIN = 1
ENSEMBLE_UWO = 2


@njit(cache=True, inline="always")
def ensemble_one(
    idx: np.ndarray,
    val: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    mode: int,
    lam: float,
    h: np.ndarray,
    rs: np.ndarray,
) -> float:
    """Combined reward of k members (rows of ``params``) for one response.

    ``rs`` is scratch of size k; :func:`combine_members` says how they combine.
    """
    for m in range(params.shape[0]):
        rs[m] = forward_one(idx, val, params[m], F, H, h)
    return combine_members(rs, mode, lam)


@njit(cache=True, inline="always")
def combine_members(rs: np.ndarray, mode: int, lam: float) -> float:
    """The members' rewards ``rs`` combined: mean (1/k) sum_m r_m; min (worst case) min_m
    r_m; uwo (uncertainty-weighted, Coste et al. 2024) mean - lam (1/k) sum_m (r_m - mean)^2.
    With k = 1 every mode returns the single member's reward exactly."""
    k = rs.shape[0]
    mean = 0.0
    lo = np.inf
    for m in range(k):
        mean += rs[m]
        lo = min(lo, rs[m])
    mean /= k
    out = mean  # one exit: Numba prunes an inlined function's reference counts only then
    if mode == ENSEMBLE_MIN:
        out = lo
    elif mode == ENSEMBLE_UWO:
        var = 0.0
        for m in range(k):
            var += (rs[m] - mean) * (rs[m] - mean)
        out = mean - lam * var / k
    return out
