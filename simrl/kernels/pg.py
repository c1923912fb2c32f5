"""RLOO policy gradient on tabular logits against the proxy, with a per-token KL penalty.

RLOO (Ahmadian et al. 2024; Kool et al. 2019): for each prompt draw k responses, score each
with R_i = r_phi(x, y_i) - beta * sum_t (log pi(y_t|s_t) - log pi_ref(y_t|s_t)), and use the
leave-one-out baseline A_i = R_i - (1/(k-1)) sum_{j != i} R_j in REINFORCE. The score-function
gradient of a softmax row is d log pi(a|s) / d theta[s, :] = onehot(a) - pi(.|s).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.features import features_one, max_nnz
from simrl.kernels.rm import forward_one
from simrl.kernels.sampling import draw_from_probs
from simrl.kernels.softmax import log_softmax_row


@njit(cache=True)
def rloo_steps(
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    shared: bool,
    logp_ref: np.ndarray,
    rm_params: np.ndarray,
    F: int,
    H: int,
    prompt_features: bool,
    b0: int,
    feat_scale: float,
    kl_coef: float,
    k: int,
    batch_prompts: int,
    lr: float,
    n_steps: int,
    rng: np.random.Generator,
    history: np.ndarray,
) -> bool:
    """Run ``n_steps`` RLOO updates on the policy logits in place.

    The logits of state (x, t, prev) are ``theta[x, t, prev] + u + U[x]``: a table of shape
    (P, T, V+1, V+1) plus, if ``shared``, a per-token vector ``u`` (V+1,) and per-prompt
    token vectors ``U`` (P, V+1) that every state shares (their gradient is the sum of the
    table's gradient over the states that use them). With ``shared`` False, ``u`` and ``U``
    stay as given.

    Each step takes ``batch_prompts`` distinct prompts, ``k`` responses each, and ascends
    (1 / (batch_prompts k)) sum_i A_i sum_t grad log pi(y_t | s_t) with step size ``lr``.

    Args:
        history: ``(n_steps, 2)`` output: mean proxy reward and mean summed k1 penalty term
            sum_t (log pi - log pi_ref) of the step's samples.

    Returns:
        False if a reward or logit became non-finite (the loop stops there).
    """
    P, T, _S, A = theta.shape
    V = A - 1
    n = batch_prompts * k
    acts = np.zeros((n, T + 1), np.int64)  # actions taken, EOS included
    nact = np.zeros(n, np.int64)
    probs = np.zeros((n, T + 1, A))  # pi(.|s_t) at the time of sampling
    rewards = np.zeros(n)
    row = np.zeros(T, np.int64)
    counts = np.zeros(V + 1)
    K = max_nnz(V, T)
    fidx = np.zeros(K, np.int32)
    fval = np.zeros(K)
    h = np.zeros(H)
    perm = np.arange(P)
    scale = lr / n
    row_logits = np.zeros(A)
    row_logp = np.zeros(A)
    for step in range(n_steps):
        for i in range(batch_prompts):  # partial Fisher-Yates: distinct prompts
            j = i + rng.integers(0, P - i)
            perm[i], perm[j] = perm[j], perm[i]
        mean_r, mean_kl = 0.0, 0.0
        for b in range(batch_prompts):
            x = perm[b]
            for q in range(k):
                i = b * k + q
                prev, length, kl = 0, 0, 0.0
                for t in range(T):
                    for c in range(A):
                        row_logits[c] = theta[x, t, prev, c] + u[c] + U[x, c]
                    log_softmax_row(row_logits, row_logp)
                    for c in range(A):
                        probs[i, t, c] = math.exp(row_logp[c])
                    a = draw_from_probs(probs[i, t], rng.random())
                    acts[i, t] = a
                    kl += row_logp[a] - logp_ref[x, t, prev, a]  # k1 = log pi - log pi_ref
                    if a == 0:
                        break
                    row[t] = a
                    length += 1
                    prev = a
                nact[i] = length + 1 if length < T else T
                features_one(
                    x, row, length, V, F, prompt_features, b0, feat_scale, counts, fidx, fval
                )
                r = forward_one(fidx, fval, rm_params, F, H, h)
                rewards[i] = r - kl_coef * kl
                mean_r += r
                mean_kl += kl
        history[step, 0] = mean_r / n
        history[step, 1] = mean_kl / n
        for b in range(batch_prompts):
            x = perm[b]
            tot = 0.0
            for q in range(k):
                tot += rewards[b * k + q]
            for q in range(k):
                i = b * k + q
                adv = rewards[i] - (tot - rewards[i]) / (k - 1)  # leave-one-out baseline
                if not math.isfinite(adv):
                    return False
                g = scale * adv
                prev = 0
                for t in range(nact[i]):
                    a = acts[i, t]
                    for c in range(A):
                        theta[x, t, prev, c] -= g * probs[i, t, c]
                    theta[x, t, prev, a] += g
                    if shared:
                        for c in range(A):
                            u[c] -= g * probs[i, t, c]
                            U[x, c] -= g * probs[i, t, c]
                        u[a] += g
                        U[x, a] += g
                    prev = a
    return True
