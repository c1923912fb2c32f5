"""Sampling responses from a tabular policy and scoring their log-probabilities."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def draw_action(cdf_row: np.ndarray, u: float) -> int:
    """Inverse-CDF draw: the first action whose cumulative probability exceeds ``u``.

    Counted without branches, a = #{c < A - 1 : cdf[c] <= u}: the same action as an
    early-exit scan, but no data-dependent branch for the CPU to mispredict. The last
    entry is never compared, which guards against the cumulative sum rounding below 1.
    """
    a = 0
    for c in range(cdf_row.shape[0] - 1):
        a += cdf_row[c] <= u
    return a


@njit(cache=True, inline="always")
def draw_from_probs(p_row: np.ndarray, u: float) -> int:
    """Inverse-CDF draw from a probability row, accumulating the CDF on the fly (the same
    branch-free count as :func:`draw_action`)."""
    a = 0
    c = 0.0
    for k in range(p_row.shape[0] - 1):
        c += p_row[k]
        a += c <= u
    return a


@njit(cache=True, inline="always")
def sample_one(cdf: np.ndarray, x: int, rng: np.random.Generator, out_row: np.ndarray) -> int:
    """Write one response to prompt ``x`` into ``out_row`` and return its length.

    The Markov state is ``(x, t, prev)`` with ``prev = 0`` (BOS) at ``t = 0``; EOS (action 0)
    or the length cap ``T = out_row.shape[0]`` ends the response.
    """
    T = out_row.shape[0]
    prev = 0
    length = 0
    for t in range(T):
        a = draw_action(cdf[x, t, prev], rng.random())
        if a == 0:
            break
        out_row[t] = a
        length += 1
        prev = a
    for t in range(length, T):
        out_row[t] = 0
    return length


@njit(cache=True)
def sample_responses(
    cdf: np.ndarray,
    prompts: np.ndarray,
    rng: np.random.Generator,
    tokens: np.ndarray,
    lengths: np.ndarray,
) -> None:
    """Sample one response per entry of ``prompts`` into ``tokens[n, T]`` and ``lengths[n]``."""
    for n in range(prompts.shape[0]):
        lengths[n] = sample_one(cdf, prompts[n], rng, tokens[n])


@njit(cache=True)
def sequence_logprobs(
    logp: np.ndarray, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """log pi(y | x) of each response: the sum of its token log-probs, EOS included.

    A response that stopped at the cap ``T`` took no EOS action, so none is counted.
    """
    T = tokens.shape[1]
    out = np.zeros(prompts.shape[0])
    for n in range(prompts.shape[0]):
        x, prev, s = prompts[n], 0, 0.0
        for t in range(lengths[n]):
            a = tokens[n, t]
            s += logp[x, t, prev, a]
            prev = a
        if lengths[n] < T:
            s += logp[x, lengths[n], prev, 0]
        out[n] = s
    return out
