"""Proxy reward model r = w . tanh(W f + c) + b on sparse features: forward and fitting.

Parameters live in one flat float64 vector: ``W`` (F x H, row-major) at ``[0, F H)``, then
``c`` (H), ``w`` (H) and ``b`` (1). Fitting (:func:`fit`) works on CSR features built once
(:func:`compact`); its inner loops run over H contiguous parameters, and the AdamW update is
one branch-free element-wise loop per block, so LLVM vectorizes them without ``fastmath``:
no sum is reassociated and no multiply-add fused, so results are bit-identical to the
scalar algorithm.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

# Loss codes (kept in sync with simrl.reward_model.LOSSES).
LOSS_BT = 0
LOSS_MARGIN = 1
LOSS_HINGE = 2
LOSS_LOGITNORM = 3
LOSS_DR = 4

# Adam (Kingma & Ba 2015) defaults.
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


@njit(cache=True, error_model="numpy")  # the divisor is >= 1 (or NaN): no zero check needed
def fast_tanh(z: float) -> float:
    """tanh(z) = 1 - 2 / (exp(2z) + 1): one exp instead of libm's tanh, exact limits +-1 (exp
    overflows to inf or underflows to 0), absolute error about 1e-16."""
    return 1.0 - 2.0 / (math.exp(2.0 * z) + 1.0)


def ieee_sqrt(x: float) -> float:
    """Correctly rounded square root (IEEE 754), as ``math.sqrt``; see the overload below."""
    return math.sqrt(x)


@intrinsic
def _llvm_sqrt(typingctx, x):
    """``llvm.sqrt.f64``: Numba lowers ``math.sqrt`` to a call of libm's ``sqrt``, which LLVM's
    loop vectorizer cannot widen; the intrinsic widens to ``vsqrtpd``. Both are the IEEE
    correctly rounded square root, so results are bit-identical."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
        return builder.call(fn, args)

    return x(x), codegen


@overload(ieee_sqrt)
def _ieee_sqrt_jit(x):
    return lambda x: _llvm_sqrt(x)


@njit(cache=True)
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
    r = params[ow + H]
    for j in range(H):
        h[j] = fast_tanh(h[j])
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
        r1 = params[ow + H]
        r2 = params[ow + H]
        for j in range(H):
            a[j] = fast_tanh(a[j])
            z[j] = fast_tanh(z[j])
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


@njit(cache=True, error_model="numpy")  # no ZeroDivisionError branch: the divisor is >= eps
def adam_block(
    params: np.ndarray,
    grad: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    shrink: float,
    step_size: float,
    inv_sqrt_c2: float,
) -> None:
    """One AdamW step on a block of parameters; zeroes ``grad`` for the next mini-batch.

    p <- shrink p - lr m_hat / (sqrt(v_hat) + eps) (Kingma & Ba 2015, Alg. 1; decoupled decay,
    Loshchilov & Hutter 2019), with the bias corrections folded into ``step_size`` =
    lr / (1 - b1^t) and ``inv_sqrt_c2`` = 1 / sqrt(1 - b2^t). ``shrink`` = 1 - lr wd, or
    exactly 1 (an exact no-op multiply) for blocks without decay. Branch-free and element-wise,
    so LLVM vectorizes it (packed sqrt and division) without reassociating anything.
    """
    b1, b2, eps = ADAM_BETA1, ADAM_BETA2, ADAM_EPS
    for q in range(params.shape[0]):
        g = grad[q]
        grad[q] = 0.0
        a = b1 * m1[q] + (1.0 - b1) * g
        s = b2 * m2[q] + (1.0 - b2) * g * g
        m1[q] = a
        m2[q] = s
        params[q] = params[q] * shrink - step_size * a / (ieee_sqrt(s) * inv_sqrt_c2 + eps)


@njit(cache=True)
def sgd_block(params: np.ndarray, grad: np.ndarray, shrink: float, lr: float) -> None:
    """p <- shrink p - lr g on a block of parameters; zeroes ``grad``."""
    for q in range(params.shape[0]):
        params[q] = params[q] * shrink - lr * grad[q]
        grad[q] = 0.0


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
):
    """Fit ``params`` in place on pairs (chosen w, rejected l) by mini-batch Adam or SGD.

    Weight decay is decoupled (AdamW, Loshchilov & Hutter 2019; plain L2 shrinkage for SGD)
    and applies to the weights W and w, not to the biases c and b.

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
    return hist, True


# Ensemble combination codes (Coste et al. 2024), kept in sync with
# simrl.reward_model.ENSEMBLE_MODES.
ENSEMBLE_MEAN = 0
ENSEMBLE_MIN = 1
ENSEMBLE_UWO = 2


@njit(cache=True)
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

    mean: (1/k) sum_m r_m; min (worst case): min_m r_m; uwo (uncertainty-weighted):
    mean - lam * (1/k) sum_m (r_m - mean)^2. ``rs`` is scratch of size k. With k = 1 every
    mode returns the single member's reward exactly.
    """
    k = params.shape[0]
    mean = 0.0
    lo = np.inf
    for m in range(k):
        rs[m] = forward_one(idx, val, params[m], F, H, h)
        mean += rs[m]
        lo = min(lo, rs[m])
    mean /= k
    if mode == ENSEMBLE_MIN:
        return lo
    if mode == ENSEMBLE_UWO:
        var = 0.0
        for m in range(k):
            var += (rs[m] - mean) * (rs[m] - mean)
        return mean - lam * var / k
    return mean
