"""Log-softmax used by every policy table and by the policy-gradient kernel.

One implementation for both means equal logits give bit-equal log-probabilities, so the
per-token KL penalty log pi - log pi_ref is exactly zero where the policies agree.
:func:`softmax_columns` computes a block of rows with a vectorized exponential, for the
rows that are not compared with the tables (the later passes of a PPO or GRPO step).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.vexp import vexp


@njit(cache=True, inline="always")
def row_max(logits: np.ndarray) -> float:
    """max of a row, NaN if any entry is NaN (as ``ndarray.max``, which in Numba costs as much
    as the rest of an 11-entry softmax row)."""
    mx = -math.inf
    for a in range(logits.shape[0]):
        z = logits[a]
        if z > mx or z != z:
            mx = z
    return mx


@njit(cache=True, inline="always")
def log_softmax_row(logits: np.ndarray, out: np.ndarray) -> None:
    """out = logits - logsumexp(logits), stable for any magnitude."""
    mx = row_max(logits)
    s = 0.0
    for a in range(logits.shape[0]):
        s += math.exp(logits[a] - mx)
    lse = mx + math.log(s)
    for a in range(logits.shape[0]):
        out[a] = logits[a] - lse


@njit(cache=True, inline="always")
def softmax_row(logits: np.ndarray, logp: np.ndarray, probs: np.ndarray) -> None:
    """log-probabilities and probabilities of one row from one exp per entry.

    ``logp`` is bit-identical to :func:`log_softmax_row` (same operations in the same
    order); ``probs`` = exp(logit - max) / sum.
    """
    mx = row_max(logits)
    s = 0.0
    for a in range(logits.shape[0]):
        e = math.exp(logits[a] - mx)
        probs[a] = e
        s += e
    lse = mx + math.log(s)
    for a in range(logits.shape[0]):
        logp[a] = logits[a] - lse
        probs[a] /= s


@njit(cache=True, inline="always")
def softmax_columns(z: np.ndarray, n: int, logp: np.ndarray, probs: np.ndarray) -> None:
    """:func:`softmax_row` of ``n`` rows stored as the columns of ``z`` (``z[:, i]`` is row
    i's logits; 2-D, C-contiguous, left unchanged), into rows ``i < n`` of ``logp`` and
    ``probs``, with the exponential :func:`simrl.kernels.vexp.vexp`.

    The transposed layout puts the rows side by side, so the maximum, the exponentials and
    the sums each run across the rows in one loop that vectorizes (an 11-entry row does not
    fill the vector registers, and a row's maximum and sum are chains). Per row, the
    operations are :func:`softmax_row`'s in its order (the entries a = 0, 1, ...; the sum
    left to right) with ``vexp`` for the C library's ``exp``: each entry is within a few ulp
    of :func:`softmax_row`, and the same double at any vector width. NaN propagates as in
    :func:`row_max`.
    """
    A = z.shape[0]
    e = np.empty((A, n))
    ms = np.empty((2, n))  # per row: the maximum (then log-sum-exp), and the sum
    mx, s = ms[0], ms[1]
    for i in range(n):
        mx[i] = -math.inf
        s[i] = 0.0
    for a in range(A):
        for i in range(n):
            v = z[a, i]
            if v > mx[i] or v != v:  # row_max, one entry at a time
                mx[i] = v
    for a in range(A):
        for i in range(n):
            e[a, i] = vexp(z[a, i] - mx[i])
    for a in range(A):
        for i in range(n):
            s[i] += e[a, i]
    for i in range(n):
        mx[i] += math.log(s[i])  # log-sum-exp
    for i in range(n):
        for a in range(A):
            logp[i, a] = z[a, i] - mx[i]
            probs[i, a] = e[a, i] / s[i]


@njit(cache=True)
def log_softmax_table(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax over the last axis of a (P, T, S, A) table."""
    P, T, S, _A = logits.shape
    out = np.empty_like(logits)
    for x in range(P):
        for t in range(T):
            for s in range(S):
                log_softmax_row(logits[x, t, s], out[x, t, s])
    return out
