"""Exact KL between Markov token policies by a forward recursion over state occupancy."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def exact_kl(logp: np.ndarray, logp_ref: np.ndarray) -> np.ndarray:
    """KL(pi || pi_ref)(x) for every prompt, with no sampling noise.

    With mu_t(s) the probability that generation under pi reaches state s = (x, t, prev),
    KL(x) = sum_t sum_s mu_t(s) KL(pi(.|s) || pi_ref(.|s))  (chain rule of KL for a Markov
    process). mu_0 puts mass 1 on BOS; content action a moves mass to prev = a, EOS ends.

    Args:
        logp: log pi, shape (P, T, V + 1, V + 1).
        logp_ref: log pi_ref, same shape.

    Returns:
        Array of shape (P,).
    """
    P, T, S, A = logp.shape
    out = np.zeros(P)
    mu = np.zeros(S)
    nxt = np.zeros(S)
    for x in range(P):
        mu[:] = 0.0
        mu[0] = 1.0
        kl = 0.0
        for t in range(T):
            nxt[:] = 0.0
            for s in range(S):
                m = mu[s]
                if m == 0.0:
                    continue
                row_kl = 0.0
                for a in range(A):
                    lp = logp[x, t, s, a]
                    p = np.exp(lp)
                    row_kl += p * (lp - logp_ref[x, t, s, a])
                    if a > 0:
                        nxt[a] += m * p
                kl += m * row_kl
            mu[:] = nxt
        out[x] = kl
    return out


@njit(cache=True)
def length_distribution(logp: np.ndarray) -> np.ndarray:
    """Exact distribution of the response length per prompt, shape (P, T + 1).

    By the occupancy recursion: at position t the mass in state (x, t, prev) that takes EOS
    ends a response of length t; the mass still writing at t = T - 1 ends at the cap T.
    """
    P, T, S, A = logp.shape
    out = np.zeros((P, T + 1))
    mu = np.zeros(S)
    nxt = np.zeros(S)
    for x in range(P):
        mu[:] = 0.0
        mu[0] = 1.0
        for t in range(T):
            nxt[:] = 0.0
            for s in range(S):
                m = mu[s]
                if m == 0.0:
                    continue
                out[x, t] += m * np.exp(logp[x, t, s, 0])
                for a in range(1, A):
                    nxt[a] += m * np.exp(logp[x, t, s, a])
            mu[:] = nxt
        out[x, T] = mu.sum()
    return out


@njit(cache=True)
def expected_token_counts(logp: np.ndarray) -> np.ndarray:
    """Exact expected number of each token per response, shape (P, V + 1) (column 0, EOS,
    is the probability that the response ends by EOS rather than at the cap)."""
    P, T, S, A = logp.shape
    out = np.zeros((P, A))
    mu = np.zeros(S)
    nxt = np.zeros(S)
    for x in range(P):
        mu[:] = 0.0
        mu[0] = 1.0
        for t in range(T):
            nxt[:] = 0.0
            for s in range(S):
                m = mu[s]
                if m == 0.0:
                    continue
                for a in range(A):
                    q = m * np.exp(logp[x, t, s, a])
                    out[x, a] += q
                    if a > 0:
                        nxt[a] += q
            mu[:] = nxt
    return out


@njit(cache=True)
def expected_length(logp: np.ndarray) -> np.ndarray:
    """Exact expected response length per prompt (the mean of :func:`length_distribution`)."""
    dist = length_distribution(logp)
    out = np.zeros(dist.shape[0])
    for x in range(dist.shape[0]):
        for length in range(dist.shape[1]):
            out[x] += length * dist[x, length]
    return out
