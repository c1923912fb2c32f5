"""Pairwise reward-model losses and their gradients with respect to each reward.

The pair losses the BSR paper (Hong et al. 2025) compares, with label smoothing, plus the two
regularizers of the rewards' offset: per-pair centering (Eisenstein et al. 2023) and the
batch-wise sum-to-zero penalty (BSR). Every proxy architecture's fit calls
:func:`batch_loss_grad` on the rewards of a mini-batch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Loss codes (kept in sync with simrl.reward_model.LOSSES).
LOSS_BT = 0
LOSS_MARGIN = 1
LOSS_HINGE = 2
LOSS_LOGITNORM = 3
LOSS_DR = 4


@njit(cache=True)
def softplus(z: float) -> float:
    """log(1 + exp(z)), stable for large |z|."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


@njit(cache=True)
def sigmoid(z: float) -> float:
    """Logistic function, stable for large |z|."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True)
def smoothed_logistic(z: float, smoothing: float) -> tuple[float, float]:
    """-(1 - a) log sigma(z) - a log sigma(-z) and its derivative in z (label smoothing a)."""
    loss = (1.0 - smoothing) * softplus(-z) + smoothing * softplus(z)
    return loss, -(1.0 - smoothing) * sigmoid(-z) + smoothing * sigmoid(z)


@njit(cache=True)
def pair_loss_grad(
    rw: float, rl: float, loss: int, margin: float, smoothing: float
) -> tuple[float, float, float]:
    """Loss of one pair and its derivatives in r_w and r_l (BSR paper's baselines).

    * bt:        -log sigma(d), d = r_w - r_l                       (Bradley-Terry)
    * margin:    -log sigma(d - m)
    * hinge:     relu(m - d)
    * logitnorm: -log sigma(d / sqrt(r_w^2 + r_l^2))
    * dr:        -log sigma(d) - log sigma(r_w) - log sigma(-r_l)
    Label smoothing applies to the logistic losses (all but hinge).
    """
    d = rw - rl
    if loss == LOSS_HINGE:
        if margin - d > 0.0:
            return margin - d, -1.0, 1.0
        return 0.0, 0.0, 0.0
    if loss == LOSS_LOGITNORM:
        n = math.sqrt(rw * rw + rl * rl + 1e-12)
        z = d / n
        v, g = smoothed_logistic(z, smoothing)
        # dz/dr_w = 1/n - d r_w / n^3, dz/dr_l = -1/n - d r_l / n^3
        n3 = n * n * n
        return v, g * (1.0 / n - d * rw / n3), g * (-1.0 / n - d * rl / n3)
    z = d - margin if loss == LOSS_MARGIN else d
    v, g = smoothed_logistic(z, smoothing)
    gw, gl = g, -g
    if loss == LOSS_DR:  # Eurus-style direct reward terms
        v += softplus(-rw) + softplus(rl)
        gw -= sigmoid(-rw)
        gl += sigmoid(rl)
    return v, gw, gl


@njit(cache=True)
def batch_loss_grad(
    rw: np.ndarray,
    rl: np.ndarray,
    loss: int,
    margin: float,
    smoothing: float,
    center: float,
    bsr: float,
    gw: np.ndarray,
    gl: np.ndarray,
) -> float:
    """Loss of a batch of B pairs and its gradient w.r.t. each reward.

    L = (1/B) sum_i l(r_w,i, r_l,i)                             (pair loss, pair_loss_grad)
      + center (1/B) sum_i (r_w,i + r_l,i)^2                   (per-pair centering,
                                                                Eisenstein et al. 2023)
      + bsr B ((1/(2B)) sum_i (r_w,i + r_l,i))^2                (BSR, Hong et al. 2025)
    """
    B = rw.shape[0]
    total = 0.0
    s = 0.0
    for i in range(B):
        v, dw, dl = pair_loss_grad(rw[i], rl[i], loss, margin, smoothing)
        total += v
        gw[i] = dw / B
        gl[i] = dl / B
        if center > 0.0:
            sm = rw[i] + rl[i]
            total += center * sm * sm
            gw[i] += 2.0 * center * sm / B
            gl[i] += 2.0 * center * sm / B
        s += rw[i] + rl[i]
    total /= B
    if bsr > 0.0:
        m = s / (2.0 * B)
        total += bsr * B * m * m
        for i in range(B):  # d/dr_j [bsr B m^2] = bsr m, the same for every reward
            gw[i] += bsr * m
            gl[i] += bsr * m
    return total
