"""A proxy with a choice of activation, depth and head norm: forward and gradient of one
response's reward, and ensembles.

    z1 = W1^T f + c1,  a1 = act(z1)                                 (first layer; sparse f)
    z2 = W2^T a1 + c2, a2 = act(z2)                                 (depth 2 only)
    h  = g * a / rms(a), rms(a) = sqrt(mean_j a_j^2 + eps)          (head_norm = rmsnorm;
                                                                     Zhang & Sennrich 2019)
    h  = a                                                          (head_norm = none)
    r  = w . h + b                                                  (linear reward head)

with ``a`` the last layer's activation. ``h`` is the hidden state the head reads, the one
whose dispersion the diagnostics measure. Parameters are one flat vector laid out by
:func:`layout`: ``W1`` (F x H, row-major), ``c1``, then ``W2`` (H x H, row-major: input i,
output j) and ``c2`` at depth 2, then the gain ``g`` with RMSNorm, then ``w`` and ``b``.
Everything before ``w`` is the *trunk*; ``w`` and ``b`` are the head.

With ``tanh``, depth 1 and no norm this is the default proxy of :mod:`simrl.kernels.rm`,
operation for operation (a test checks that the fits agree bit for bit); the default keeps
its own kernels so that none of these choices is a branch in its loops. Fitting is in
:mod:`simrl.kernels.mlp_fit`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.activations import activate, activate_grad
from simrl.kernels.rm import combine_members

NORM_NONE = 0
NORM_RMS = 1
NORM_EPS = 1e-6  # RMSNorm's epsilon (LLaMA's value)

# Rows of the per-response cache ``st[5, H]`` kept by the forward pass for the backward.
Z1, A1, Z2, A2, HH = 0, 1, 2, 3, 4


@njit(cache=True)
def layout(F: int, H: int, depth: int, norm: int) -> tuple[int, int, int, int, int, int, int]:
    """Offsets ``(c1, W2, c2, g, w, b, n_params)`` of each block in the flat parameters
    (blocks a configuration does not have are empty)."""
    o_c1 = F * H
    o_W2 = o_c1 + H
    o_c2 = o_W2 + (H * H if depth == 2 else 0)
    o_g = o_c2 + (H if depth == 2 else 0)
    o_w = o_g + (H if norm == NORM_RMS else 0)
    o_b = o_w + H
    return o_c1, o_W2, o_c2, o_g, o_w, o_b, o_b + 1


@njit(cache=True)
def first_layer(idx: np.ndarray, val: np.ndarray, params: np.ndarray, H: int, z: np.ndarray):
    """z += sum_k val_k W1[idx_k] over one padded sparse row (zeros skipped, stored order)."""
    for k in range(idx.shape[0]):
        v = val[k]
        if v != 0.0:
            row = params[idx[k] * H : idx[k] * H + H]
            for j in range(H):
                z[j] += v * row[j]


@njit(cache=True)
def trunk_head(
    params: np.ndarray, F: int, H: int, act: int, depth: int, norm: int, st: np.ndarray
) -> tuple[float, float]:
    """From the first layer's pre-activation ``st[Z1]`` to the reward: fills the rest of the
    cache ``st`` and returns ``(r, rms)`` (rms = 1 without the norm)."""
    _, o_W2, o_c2, o_g, o_w, o_b, _ = layout(F, H, depth, norm)
    z1, a1 = st[Z1], st[A1]
    for j in range(H):
        a1[j] = activate(z1[j], act)
    a = a1
    if depth == 2:
        z2, a2 = st[Z2], st[A2]
        for j in range(H):
            z2[j] = params[o_c2 + j]
        for i in range(H):
            ai = a1[i]
            row = params[o_W2 + i * H : o_W2 + i * H + H]
            for j in range(H):
                z2[j] += ai * row[j]
        for j in range(H):
            a2[j] = activate(z2[j], act)
        a = a2
    h = st[HH]
    rms = 1.0
    if norm == NORM_RMS:
        ms = 0.0
        for j in range(H):
            ms += a[j] * a[j]
        rms = math.sqrt(ms / H + NORM_EPS)
        for j in range(H):
            h[j] = params[o_g + j] * (a[j] / rms)
    else:
        for j in range(H):
            h[j] = a[j]
    r = params[o_b]
    for j in range(H):
        r += params[o_w + j] * h[j]
    return r, rms


@njit(cache=True)
def head_backward(
    params: np.ndarray,
    F: int,
    H: int,
    act: int,
    depth: int,
    norm: int,
    st: np.ndarray,
    rms: float,
    g: float,
    grad: np.ndarray,
    d: np.ndarray,
) -> None:
    """Accumulate g * dr/dparams of everything but W1 into ``grad``; leaves dr/dz1 (times g)
    in ``d[0]`` for the sparse first-layer gradient. ``d`` is scratch ``(2, H)``.

    RMSNorm: with u = a / rms, dh/dg = u and dL/da = (dL/du - u mean_j(dL/du_j u_j)) / rms.
    """
    o_c1, o_W2, o_c2, o_g, o_w, o_b, _ = layout(F, H, depth, norm)
    h = st[HH]
    da, dz = d[0], d[1]
    grad[o_b] += g
    for j in range(H):
        grad[o_w + j] += g * h[j]
        da[j] = g * params[o_w + j]  # dL/dh
    a = st[A2] if depth == 2 else st[A1]
    if norm == NORM_RMS:
        m = 0.0
        for j in range(H):
            u = a[j] / rms
            grad[o_g + j] += da[j] * u
            da[j] = da[j] * params[o_g + j]  # dL/du
            m += da[j] * u
        m /= H
        for j in range(H):
            da[j] = (da[j] - (a[j] / rms) * m) / rms
    if depth == 2:
        z2, a1 = st[Z2], st[A1]
        for j in range(H):
            dz[j] = da[j] * activate_grad(z2[j], a[j], act)
            grad[o_c2 + j] += dz[j]
        for i in range(H):
            ai = a1[i]
            row = grad[o_W2 + i * H : o_W2 + i * H + H]
            wrow = params[o_W2 + i * H : o_W2 + i * H + H]
            s = 0.0
            for j in range(H):
                row[j] += ai * dz[j]
                s += wrow[j] * dz[j]
            da[i] = s
    z1, a1 = st[Z1], st[A1]
    for j in range(H):
        da[j] = da[j] * activate_grad(z1[j], a1[j], act)
        grad[o_c1 + j] += da[j]


@njit(cache=True)
def forward_one(
    idx: np.ndarray,
    val: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    act: int,
    depth: int,
    norm: int,
    st: np.ndarray,
) -> tuple[float, float]:
    """Reward and rms of one response from its padded sparse features; fills ``st``."""
    o_c1 = F * H
    z = st[Z1]
    for j in range(H):
        z[j] = params[o_c1 + j]
    first_layer(idx, val, params, H, z)
    return trunk_head(params, F, H, act, depth, norm, st)


@njit(cache=True)
def scores(
    idx: np.ndarray,
    val: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    act: int,
    depth: int,
    norm: int,
):
    """Rewards ``r[N]`` and hidden states ``h[N, H]`` (what the head reads) of many
    responses."""
    N = idx.shape[0]
    r = np.empty(N)
    hs = np.empty((N, H))
    st = np.empty((5, H))
    for n in range(N):
        r[n] = forward_one(idx[n], val[n], params, F, H, act, depth, norm, st)[0]
        hs[n] = st[HH]
    return r, hs


@njit(cache=True)
def ensemble_one(
    idx: np.ndarray,
    val: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    act: int,
    depth: int,
    norm: int,
    mode: int,
    lam: float,
    rs: np.ndarray,
) -> float:
    """Combined reward of k members (rows of ``params``) for one response, combined as
    :func:`simrl.kernels.rm.ensemble_one` combines them; ``rs`` is scratch of size k."""
    st = np.empty((5, H))
    for m in range(params.shape[0]):
        rs[m] = forward_one(idx, val, params[m], F, H, act, depth, norm, st)[0]
    return combine_members(rs, mode, lam)
