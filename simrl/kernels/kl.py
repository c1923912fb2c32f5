"""Exact quantities of Markov token policies from their state occupancy: KL to a reference,
the distribution of the response length, expected token counts, entropy. No sampling noise.

The occupancy mu_t(x, s) is the probability that generation under pi for prompt x reaches
state (x, t, prev = s): mu_0 puts mass 1 on BOS, a content action a moves mass to prev = a,
EOS ends the response (and the cap T ends it after position T - 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def occupancy(logp: np.ndarray) -> np.ndarray:
    """mu[x, t, s] for a policy table ``logp`` of shape (P, T, V + 1, V + 1)."""
    P, T, S, A = logp.shape
    mu = np.zeros((P, T, S))
    for x in range(P):
        mu[x, 0, 0] = 1.0
        for t in range(T - 1):
            for s in range(S):
                m = mu[x, t, s]
                if m == 0.0:
                    continue
                for a in range(1, A):
                    mu[x, t + 1, a] += m * np.exp(logp[x, t, s, a])
    return mu


@njit(cache=True)
def exact_kl(logp: np.ndarray, logp_ref: np.ndarray) -> np.ndarray:
    """KL(pi || pi_ref)(x) for every prompt.

    KL(x) = sum_t sum_s mu_t(x, s) KL(pi(.|s) || pi_ref(.|s)) (chain rule of KL for a Markov
    process).

    Args:
        logp: log pi, shape (P, T, V + 1, V + 1).
        logp_ref: log pi_ref, same shape.

    Returns:
        Array of shape (P,).
    """
    P, T, S, A = logp.shape
    mu = occupancy(logp)
    out = np.zeros(P)
    for x in range(P):
        for t in range(T):
            for s in range(S):
                m = mu[x, t, s]
                if m == 0.0:
                    continue
                row_kl = 0.0
                for a in range(A):
                    lp = logp[x, t, s, a]
                    row_kl += np.exp(lp) * (lp - logp_ref[x, t, s, a])
                out[x] += m * row_kl
    return out


@njit(cache=True)
def expected_token_counts(logp: np.ndarray) -> np.ndarray:
    """Exact expected number of each token per response, shape (P, V + 1) (column 0, EOS,
    is the probability that the response ends by EOS rather than at the cap):
    ``E[count_a](x) = sum_t sum_s mu_t(x, s) pi(a | s)``."""
    P, T, S, A = logp.shape
    mu = occupancy(logp)
    out = np.zeros((P, A))
    for x in range(P):
        for t in range(T):
            for s in range(S):
                m = mu[x, t, s]
                if m == 0.0:
                    continue
                for a in range(A):
                    out[x, a] += m * np.exp(logp[x, t, s, a])
    return out


@njit(cache=True)
def length_distribution(logp: np.ndarray) -> np.ndarray:
    """Exact distribution of the response length per prompt, shape (P, T + 1): the mass that
    takes EOS at position t ends a response of length t; the mass still writing at position
    T - 1 ends at the cap T."""
    P, T, S, _A = logp.shape
    mu = occupancy(logp)
    out = np.zeros((P, T + 1))
    for x in range(P):
        for t in range(T):
            for s in range(S):
                m = mu[x, t, s]
                if m == 0.0:
                    continue
                p_eos = np.exp(logp[x, t, s, 0])
                out[x, t] += m * p_eos
                if t == T - 1:
                    out[x, T] += m * (1.0 - p_eos)
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


@njit(cache=True)
def policy_entropy(logp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact entropy of the response distribution and expected number of actions per prompt.

    H(x) = -sum_y pi(y | x) log pi(y | x) = sum_t sum_s mu_t(x, s) H(pi(. | s)) (chain rule
    of entropy for a Markov process), in nats per response. An action is a content token or
    the EOS that ends the response (a response cut at the cap T takes no EOS), so the expected
    number of actions is N(x) = sum_t sum_s mu_t(x, s) = E[L] + P(EOS); the entropy per token
    is H(x) / N(x), the occupancy-weighted mean entropy of the policy's decisions.

    Returns:
        ``(H, N)``, each of shape (P,).
    """
    P, T, S, A = logp.shape
    mu = occupancy(logp)
    ent = np.zeros(P)
    actions = np.zeros(P)
    for x in range(P):
        for t in range(T):
            for s in range(S):
                m = mu[x, t, s]
                if m == 0.0:
                    continue
                h = 0.0
                for a in range(A):
                    lp = logp[x, t, s, a]
                    if lp > -np.inf:  # 0 log 0 = 0
                        h -= np.exp(lp) * lp
                ent[x] += m * h
                actions[x] += m
    return ent, actions
