"""The terms of a policy-gradient step (:func:`simrl.kernels.pg.policy_steps`): the softmax
rows of the current logits, the score-function update of one action, each token's
coefficient (the surrogate, PPO's clip and the k2/k3 KL losses), and GRPO's group-normalized
advantages. The derivations are in the docstring of :mod:`simrl.kernels.pg`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.softmax import softmax_columns, softmax_row

ALGO_REINFORCE = 0
ALGO_RLOO = 1
ALGO_PPO = 2
ALGO_GRPO = 3
GRPO_EPS = 1e-4  # added to the group's SD (TRL's GRPOTrainer)
KL_K1 = 0
KL_K2 = 1
KL_K3 = 2


@njit(cache=True, inline="always")
def policy_row(
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    x: int,
    t: int,
    prev: int,
    logits: np.ndarray,
    logp: np.ndarray,
    probs: np.ndarray,
) -> None:
    """log pi(. | x, t, prev) and pi(. | x, t, prev) of the current logits theta + u + U[x]
    (written to ``logits``), by :func:`simrl.kernels.softmax.softmax_row`: bit-identical to
    the policy's tables (and so log pi_ref), NaN propagated."""
    for c in range(logits.shape[0]):
        logits[c] = theta[x, t, prev, c] + u[c] + U[x, c]
    softmax_row(logits, logp, probs)


@njit(cache=True, inline="always")
def add_score(
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    shared: bool,
    x: int,
    t: int,
    prev: int,
    probs: np.ndarray,
    a: int,
    g: float,
) -> None:
    """Add g * d log pi(a | s) / d(logits of s) = g (onehot(a) - pi(. | s)) to the logits of
    state s = (x, t, prev): to ``theta[x, t, prev]`` and, with shared logits, to ``u`` and
    ``U[x]``, which enter every row's logits. ``probs`` is pi(. | s)."""
    for c in range(probs.shape[0]):
        d = g * ((c == a) - probs[c])
        theta[x, t, prev, c] += d
        if shared:
            u[c] += d
            U[x, c] += d


@njit(cache=True, inline="always")
def policy_rows(
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    sx: np.ndarray,
    st: np.ndarray,
    sp: np.ndarray,
    n: int,
    logp: np.ndarray,
    probs: np.ndarray,
) -> None:
    """:func:`policy_row` of the states ``(sx[i], st[i], sp[i])``, i < n, into rows i of
    ``logp`` and ``probs``: the block's logits gathered as columns, then
    :func:`simrl.kernels.softmax.softmax_columns` (vectorized across the rows; within a few
    ulp of :func:`policy_row`, not bit-equal)."""
    A = logp.shape[1]
    z = np.empty((A, n))
    for i in range(n):
        x, t, prev = sx[i], st[i], sp[i]
        for c in range(A):
            z[c, i] = theta[x, t, prev, c] + u[c] + U[x, c]
    softmax_columns(z, n, logp, probs)


@njit(cache=True, inline="always")
def sample_coefs(
    adv: float,
    beta: float,
    lp: np.ndarray,
    lp_old: np.ndarray,
    lp_ref: np.ndarray,
    m: int,
    ppo: bool,
    ppo_clip: float,
    kl_estimator: int,
    out: np.ndarray,
) -> None:
    """One sample's update: ``out[t]`` multiplies grad log pi(y_t | s_t), t < m (ascent).

    ``lp[t]``, ``lp_old[t]`` and ``lp_ref[t]`` are log pi(y_t | s_t) now, when the sample was
    drawn, and under pi_ref. ``adv`` and ``beta`` come multiplied by the step size lr / n,
    which keeps the rounding of the surrogate's term (lr/n A) rho. Per token:

    * the surrogate, d(rho_t A)/d theta = A rho_t grad log pi (rho_t = pi / pi_old, 1 on
      the first pass); with ``ppo`` (PPO and GRPO) it is dropped where
      min(rho A, clip(rho, 1 +- eps) A) is the clipped branch (Schulman et al. 2017);
    * k1: nothing more: its penalty -beta sum_t (log pi - log pi_ref) is in the reward, hence
      in A (score function; its expectation is -beta grad KL(pi || pi_ref));
    * k2: the loss beta/2 L(y)^2 of the sequence log-ratio L(y) = sum_t (log pi - log pi_ref)
      differentiated through pi: -beta L(y) on every token (on-policy its expectation is
      -beta grad KL(pi || pi_ref); Liu et al. 2025, "Rethinking KL regularization in RLHF");
    * k3: the per-token loss beta k3_t, k3 = r - 1 - log r with r = pi_ref / pi (as GRPO):
      -beta (1 - r_t) = beta expm1(log r_t). On-policy its expectation weights each state's
      grad KL(pi_ref(.|s) || pi(.|s)) by pi's occupancy: see docs/methods.md.
    """
    big_l = 0.0
    if kl_estimator == KL_K2:
        for t in range(m):
            big_l += lp[t] - lp_ref[t]
    for t in range(m):
        ratio = math.exp(lp[t] - lp_old[t])
        clipped = ppo and (
            (adv > 0.0 and ratio > 1.0 + ppo_clip) or (adv < 0.0 and ratio < 1.0 - ppo_clip)
        )
        g = 0.0 if clipped else adv * ratio
        if kl_estimator == KL_K2:
            g -= beta * big_l
        elif kl_estimator == KL_K3:
            g += beta * math.expm1(lp_ref[t] - lp[t])
        out[t] = g


@njit(cache=True)
def group_advantages(rewards: np.ndarray, k: int, std_norm: bool, adv: np.ndarray) -> None:
    """GRPO's advantages of consecutive groups of ``k`` rewards (one group per prompt).

    With ``std_norm``: A_i = (R_i - mean R) / (std R + GRPO_EPS), std the sample standard
    deviation (ddof 1, as ``torch.std``) of the group (Shao et al. 2024; epsilon as TRL's
    GRPOTrainer); a group of equal rewards gets A = 0. Without (Dr. GRPO, Liu et al. 2025):
    A_i = R_i - mean R, which is (k - 1)/k times RLOO's leave-one-out advantage.
    """
    for b in range(rewards.shape[0] // k):
        mu = 0.0
        for q in range(k):
            mu += rewards[b * k + q]
        mu /= k
        sd = 1.0
        if std_norm:
            ss = 0.0
            for q in range(k):
                d = rewards[b * k + q] - mu
                ss += d * d
            sd = math.sqrt(ss / (k - 1)) + GRPO_EPS
        for q in range(k):
            adv[b * k + q] = (rewards[b * k + q] - mu) / sd
