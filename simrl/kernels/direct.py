"""Direct alignment losses on preference pairs and their exact gradient in the policy logits.

For a pair (x, y_w, y_l) (y_w preferred) let ``l_w = log pi(y_w|x) - log pi_ref(y_w|x)`` and
``l_l`` likewise, summed over the whole response with EOS included where it was emitted
(:func:`simrl.kernels.sampling.sequence_logprobs`), and ``h = l_w - l_l``:

* DPO (Rafailov et al. 2023, eq. 7): ``-log sigma(beta h)``;
* IPO (Azar et al. 2023, the empirical IPO loss with their tau written beta):
  ``(h - 1/(2 beta))^2``;
* SLiC (Zhao et al. 2023; the hinge on the reference-relative margin, as Rafailov et al.
  2024 compare it with DPO and IPO): ``max(0, 1 - beta h)``;
* chiPO (Huang et al. 2024, Algorithm 1): with z = pi/pi_ref and phi(z) = z + log z,
  ``-log sigma(clip_{2 R_max}[beta phi(z_w) - beta phi(z_l)])`` where
  ``clip_R(v) = max(min(v, R), -R)`` clips the *margin* (not each implicit reward).
  phi is taken from the log-ratio, phi = exp(l) + l, never from pi(y)/pi_ref(y) (both
  probabilities underflow for long responses).

The gradient of log pi(y|x) in the logits row of a visited state s is onehot(a) - pi(.|s)
(the softmax score), so a pair adds ``dL/dl_w (onehot - pi)`` along y_w and
``dL/dl_l (onehot - pi)`` along y_l. Gradients are with respect to the table of effective
logits; :func:`simrl.policy.shared_logit_grads` carries them to the shared logits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.rm import sigmoid, softplus
from simrl.kernels.sampling import sequence_logprobs

# Loss codes (kept in sync with simrl.direct.LOSSES).
LOSS_DPO = 0
LOSS_IPO = 1
LOSS_SLIC = 2
LOSS_CHIPO = 3
_EXP_MAX = 709.0  # exp overflows a double beyond log(DBL_MAX) = 709.78


@njit(cache=True)
def chipo_margin(l_w: float, l_l: float, beta: float) -> float:
    """beta (phi(z_w) - phi(z_l)) with phi(z) = z + log z and log z_w = l_w, log z_l = l_l.

    z_w - z_l = sign(l_w - l_l) exp(max) (1 - exp(-|l_w - l_l|)): one exp of the larger
    log-ratio, +-inf when that overflows (the margin is then clipped anyway).
    """
    d = l_w - l_l
    m = max(l_w, l_l)
    if m > _EXP_MAX:
        diff = math.inf if d > 0.0 else (-math.inf if d < 0.0 else 0.0)
    else:
        diff = -math.exp(m) * math.expm1(-abs(d))
        if d < 0.0:
            diff = -diff
    return beta * (diff + d)


@njit(cache=True)
def implicit_margin(kind: int, l_w: float, l_l: float, beta: float) -> float:
    """The implicit reward margin r(y_w) - r(y_l): beta h for DPO, IPO and SLiC (the
    implicit reward beta log pi/pi_ref), beta (phi(z_w) - phi(z_l)) for chiPO."""
    if kind == LOSS_CHIPO:
        return chipo_margin(l_w, l_l, beta)
    return beta * (l_w - l_l)


@njit(cache=True)
def pair_loss(
    kind: int, l_w: float, l_l: float, beta: float, clip: float
) -> tuple[float, float, float]:
    """Loss of one pair and its derivatives in l_w and l_l.

    Args:
        kind: LOSS_DPO, LOSS_IPO, LOSS_SLIC or LOSS_CHIPO.
        l_w: Log-ratio log pi/pi_ref of the chosen response.
        l_l: Log-ratio log pi/pi_ref of the rejected response.
        beta: The paper's beta (tau for IPO).
        clip: chiPO's clip bound 2 R_max on the margin (inf: no clipping).
    """
    if kind == LOSS_IPO:
        e = (l_w - l_l) - 0.5 / beta
        return e * e, 2.0 * e, -2.0 * e
    if kind == LOSS_SLIC:
        u = beta * (l_w - l_l)
        if u < 1.0:
            return 1.0 - u, -beta, beta
        return 0.0, 0.0, 0.0
    if kind == LOSS_CHIPO:
        v = chipo_margin(l_w, l_l, beta)
        if v > clip or v < -clip:  # clip_{2 R_max}: flat outside, no gradient
            c = clip if v > 0.0 else -clip
            return softplus(-c), 0.0, 0.0
        g = -beta * sigmoid(-v)
        # d phi(e^l)/dl = e^l + 1; e^l is finite here unless both ratios overflow together
        dphi_w = math.exp(min(l_w, _EXP_MAX)) + 1.0
        dphi_l = math.exp(min(l_l, _EXP_MAX)) + 1.0
        return softplus(-v), g * dphi_w, -g * dphi_l
    u = beta * (l_w - l_l)  # DPO
    g = -beta * sigmoid(-u)
    return softplus(-u), g, -g


@njit(cache=True)
def add_score(
    logp: np.ndarray, x: int, tokens: np.ndarray, length: int, weight: float, g: np.ndarray
) -> None:
    """g += weight * d log pi(y|x) / d logits: onehot(a) - pi(.|s) at each visited state,
    EOS included when the response ended before the cap."""
    T, A = logp.shape[1], logp.shape[3]
    prev = 0
    n_act = length + 1 if length < T else T
    for t in range(n_act):
        a = tokens[t] if t < length else 0
        for c in range(A):
            g[x, t, prev, c] -= weight * math.exp(logp[x, t, prev, c])
        g[x, t, prev, a] += weight
        prev = a


@njit(cache=True)
def pairs_loss_grad(
    logp: np.ndarray,
    prompts: np.ndarray,
    tok_w: np.ndarray,
    len_w: np.ndarray,
    ref_w: np.ndarray,
    tok_l: np.ndarray,
    len_l: np.ndarray,
    ref_l: np.ndarray,
    weights: np.ndarray,
    kind: int,
    beta: float,
    clip: float,
    g: np.ndarray,
    margins: np.ndarray,
) -> float:
    """sum_i weights[i] loss_i over pairs; its gradient in the logits is added into ``g``.

    Args:
        logp: log pi table of the current policy, shape (P, T, V + 1, V + 1).
        ref_w: log pi_ref(y|x) of the chosen responses.
        ref_l: log pi_ref(y|x) of the rejected responses.
        weights: Per-pair weights (1/B for a mini-batch mean).
        g: Gradient accumulator, the shape of ``logp``.
        margins: Output, the implicit reward margin of each pair (:func:`implicit_margin`).

    Returns:
        The weighted loss.
    """
    lw = sequence_logprobs(logp, prompts, tok_w, len_w)
    ll = sequence_logprobs(logp, prompts, tok_l, len_l)
    total = 0.0
    for i in range(prompts.shape[0]):
        l_w, l_l = lw[i] - ref_w[i], ll[i] - ref_l[i]
        loss, d_w, d_l = pair_loss(kind, l_w, l_l, beta, clip)
        margins[i] = implicit_margin(kind, l_w, l_l, beta)
        total += weights[i] * loss
        if d_w != 0.0:
            add_score(logp, prompts[i], tok_w[i], len_w[i], weights[i] * d_w, g)
            add_score(logp, prompts[i], tok_l[i], len_l[i], weights[i] * d_l, g)
    return total
