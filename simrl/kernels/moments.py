"""Exact moments of the gold reward under a Markov token policy, by forward recursion over the
state occupancy (the recursion of :mod:`simrl.kernels.kl`). No sampling noise.

The gold (:func:`simrl.kernels.gold.gold_one`) is a sum of per-token increments. Writing
content token ``a`` at position ``t`` (``t`` tokens already written) after ``prev = s``, with
``c_a`` copies of ``a`` already written, adds

    delta(t, s, a, c_a) = B[s, a] - rho [a = s] + alpha (1 - (2 t + 1) / (2 L*))
                          + w_a (1 - (2 c_a + 1) / (2 kappa_a))     if w_a > 0
                          + w_a                                     if w_a <= 0,

because ``L - L^2 / (2 L*) = sum_(t < L) (1 - (2 t + 1) / (2 L*))`` and likewise
``c - c^2 / (2 kappa) = sum_(k < c) (1 - (2 k + 1) / (2 kappa))``. So
``delta = beta - gamma_a c_a`` is *linear* in the count of the emitted token, with

    beta(t, s, a) = B[s, a] - rho [a = s] + alpha (1 - (2 t + 1) / (2 L*)) + lin_a,
    lin_a = w_a (1 - 1 / (2 kappa_a)), gamma_a = w_a / kappa_a   (w_a > 0),
    lin_a = w_a,                       gamma_a = 0               (w_a <= 0).

The mean therefore needs only the occupancy mu_t(s) = P(s_t = s) and the first count moments
E[c_v 1{s_t = s}] (the second moments E[c_v^2] of the counts enter through the sum over k,
not as a carried quantity); the second moment of the gold carries E[c_u c_v 1{s_t = s}],
E[R_t 1{s_t = s}], E[R_t c_v 1{s_t = s}] and E[R_t^2 1{s_t = s}], with R_t the gold
accumulated so far. Emitting ``a`` maps c_v -> c_v + [a = v] and R -> R + delta.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def increment_coefficients(values: np.ndarray, saturation: np.ndarray, x: int):
    """``(lin, gamma)``, each of shape (V + 1,): the token-value part of the increment,
    ``w_a (1 - (2 c_a + 1) / (2 kappa_a)) = lin_a - gamma_a c_a`` for w_a > 0 (concave) and
    ``w_a`` for w_a <= 0 (linear, gamma_a = 0). Entry 0 (EOS) is unused."""
    A = values.shape[1]
    lin = np.zeros(A)
    gamma = np.zeros(A)
    for a in range(1, A):
        w = values[x, a]
        if w > 0.0:
            lin[a] = w * (1.0 - 1.0 / (2.0 * saturation[a]))
            gamma[a] = w / saturation[a]
        else:
            lin[a] = w
    return lin, gamma


@njit(cache=True)
def gold_expectation(logp: np.ndarray, gold: tuple) -> np.ndarray:
    """``E_pi[r*(x, y)]`` for every prompt, exactly:

        E[r*](x) = sum_t sum_s sum_(a >= 1) pi(a | s) (mu_t(s) beta(t, s, a)
                   - gamma_a E[c_a 1{s_t = s}]),

    carrying ``E[c_v 1{s_t = s}]`` forward:

        E[c_v 1{s_(t+1) = a}] = sum_s pi(a | s) (E[c_v 1{s_t = s}] + [a = v] mu_t(s)).

    Cost ``O(T (V + 1)^3)`` per prompt.

    Args:
        logp: log pi, shape (P, T, V + 1, V + 1).
        gold: The gold spec ``(values, bigram, saturation, length_weight, length_opt,
            repeat_penalty)`` (:meth:`simrl.world.Gold.spec`).

    Returns:
        Array of shape (P,).
    """
    values, bigram, saturation, length_weight, length_opt, repeat_penalty = gold
    P, T, S, A = logp.shape
    out = np.zeros(P)
    mu = np.zeros(S)
    m1 = np.zeros((S, A))  # m1[s, v] = E[c_v 1{s_t = s}]
    mu_next = np.zeros(S)
    m1_next = np.zeros((S, A))
    for x in range(P):
        lin, gamma = increment_coefficients(values, saturation, x)
        mu[:] = 0.0
        m1[:, :] = 0.0
        mu[0] = 1.0
        r = 0.0
        for t in range(T):
            ell = length_weight * (1.0 - (2.0 * t + 1.0) / (2.0 * length_opt))
            mu_next[:] = 0.0
            m1_next[:, :] = 0.0
            for s in range(S):
                m = mu[s]
                if m == 0.0:  # then E[c_v 1{s}] = 0 too
                    continue
                for a in range(1, A):
                    p = np.exp(logp[x, t, s, a])
                    beta = bigram[s, a] + ell + lin[a]
                    if a == s:
                        beta -= repeat_penalty
                    r += p * (m * beta - gamma[a] * m1[s, a])
                    mu_next[a] += p * m
                    for v in range(1, A):
                        m1_next[a, v] += p * m1[s, v]
                    m1_next[a, a] += p * m
            mu, mu_next = mu_next, mu
            m1, m1_next = m1_next, m1
        out[x] = r
    return out


@njit(cache=True)
def gold_moments(logp: np.ndarray, gold: tuple) -> np.ndarray:
    """``E_pi[r*]`` and ``E_pi[r*^2]`` for every prompt, exactly, shape (P, 2).

    Carries, per state s at position t, mu = P(s_t = s) and the expectations times 1{s_t = s}
    of c_v, c_u c_v, R, R c_v and R^2, where R is the gold accumulated so far. Emitting a
    adds delta = beta - gamma_a c_a (module docstring), so with p = pi(a | s):

        E[R'^2]    += p (E[R^2] + 2 beta E[R] - 2 gamma_a E[R c_a] + beta^2 mu
                         - 2 beta gamma_a E[c_a] + gamma_a^2 E[c_a^2]),
        E[R' c'_v] += p (E[R c_v] + beta E[c_v] - gamma_a E[c_a c_v]
                         + [a = v] (E[R] + beta mu - gamma_a E[c_a])),
        E[c'_u c'_v] += p (E[c_u c_v] + [a = u] E[c_v] + [a = v] E[c_u] + [a = u][a = v] mu).

    A response ends with R when EOS is drawn, or at the cap T, so E[R^k] sums pi(EOS | s)
    E[R^k 1{s_t = s}] over t < T and E[R^k 1{s_T = s}]. Cost O(T (V + 1)^4) per prompt.

    Args:
        logp: log pi, shape (P, T, V + 1, V + 1).
        gold: The gold spec (see :func:`gold_expectation`).
    """
    values, bigram, saturation, length_weight, length_opt, repeat_penalty = gold
    P, T, S, A = logp.shape
    out = np.zeros((P, 2))
    mu, mu_n = np.zeros(S), np.zeros(S)
    m1, m1_n = np.zeros((S, A)), np.zeros((S, A))
    m2, m2_n = np.zeros((S, A, A)), np.zeros((S, A, A))
    q, q_n = np.zeros(S), np.zeros(S)
    qc, qc_n = np.zeros((S, A)), np.zeros((S, A))
    q2, q2_n = np.zeros(S), np.zeros(S)
    for x in range(P):
        lin, gamma = increment_coefficients(values, saturation, x)
        mu[:] = 0.0
        m1[:] = 0.0
        m2[:] = 0.0
        q[:] = 0.0
        qc[:] = 0.0
        q2[:] = 0.0
        mu[0] = 1.0
        for t in range(T):
            ell = length_weight * (1.0 - (2.0 * t + 1.0) / (2.0 * length_opt))
            mu_n[:] = 0.0
            m1_n[:] = 0.0
            m2_n[:] = 0.0
            q_n[:] = 0.0
            qc_n[:] = 0.0
            q2_n[:] = 0.0
            for s in range(S):
                m = mu[s]
                if m == 0.0:
                    continue
                p_eos = np.exp(logp[x, t, s, 0])
                out[x, 0] += p_eos * q[s]
                out[x, 1] += p_eos * q2[s]
                for a in range(1, A):
                    p = np.exp(logp[x, t, s, a])
                    beta = bigram[s, a] + ell + lin[a]
                    if a == s:
                        beta -= repeat_penalty
                    g = gamma[a]
                    e_r = q[s] + beta * m - g * m1[s, a]  # E[R' 1{s}] before weighting by p
                    mu_n[a] += p * m
                    q_n[a] += p * e_r
                    q2_n[a] += p * (
                        q2[s]
                        + 2.0 * (beta * q[s] - g * qc[s, a])
                        + beta * beta * m
                        - 2.0 * beta * g * m1[s, a]
                        + g * g * m2[s, a, a]
                    )
                    for v in range(1, A):
                        m1_n[a, v] += p * m1[s, v]
                        qc_n[a, v] += p * (qc[s, v] + beta * m1[s, v] - g * m2[s, a, v])
                        for u in range(1, A):
                            m2_n[a, u, v] += p * m2[s, u, v]
                        m2_n[a, a, v] += p * m1[s, v]
                        m2_n[a, v, a] += p * m1[s, v]
                    m1_n[a, a] += p * m
                    m2_n[a, a, a] += p * m
                    qc_n[a, a] += p * e_r
            mu, mu_n = mu_n, mu
            m1, m1_n = m1_n, m1
            m2, m2_n = m2_n, m2
            q, q_n = q_n, q
            qc, qc_n = qc_n, qc
            q2, q2_n = q2_n, q2
        for s in range(S):  # the mass still writing after T tokens ends at the cap
            out[x, 0] += q[s]
            out[x, 1] += q2[s]
    return out
