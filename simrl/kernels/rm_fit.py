"""Fitting the default proxy r = w . tanh(W f + c) + b: CSR features, batched forward and
backward of the pairs, the AdamW/SGD update and the mini-batch loop.

Parameters live in one flat float64 vector: ``W`` (F x H, row-major) at ``[0, F H)``, then
``c`` (H), ``w`` (H) and ``b`` (1). :func:`fit` works on CSR features built once
(:func:`compact`); its inner loops run over H contiguous parameters, and the AdamW update is
one branch-free element-wise loop per block, so LLVM vectorizes them without ``fastmath``:
no sum is reassociated and no multiply-add fused, so results are bit-identical to the
scalar algorithm (:func:`simrl.kernels.rm.forward_one` and ``backward_one``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.activations import fast_tanh
from simrl.kernels.adam import ADAM_BETA1, ADAM_BETA2, adam_block, sgd_block
from simrl.kernels.losses import batch_loss_grad


@njit(cache=True)
def compact(idx: np.ndarray, val: np.ndarray, H: int):
    """The non-zero entries of padded sparse rows, in their stored order, as CSR.

    Returns ``(ptr[N + 1], off[nnz], vals[nnz])``: row n's entries are ``ptr[n]:ptr[n + 1]``,
    ``off = idx * H`` is where the entry's row of W starts in the flat parameters. The entries
    skipped are exactly those ``forward_one`` skips (value 0), so sums run in the same order.
    """
    N, K = idx.shape
    ptr = np.zeros(N + 1, np.int64)
    for n in range(N):
        nz = 0
        for k in range(K):
            if val[n, k] != 0.0:
                nz += 1
        ptr[n + 1] = ptr[n] + nz
    off = np.empty(ptr[N], np.int64)
    vals = np.empty(ptr[N])
    q = 0
    for n in range(N):
        for k in range(K):
            if val[n, k] != 0.0:
                off[q] = idx[n, k] * H
                vals[q] = val[n, k]
                q += 1
    return ptr, off, vals


@njit(cache=True)
def add_rows(csr: tuple, n: int, params: np.ndarray, H: int, h: np.ndarray) -> None:
    """h += sum_k v_k W[i_k] over row n of :func:`compact`'s CSR features, term by term in
    the stored order (the sums of ``forward_one``). The loop over H runs on contiguous views,
    so LLVM vectorizes it across j without reordering any h[j]'s sum."""
    ptr, off, vals = csr
    for k in range(ptr[n], ptr[n + 1]):
        v = vals[k]
        row = params[off[k] : off[k] + H]
        for j in range(H):
            h[j] += v * row[j]


@njit(cache=True)
def scatter_rows(csr: tuple, n: int, da: np.ndarray, H: int, grad: np.ndarray) -> None:
    """grad[W[i_k]] += v_k da over row n of the CSR features, in the stored order (the
    sparse W-gradient of ``backward_one``), vectorized over H."""
    ptr, off, vals = csr
    for k in range(ptr[n], ptr[n + 1]):
        v = vals[k]
        row = grad[off[k] : off[k] + H]
        for j in range(H):
            row[j] += v * da[j]


@njit(cache=True, error_model="numpy")
def batch_forward(
    fw: tuple,
    fl: tuple,
    rows: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    hw: np.ndarray,
    hl: np.ndarray,
    rw: np.ndarray,
    rl: np.ndarray,
) -> None:
    """Rewards ``rw``/``rl`` and hidden states ``hw``/``hl`` of the pairs ``rows``, from CSR
    features ``fw``/``fl`` (:func:`compact`) of the chosen and the rejected responses.

    Each response gets exactly ``forward_one``'s operations in its order; the chosen and the
    rejected response of a pair share one tanh/dot loop, two independent chains for the CPU
    to overlap.
    """
    oc, ow = F * H, F * H + H
    c, w = params[oc:ow], params[ow : ow + H]
    for i in range(rows.shape[0]):
        p = rows[i]
        a, z = hw[i], hl[i]
        for j in range(H):
            a[j] = c[j]
            z[j] = c[j]
        add_rows(fw, p, params, H, a)
        add_rows(fl, p, params, H, z)
        for j in range(H):  # vectorized; the dots below keep their order
            a[j] = fast_tanh(a[j])
            z[j] = fast_tanh(z[j])
        r1 = params[ow + H]
        r2 = params[ow + H]
        for j in range(H):
            r1 += w[j] * a[j]
            r2 += w[j] * z[j]
        rw[i] = r1
        rl[i] = r2


@njit(cache=True)
def batch_backward(
    fw: tuple,
    fl: tuple,
    rows: np.ndarray,
    params: np.ndarray,
    F: int,
    H: int,
    hw: np.ndarray,
    hl: np.ndarray,
    gw: np.ndarray,
    gl: np.ndarray,
    grad: np.ndarray,
) -> None:
    """Accumulate sum_i gw_i d r_w,i / d params + gl_i d r_l,i / d params into ``grad``.

    Every gradient entry receives ``backward_one``'s terms in its order (pair by pair, the
    chosen response before the rejected one); ``hw``/``hl`` are overwritten with the
    pre-activation gradients.
    """
    oc, ow = F * H, F * H + H
    w = params[ow : ow + H]
    gc, gv = grad[oc:ow], grad[ow : ow + H]
    for i in range(rows.shape[0]):
        p = rows[i]
        a, z, g1, g2 = hw[i], hl[i], gw[i], gl[i]
        grad[ow + H] += g1
        grad[ow + H] += g2
        for j in range(H):
            gv[j] += g1 * a[j]
            gv[j] += g2 * z[j]
            d1 = g1 * w[j] * (1.0 - a[j] * a[j])  # tanh' = 1 - tanh^2
            d2 = g2 * w[j] * (1.0 - z[j] * z[j])
            a[j] = d1
            z[j] = d2
            gc[j] += d1
            gc[j] += d2
        scatter_rows(fw, p, a, H, grad)
        scatter_rows(fl, p, z, H, grad)


@njit(cache=True)
def update(
    params: np.ndarray,
    grad: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    F: int,
    H: int,
    use_adam: bool,
    lr: float,
    weight_decay: float,
    step: int,
) -> None:
    """Step ``step`` (from 1) of Adam or SGD over all parameters, block by block: W and w
    are decayed, c and b are not."""
    b1, b2 = ADAM_BETA1, ADAM_BETA2
    shrink = 1.0 - lr * weight_decay if weight_decay > 0.0 else 1.0
    oc, ow, nb = F * H, F * H + H, F * H + 2 * H
    blocks = ((0, oc, shrink), (oc, ow, 1.0), (ow, nb, shrink), (nb, nb + 1, 1.0))
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
    """Fit ``params`` in place on pairs (chosen w, rejected l) by mini-batch Adam or SGD.

    Weight decay is decoupled (AdamW, Loshchilov & Hutter 2019; plain L2 shrinkage for SGD)
    and applies to the weights W and w, not to the biases c and b.

    ``snapshots`` (optional, ``(epochs, n_params)``) receives the parameters at the end of
    each epoch, for diagnostics of the representation over the fit; it reads nothing back,
    so the fit's numbers are the same with or without it.

    Returns:
        ``(history[epochs, 3], ok)``: per epoch the mean loss, and the mean and standard
        deviation of all rewards the model produced during the epoch; ``ok`` is False if the
        loss or a parameter became non-finite (fitting stops there).
    """
    N = idx_w.shape[0]
    npar = params.shape[0]
    fw = compact(idx_w, val_w, H)  # built once per fit
    fl = compact(idx_l, val_l, H)
    grad = np.zeros(npar)  # zero between mini-batches: update() zeroes it
    m1 = np.zeros(npar)
    m2 = np.zeros(npar)
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
            rows = order[start : start + B]
            batch_forward(fw, fl, rows, params, F, H, hw, hl, rw, rl)
            for i in range(B):
                r_sum += rw[i] + rl[i]
                r_sq += rw[i] * rw[i] + rl[i] * rl[i]
            n_r += 2 * B
            lv = batch_loss_grad(rw, rl, loss, margin, smoothing, center, bsr, gw, gl)
            if not math.isfinite(lv):
                return hist, False
            ep_loss += lv
            n_b += 1
            batch_backward(fw, fl, rows, params, F, H, hw, hl, gw, gl, grad)
            step += 1
            update(params, grad, m1, m2, F, H, use_adam, lr, weight_decay, step)
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
