"""Fitting the proxy of :mod:`simrl.kernels.mlp` (any activation, depth 1 or 2, optional
RMSNorm): the same mini-batch loop, losses and AdamW as the default proxy's
:func:`simrl.kernels.rm_fit.fit`, on the same CSR features.

Weight decay applies to the weight matrices W1, W2 and the head w, not to the biases c1, c2,
b nor to the norm's gain g (as LLM training leaves norm gains undecayed).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.adam import ADAM_BETA1, ADAM_BETA2, adam_block, sgd_block
from simrl.kernels.losses import batch_loss_grad
from simrl.kernels.mlp import Z1, head_backward, layout, trunk_head
from simrl.kernels.rm_fit import add_rows, compact, scatter_rows


@njit(cache=True)
def response_forward(
    csr: tuple,
    n: int,
    params: np.ndarray,
    F: int,
    H: int,
    act: int,
    depth: int,
    norm: int,
    st: np.ndarray,
) -> tuple[float, float]:
    """Reward and rms of row ``n`` of CSR features (:func:`simrl.kernels.rm_fit.compact`);
    fills the cache ``st[5, H]``."""
    z = st[Z1]
    for j in range(H):
        z[j] = params[F * H + j]
    add_rows(csr, n, params, H, z)
    return trunk_head(params, F, H, act, depth, norm, st)


@njit(cache=True)
def response_backward(
    csr: tuple,
    n: int,
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
    """Accumulate g * dr/dparams of row ``n`` into ``grad`` (sparse in W1)."""
    head_backward(params, F, H, act, depth, norm, st, rms, g, grad, d)
    scatter_rows(csr, n, d[0], H, grad)


@njit(cache=True)
def update(
    params: np.ndarray,
    grad: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    F: int,
    H: int,
    depth: int,
    norm: int,
    use_adam: bool,
    lr: float,
    weight_decay: float,
    step: int,
) -> None:
    """Step ``step`` (from 1) of AdamW or SGD, block by block: W1, W2 and w decayed."""
    b1, b2 = ADAM_BETA1, ADAM_BETA2
    shrink = 1.0 - lr * weight_decay if weight_decay > 0.0 else 1.0
    o_c1, o_W2, o_c2, o_g, o_w, o_b, n = layout(F, H, depth, norm)
    blocks = (
        (0, o_c1, shrink),  # W1
        (o_c1, o_W2, 1.0),  # c1
        (o_W2, o_c2, shrink),  # W2
        (o_c2, o_g, 1.0),  # c2
        (o_g, o_w, 1.0),  # g
        (o_w, o_b, shrink),  # w
        (o_b, n, 1.0),  # b
    )
    if use_adam:
        step_size = lr / (1.0 - b1**step)
        inv_sqrt_c2 = 1.0 / math.sqrt(1.0 - b2**step)
        for lo, hi, sh in blocks:
            adam_block(params[lo:hi], grad[lo:hi], m1[lo:hi], m2[lo:hi], sh, step_size, inv_sqrt_c2)
    else:
        for lo, hi, sh in blocks:
            sgd_block(params[lo:hi], grad[lo:hi], sh, lr)


@njit(cache=True)
def fit(
    idx_w: np.ndarray,
    val_w: np.ndarray,
    idx_l: np.ndarray,
    val_l: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    act: int,
    depth: int,
    norm: int,
    loss: int,
    margin: float,
    smoothing: float,
    center: float,
    bsr: float,
    weight_decay: float,
    use_adam: bool,
    lr: float,
    batch_size: int,
    epochs: int,
    rng: np.random.Generator,
    snapshots: np.ndarray | None = None,
):
    """Fit ``params`` in place on pairs (chosen w, rejected l) by mini-batch AdamW or SGD.

    Arguments, shuffle, full-batches-only epochs, history and ``snapshots`` are those of
    :func:`simrl.kernels.rm_fit.fit`; ``act``, ``depth`` and ``norm`` choose the
    architecture (:mod:`simrl.kernels.mlp`).

    Returns:
        ``(history[epochs, 3], ok)``: per epoch the mean loss and the mean and standard
        deviation of the rewards; ``ok`` is False if anything became non-finite.
    """
    N = idx_w.shape[0]
    npar = params.shape[0]
    fw = compact(idx_w, val_w, H)
    fl = compact(idx_l, val_l, H)
    grad = np.zeros(npar)
    m1 = np.zeros(npar)
    m2 = np.zeros(npar)
    B = min(batch_size, N)
    stw = np.empty((B, 5, H))
    stl = np.empty((B, 5, H))
    sw = np.empty(B)
    sl = np.empty(B)
    rw = np.empty(B)
    rl = np.empty(B)
    gw = np.empty(B)
    gl = np.empty(B)
    d = np.empty((2, H))
    order = np.arange(N)
    hist = np.zeros((epochs, 3))
    step = 0
    for ep in range(epochs):
        for i in range(N - 1, 0, -1):  # Fisher-Yates shuffle, as the default fit
            j = rng.integers(0, i + 1)
            order[i], order[j] = order[j], order[i]
        ep_loss, r_sum, r_sq, n_b, n_r = 0.0, 0.0, 0.0, 0, 0
        for start in range(0, N - B + 1, B):  # full batches only: BSR scales with B
            rows = order[start : start + B]
            for i in range(B):
                p = rows[i]
                rw[i], sw[i] = response_forward(fw, p, params, F, H, act, depth, norm, stw[i])
                rl[i], sl[i] = response_forward(fl, p, params, F, H, act, depth, norm, stl[i])
                r_sum += rw[i] + rl[i]
                r_sq += rw[i] * rw[i] + rl[i] * rl[i]
            n_r += 2 * B
            lv = batch_loss_grad(rw, rl, loss, margin, smoothing, center, bsr, gw, gl)
            if not math.isfinite(lv):
                return hist, False
            ep_loss += lv
            n_b += 1
            for i in range(B):
                p = rows[i]
                response_backward(
                    fw, p, params, F, H, act, depth, norm, stw[i], sw[i], gw[i], grad, d
                )
                response_backward(
                    fl, p, params, F, H, act, depth, norm, stl[i], sl[i], gl[i], grad, d
                )
            step += 1
            update(params, grad, m1, m2, F, H, depth, norm, use_adam, lr, weight_decay, step)
        mean = r_sum / n_r
        hist[ep, 0] = ep_loss / n_b
        hist[ep, 1] = mean
        hist[ep, 2] = math.sqrt(max(r_sq / n_r - mean * mean, 0.0))
        for q in range(npar):
            if not math.isfinite(params[q]):
                return hist, False
        if snapshots is not None:
            snapshots[ep] = params
    return hist, True
