"""The hidden gold reward r*(x, y). Only the evaluation side of simrl calls this."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def gold_one(
    x: int,
    row: np.ndarray,
    length: int,
    values: np.ndarray,
    bigram: np.ndarray,
    saturation: np.ndarray,
    length_weight: float,
    length_opt: float,
    repeat_penalty: float,
    counts: np.ndarray,
) -> float:
    """Gold reward of one response; ``counts`` is scratch of size V + 1:

        r*(x, y) = sum_v g(w[x, v], c_v) + sum_t B[y_(t-1), y_t] + a (L - L^2 / (2 L*))
                   - rho * #{t : y_t = y_(t-1)},

    with y_0 = BOS, g(w, c) = w (c - c^2 / (2 kappa_v)) for w > 0 (concave, peaks at
    c = kappa_v, the per-token ``saturation``) and g(w, c) = w c for w <= 0. The count,
    length and repetition terms are concave in what a policy can push, so more helps near
    the reference policy and hurts far from it; the bigram (coherence) term ``B`` depends
    on word order.
    """
    counts[:] = 0.0
    reps = 0
    prev = 0
    r = 0.0
    for t in range(length):
        a = row[t]
        counts[a] += 1.0
        r += bigram[prev, a]
        if a == prev:
            reps += 1
        prev = a
    r += length_weight * (length - length * length / (2.0 * length_opt)) - repeat_penalty * reps
    for v in range(1, values.shape[1]):
        c = counts[v]
        if c > 0.0:
            wv = values[x, v]
            if wv > 0.0:
                r += wv * (c - c * c / (2.0 * saturation[v]))
            else:
                r += wv * c
    return r


@njit(cache=True)
def gold_rewards(
    prompts: np.ndarray,
    tokens: np.ndarray,
    lengths: np.ndarray,
    values: np.ndarray,
    bigram: np.ndarray,
    saturation: np.ndarray,
    length_weight: float,
    length_opt: float,
    repeat_penalty: float,
) -> np.ndarray:
    """Gold reward of each response (see :func:`gold_one`)."""
    out = np.empty(prompts.shape[0])
    counts = np.zeros(values.shape[1])
    for n in range(prompts.shape[0]):
        out[n] = gold_one(
            prompts[n],
            tokens[n],
            lengths[n],
            values,
            bigram,
            saturation,
            length_weight,
            length_opt,
            repeat_penalty,
            counts,
        )
    return out
