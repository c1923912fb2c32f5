"""Exact chi^2 divergence between state-action occupancy measures, and its exact gradient.

Laidlaw et al. (2025, "Correlated proxies") regularize chi^2(mu_pi || mu_ref) between
occupancy measures, not between action distributions. Here it is exact: with prompts drawn
uniformly (weight w = 1/P) and the state occupancy m_t(x, s) of
:func:`simrl.kernels.kl.occupancy`,

    d(x, t, s, a) = m_t(x, s) pi(a | x, t, s),     N = sum w d = E[number of actions],
    mu(x, t, s, a) = w d / N,     chi^2 = sum mu^2 / mu_ref - 1 = N_ref S / N^2 - 1,

with S = sum w d^2 / d_ref. Every action counts, EOS included, so mu sums to one and N is
the expected number of decisions E[T] of Laidlaw et al.'s sum_t P(s_t = s, a_t = a) / E[T].
The state is the policy's own (prompt, position, previous token); with ``pool`` the
position is summed out first (state (prompt, previous token)), a coarser measure whose
chi^2 is never larger (data processing).

The gradient is a backward (adjoint) recursion. For any cost c, J = sum c d has
V_t(s) = sum_a pi(a|s) Q_t(s, a), Q_t(s, a) = c_t(s, a) + [a != EOS, t < T - 1] V_{t+1}(a),
and dJ/dlogit_t(s, a) = m_t(s) pi(a|s) (Q_t(s, a) - V_t(s)) (softmax Jacobian). chi^2 is
J with c = dchi^2/dd = 2 w N_ref / N^2 (d/d_ref - S/N), taken at the current d.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.kl import occupancy
from simrl.kernels.softmax import log_softmax_table


@njit(cache=True)
def state_action_occupancy(logp: np.ndarray, pool: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(d, m)``: expected visits d[x, t', s, a] of each state-action pair per response
    (t' = 0 only, summed over positions, with ``pool``) and the state occupancy m[x, t, s]."""
    P, T, S, A = logp.shape
    m = occupancy(logp)
    d = np.zeros((P, 1 if pool else T, S, A))
    for x in range(P):
        for t in range(T):
            tt = 0 if pool else t
            for s in range(S):
                if m[x, t, s] == 0.0:
                    continue
                for a in range(A):
                    d[x, tt, s, a] += m[x, t, s] * math.exp(logp[x, t, s, a])
    return d, m


@njit(cache=True)
def chi2_cost(d: np.ndarray, d_ref: np.ndarray, cost: np.ndarray) -> float:
    """chi^2(mu || mu_ref) of expected visits ``d`` against ``d_ref`` (same shape), with
    prompts weighted 1/P; writes dchi^2/dd into ``cost``. Pairs the reference never visits
    carry no term (a softmax policy reaches exactly the states the reference reaches)."""
    w = 1.0 / d.shape[0]
    dv, rv, cv = d.reshape(-1), d_ref.reshape(-1), cost.reshape(-1)  # views (contiguous)
    n = w * dv.sum()
    n_ref = w * rv.sum()
    s_sum = 0.0
    for i in range(dv.size):
        if rv[i] > 0.0:
            s_sum += w * dv[i] * dv[i] / rv[i]
    for i in range(dv.size):
        ratio = dv[i] / rv[i] if rv[i] > 0.0 else 0.0
        cv[i] = 2.0 * w * n_ref / (n * n) * (ratio - s_sum / n)
    return n_ref * s_sum / (n * n) - 1.0


@njit(cache=True)
def occupancy_vjp(logp: np.ndarray, m: np.ndarray, cost: np.ndarray, g: np.ndarray) -> None:
    """g += d/dlogits of sum c d for the cost table ``cost`` (position axis of length 1
    when pooled), by the backward recursion in the module docstring."""
    P, T, S, A = logp.shape
    pool = cost.shape[1] == 1
    v_next = np.zeros(S)
    v = np.zeros(S)
    q = np.zeros(A)
    for x in range(P):
        for t in range(T - 1, -1, -1):
            tt = 0 if pool else t
            for s in range(S):
                vs = 0.0
                for a in range(A):
                    q[a] = cost[x, tt, s, a]
                    if a != 0 and t < T - 1:
                        q[a] += v_next[a]
                    vs += math.exp(logp[x, t, s, a]) * q[a]
                v[s] = vs
                if m[x, t, s] != 0.0:
                    for a in range(A):
                        g[x, t, s, a] += m[x, t, s] * math.exp(logp[x, t, s, a]) * (q[a] - vs)
            v_next[:] = v


@njit(cache=True)
def chi2_value(logp: np.ndarray, d_ref: np.ndarray) -> float:
    """chi^2(mu_pi || mu_ref) of the policy ``logp``: :func:`chi2_grad`'s value, computed the
    same way, without the backward recursion."""
    d, _ = state_action_occupancy(logp, d_ref.shape[1] == 1)
    return chi2_cost(d, d_ref, np.empty_like(d))


@njit(cache=True)
def chi2_grad(logp: np.ndarray, d_ref: np.ndarray, g: np.ndarray) -> float:
    """chi^2(mu_pi || mu_ref) of the policy ``logp``; its gradient in the logits is added
    into ``g``. ``d_ref`` from :func:`state_action_occupancy` of the reference (pooled or
    not: its position axis decides)."""
    d, m = state_action_occupancy(logp, d_ref.shape[1] == 1)
    cost = np.empty_like(d)
    chi2 = chi2_cost(d, d_ref, cost)
    occupancy_vjp(logp, m, cost, g)
    return chi2


@njit(cache=True)
def chi2_step(
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    shared: bool,
    d_ref: np.ndarray,
    coef: float,
    lr: float,
) -> float:
    """One gradient step on -coef chi^2 in place: theta -= lr coef dchi^2/dtheta (and u, U
    with ``shared``), the regularizer's part of maximizing J(pi) - coef chi^2. Callable
    once per step from inside a policy-gradient kernel; returns chi^2 before the step."""
    P, T, S, A = theta.shape
    logits = np.empty_like(theta)
    for x in range(P):
        for t in range(T):
            for s in range(S):
                for a in range(A):
                    logits[x, t, s, a] = theta[x, t, s, a] + u[a] + U[x, a]
    g = np.zeros_like(theta)
    chi2 = chi2_grad(log_softmax_table(logits), d_ref, g)
    step = lr * coef
    for x in range(P):
        for t in range(T):
            for s in range(S):
                for a in range(A):
                    theta[x, t, s, a] -= step * g[x, t, s, a]
                    if shared:
                        u[a] -= step * g[x, t, s, a]
                        U[x, a] -= step * g[x, t, s, a]
    return chi2
