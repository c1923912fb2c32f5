"""Log-softmax used by every policy table and by the policy-gradient kernel.

One implementation for both means equal logits give bit-equal log-probabilities, so the
per-token KL penalty log pi - log pi_ref is exactly zero where the policies agree.
:func:`softmax_rows` computes a block of rows with a vectorized exponential, for the rows
that are not compared with the tables (the later passes of a PPO or GRPO step).
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
def softmax_rows(logits: np.ndarray, n: int, logp: np.ndarray, probs: np.ndarray) -> None:
    """:func:`softmax_row` of the first ``n`` rows of ``logits`` (C-contiguous, 2-D) with
    every exponential of the block in one loop of :func:`simrl.kernels.vexp.vexp`, which
    vectorizes (the C library's ``exp`` is a call per entry). The same operations in the same
    order as :func:`softmax_row` but for the exponential, so each entry is within a few ulp
    of it, and the same double at any vector width. ``logp`` may be ``logits`` itself;
    ``probs`` holds the shifted logits, then the exponentials."""
    A = logits.shape[1]
    mx = np.empty(n)
    for i in range(n):
        mx[i] = row_max(logits[i])
        for a in range(A):
            probs[i, a] = logits[i, a] - mx[i]
    flat = probs.reshape(probs.size)
    for j in range(n * A):
        flat[j] = vexp(flat[j])
    for i in range(n):
        s = 0.0
        for a in range(A):
            s += probs[i, a]
        lse = mx[i] + math.log(s)
        for a in range(A):
            logp[i, a] = logits[i, a] - lse
            probs[i, a] /= s


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
