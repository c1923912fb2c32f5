"""Proxy reward model r = w . tanh(W f + c) + b on sparse features: forward and fitting.

Parameters live in one flat float64 vector (so that Adam is one loop):
``W`` (F x H, row-major) at ``[0, F H)``, then ``c`` (H), ``w`` (H) and ``b`` (1).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Loss codes (kept in sync with simrl.reward_model.LOSSES).
LOSS_BT = 0


@njit(cache=True)
def forward_one(
    idx: np.ndarray, val: np.ndarray, params: np.ndarray, F: int, H: int, h: np.ndarray
) -> float:
    """Reward of one response; writes its hidden state into ``h``."""
    oc, ow = F * H, F * H + H
    for j in range(H):
        h[j] = params[oc + j]
    for k in range(idx.shape[0]):
        v = val[k]
        if v != 0.0:
            base = idx[k] * H
            for j in range(H):
                h[j] += v * params[base + j]
    r = params[ow + H]
    for j in range(H):
        h[j] = math.tanh(h[j])
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
def batch_loss_grad(
    rw: np.ndarray,
    rl: np.ndarray,
    loss: int,
    center: float,
    bsr: float,
    gw: np.ndarray,
    gl: np.ndarray,
) -> float:
    """Loss of a batch of B pairs and its gradient w.r.t. each reward.

    L = (1/B) sum_i -log sigma(r_w,i - r_l,i)                     (Bradley-Terry)
      + center (1/B) sum_i (r_w,i + r_l,i)^2                     (per-pair centering,
                                                                  Eisenstein et al. 2023)
      + bsr B ((1/(2B)) sum_i (r_w,i + r_l,i))^2                  (BSR, Hong et al. 2025)
    """
    B = rw.shape[0]
    total = 0.0
    s = 0.0
    for i in range(B):
        d = rw[i] - rl[i]
        total += softplus(-d)
        g = -sigmoid(-d) / B  # d/d r_w of softplus(-d) / B
        gw[i] = g
        gl[i] = -g
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


@njit(cache=True)
def fit(
    idx_w: np.ndarray,
    val_w: np.ndarray,
    idx_l: np.ndarray,
    val_l: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    loss: int,
    center: float,
    bsr: float,
    use_adam: bool,
    lr: float,
    batch_size: int,
    epochs: int,
    rng: np.random.Generator,
):
    """Fit ``params`` in place on pairs (chosen w, rejected l) by mini-batch Adam or SGD.

    Returns:
        ``(history[epochs, 3], ok)``: per epoch the mean loss, and the mean and standard
        deviation of all rewards the model produced during the epoch; ``ok`` is False if the
        loss or a parameter became non-finite (fitting stops there).
    """
    N = idx_w.shape[0]
    npar = params.shape[0]
    grad = np.zeros(npar)
    m1 = np.zeros(npar)
    m2 = np.zeros(npar)
    b1, b2, eps = 0.9, 0.999, 1e-8  # Adam (Kingma & Ba 2015) defaults
    B = min(batch_size, N)
    hw = np.empty((B, H))
    hl = np.empty((B, H))
    rw = np.empty(B)
    rl = np.empty(B)
    gw = np.empty(B)
    gl = np.empty(B)
    order = np.arange(N)
    hist = np.zeros((epochs, 3))
    step = 0
    for ep in range(epochs):
        for i in range(N - 1, 0, -1):  # Fisher-Yates shuffle
            j = rng.integers(0, i + 1)
            order[i], order[j] = order[j], order[i]
        ep_loss, r_sum, r_sq, n_b, n_r = 0.0, 0.0, 0.0, 0, 0
        for start in range(0, N - B + 1, B):  # full batches only: BSR scales with B
            for i in range(B):
                p = order[start + i]
                rw[i] = forward_one(idx_w[p], val_w[p], params, F, H, hw[i])
                rl[i] = forward_one(idx_l[p], val_l[p], params, F, H, hl[i])
                r_sum += rw[i] + rl[i]
                r_sq += rw[i] * rw[i] + rl[i] * rl[i]
            n_r += 2 * B
            lv = batch_loss_grad(rw, rl, loss, center, bsr, gw, gl)
            if not math.isfinite(lv):
                return hist, False
            ep_loss += lv
            n_b += 1
            grad[:] = 0.0
            for i in range(B):
                p = order[start + i]
                backward_one(idx_w[p], val_w[p], params, F, H, hw[i], gw[i], grad)
                backward_one(idx_l[p], val_l[p], params, F, H, hl[i], gl[i], grad)
            step += 1
            if use_adam:
                c1 = 1.0 - b1**step
                c2 = 1.0 - b2**step
                for q in range(npar):
                    g = grad[q]
                    m1[q] = b1 * m1[q] + (1.0 - b1) * g
                    m2[q] = b2 * m2[q] + (1.0 - b2) * g * g
                    params[q] -= lr * (m1[q] / c1) / (math.sqrt(m2[q] / c2) + eps)
            else:
                for q in range(npar):
                    params[q] -= lr * grad[q]
        mean = r_sum / n_r
        hist[ep, 0] = ep_loss / n_b
        hist[ep, 1] = mean
        hist[ep, 2] = math.sqrt(max(r_sq / n_r - mean * mean, 0.0))
        for q in range(npar):
            if not math.isfinite(params[q]):
                return hist, False
    return hist, True
