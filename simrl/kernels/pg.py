"""Policy gradient on tabular (plus shared) logits with a KL penalty.

Per step: ``batch_prompts`` distinct prompts, ``k`` responses each, an advantage per
response from the sequence reward ``R_i``, then one of

* REINFORCE with a baseline: A_i = R_i - b, b an exponential moving average of mean R
  (Williams 1992);
* RLOO: A_i = R_i - (1/(k-1)) sum_{j != i} R_j (Kool et al. 2019; Ahmadian et al. 2024);
* PPO-clip: the RLOO advantage, then ``ppo_epochs`` passes over the batch maximizing
  min(rho A, clip(rho, 1 - eps, 1 + eps) A) with rho = pi / pi_old per token (Schulman et
  al. 2017); a critic-free variant, since the reward is given per sequence; advantages are
  optionally normalized to mean 0 and standard deviation 1 per batch;
* GRPO (Shao et al. 2024, eq. 3 with outcome supervision): the group-normalized advantage
  A_i = (R_i - mean R) / (std R + 1e-4) over the k responses of a prompt (std the sample
  standard deviation, ddof 1, and 1e-4 as TRL's GRPOTrainer), PPO's clipped ratio over
  ``ppo_epochs`` passes, and each response's per-token objective averaged over its actions
  (EOS included when emitted): the sample's coefficients are divided by its action count.
  Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-like training"; ``grpo_std_norm``
  False): A_i = R_i - mean R and no division by the length.

The KL penalty (coefficient beta) is implemented as Liu et al. (2025, "Rethinking KL
regularization in RLHF") set out: k1 in the reward, R_i = r(x, y_i) - beta sum_t (log pi -
log pi_ref)(y_t | s_t), trained by the score function; k2 as the sequence loss beta/2 L(y)^2
and k3 as the per-token loss beta sum_t k3_t (GRPO), both differentiated through pi
(:func:`sample_coefs`); then R_i = r(x, y_i).

With ``chi2_coef`` = lambda > 0 every step also descends lambda chi^2(mu_pi || mu_ref), the
exact chi^2 between state-action occupancies (Laidlaw et al. 2025), by
:func:`simrl.kernels.occupancy.chi2_step` at the parameters the step's samples were drawn
from, so that a single-pass step is the gradient step on J - lambda chi^2 at one point.

The score function of a softmax row is d log pi(a|s) / d theta[s, :] = onehot(a) - pi(.|s).
The logits of state (x, t, prev) are ``theta[x, t, prev] + u + U[x]``; with ``shared`` the
vectors ``u`` (per token) and ``U[x]`` (per prompt and token) are learned too, and their
gradient is the sum of the row gradients of every state that uses them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simrl.kernels.occupancy import chi2_step
from simrl.kernels.pg_terms import (
    ALGO_GRPO,
    ALGO_PPO,
    ALGO_REINFORCE,
    ALGO_RLOO,
    GRPO_EPS,
    KL_K1,
    KL_K2,
    KL_K3,
    add_score,
    group_advantages,
    policy_row,
    policy_rows,
    sample_coefs,
)
from simrl.kernels.reward import rewards_into
from simrl.kernels.sampling import draw_from_probs

__all__ = [  # the constants are re-exported (callers read them from here)
    "ALGO_GRPO",
    "ALGO_PPO",
    "ALGO_REINFORCE",
    "ALGO_RLOO",
    "GRPO_EPS",
    "KL_K1",
    "KL_K2",
    "KL_K3",
    "policy_steps",
]


@njit(cache=True)
def policy_steps(
    theta: np.ndarray,
    u: np.ndarray,
    U: np.ndarray,
    shared: bool,
    logp_ref: np.ndarray,
    source: int,
    rm: tuple,
    gold: tuple,
    r_mul: float,
    r_add: np.ndarray,
    whiten: bool,
    algo: int,
    kl_estimator: int,
    kl_target: float,
    kl_horizon: float,
    k: int,
    batch_prompts: int,
    lr: float,
    ppo_epochs: int,
    ppo_clip: float,
    ppo_norm_adv: bool,
    baseline_decay: float,
    grpo_std_norm: bool,
    chi2_coef: float,
    d_ref: np.ndarray | None,
    n_steps: int,
    rng: np.random.Generator,
    history: np.ndarray,
    state: np.ndarray,
) -> bool:
    """Run ``n_steps`` updates of the policy logits in place.

    Args:
        source: 0 to optimize the proxy ``rm``, 1 the gold (reference runs only).
        r_mul: the optimized reward is ``r_mul * r + r_add[x]`` of the source's reward r
            (reward normalization on reference samples; 1 and 0 for the raw reward).
        r_add: see ``r_mul``.
        whiten: normalize those rewards to mean 0 and SD 1 over each batch (all its prompts
            and responses) before the k1 penalty is subtracted.
        grpo_std_norm: GRPO (True) or Dr. GRPO (False); read only with ``algo = ALGO_GRPO``.
        chi2_coef: lambda of the occupancy chi^2 (read only with ``d_ref``).
        d_ref: the reference's expected state-action visits
            (:func:`simrl.kernels.occupancy.state_action_occupancy`), None when off: the
            chi^2 branch is then pruned before typing, and its kernels are not compiled.
        state: ``[beta, baseline]`` carried between calls: the KL coefficient (adapted if
            ``kl_target > 0``, Ziegler et al. 2019) and the REINFORCE baseline (NaN before
            the first step).
        history: ``(n_steps, 3)`` output: mean optimized reward, mean summed k1 log-ratio
            sum_t (log pi - log pi_ref), and beta, per step.

    Returns:
        False if a reward or an advantage became non-finite (the loop stops there).
    """
    P, T, S, A = theta.shape
    V = A - 1
    n = batch_prompts * k
    # Every sample of a step is drawn from, and its update reads, the rows of the policy as it
    # was before the step (PPO: at the start of the epoch). Samples share states (the first
    # state of a prompt, common prefixes), so each distinct visited state gets one row per
    # step, computed on first visit: the same numbers as one row per visit, fewer exps. A
    # later PPO/GRPO pass recomputes the rows of those states as one block (policy_rows, a
    # vectorized exp): within a few ulp of policy_row, so an unmoved state's ratio pi / pi_old
    # is 1 to within 1e-15 rather than exactly.
    seen = np.full(P * T * S, -1, np.int64)  # step that last gave state (x, t, prev) a row
    slot_of = np.zeros(P * T * S, np.int64)  # its row in *_rows during that step
    sx = np.zeros(n * T, np.int64)  # state of each row
    st = np.zeros(n * T, np.int64)
    sp = np.zeros(n * T, np.int64)
    lp_old = np.zeros((n * T, A))  # log pi_old(. | s) at sampling time, per distinct state
    pr_old = np.zeros((n * T, A))  # the same as probabilities
    lp_new = np.zeros((n * T, A))  # PPO: pi at the start of a later epoch
    pr_new = np.zeros((n * T, A))
    acts = np.zeros((n, T), np.int64)  # actions taken, EOS included
    vslot = np.zeros((n, T), np.int64)  # row of the state each action was taken in
    nact = np.zeros(n, np.int64)
    tok_ref = np.zeros((n, T))  # log pi_ref of each action taken
    tok_lp = np.zeros(T)  # one sample's log pi (now) and log pi_old of its actions
    tok_old = np.zeros(T)
    coef = np.zeros(T)  # and its update's coefficients (sample_coefs)
    logits = np.zeros(A)
    rewards = np.zeros(n)
    k1s = np.zeros(n)  # each sample's summed log-ratio L(y)
    adv = np.zeros(n)
    xs = np.zeros(n, np.int64)  # each sample's prompt
    lens = np.zeros(n, np.int64)  # and length (its tokens are acts[i, :length])
    perm = np.arange(P)
    scale = lr / n
    clip = algo == ALGO_PPO or algo == ALGO_GRPO  # the clipped ratio, over several epochs
    epochs = ppo_epochs if clip else 1
    per_token_mean = algo == ALGO_GRPO and grpo_std_norm  # GRPO's 1/|o_i|
    for step in range(n_steps):
        beta = state[0]
        for i in range(batch_prompts):  # partial Fisher-Yates: distinct prompts
            j = i + rng.integers(0, P - i)
            perm[i], perm[j] = perm[j], perm[i]
        mean_r, mean_k1 = 0.0, 0.0
        nrows = 0
        for i in range(n):  # rollout with pi_old
            x = perm[i // k]
            prev, length, k1 = 0, 0, 0.0
            for t in range(T):
                key = (x * T + t) * S + prev
                if seen[key] != step:
                    seen[key] = step
                    slot_of[key] = nrows
                    sx[nrows], st[nrows], sp[nrows] = x, t, prev
                    policy_row(theta, u, U, x, t, prev, logits, lp_old[nrows], pr_old[nrows])
                    nrows += 1
                sl = slot_of[key]
                a = draw_from_probs(pr_old[sl], rng.random())
                acts[i, t] = a
                vslot[i, t] = sl
                tok_ref[i, t] = logp_ref[x, t, prev, a]
                k1 += lp_old[sl, a] - tok_ref[i, t]
                if a == 0:
                    break
                length += 1
                prev = a
            nact[i] = length + 1 if length < T else T
            for t in range(nact[i], T):  # a response row is 0 past its length (EOS included)
                acts[i, t] = 0
            xs[i], lens[i] = x, length
            k1s[i] = k1
            mean_k1 += k1
        # The batch's rewards by one call (a call per response would pass a dozen arrays).
        rewards_into(source, xs, acts, lens, n, V, rm, gold, rewards)
        for i in range(n):
            r = rewards[i] * r_mul + r_add[xs[i]]
            rewards[i] = r
            mean_r += r
        mean_r /= n
        mean_k1 /= n
        if whiten and n > 1:  # per batch, over every prompt's responses
            mu = rewards.mean()
            sd = rewards.std()
            for i in range(n):
                rewards[i] = (rewards[i] - mu) / (sd + 1e-8)
        if kl_estimator == KL_K1:  # k1 in the reward
            for i in range(n):
                rewards[i] = rewards[i] - beta * k1s[i]
        history[step, 0] = mean_r
        history[step, 1] = mean_k1
        history[step, 2] = beta
        if algo == ALGO_REINFORCE:
            batch_mean = rewards.mean()
            if math.isnan(state[1]):
                state[1] = batch_mean
            for i in range(n):
                adv[i] = rewards[i] - state[1]
            state[1] = baseline_decay * state[1] + (1.0 - baseline_decay) * batch_mean
        elif algo == ALGO_GRPO:
            group_advantages(rewards, k, grpo_std_norm, adv)
        else:
            for b in range(batch_prompts):
                tot = 0.0
                for q in range(k):
                    tot += rewards[b * k + q]
                for q in range(k):  # leave-one-out baseline
                    adv[b * k + q] = rewards[b * k + q] - (tot - rewards[b * k + q]) / (k - 1)
        if algo == ALGO_PPO and ppo_norm_adv and n > 1:  # whiten advantages (as CleanRL)
            mu = adv.mean()
            sd = adv.std()
            for i in range(n):
                adv[i] = (adv[i] - mu) / (sd + 1e-8)
        for i in range(n):
            if not math.isfinite(adv[i]):
                return False
        if d_ref is not None:  # at the sampling parameters: the first pass reads only *_old rows
            chi2_step(theta, u, U, shared, d_ref, chi2_coef, lr)
        for epoch in range(epochs):
            lp, pr = lp_old, pr_old  # epoch 0: pi_old itself
            if epoch > 0:  # pi at the start of this epoch, for every visited state
                lp, pr = lp_new, pr_new
                policy_rows(theta, u, U, sx, st, sp, nrows, lp, pr)
            for i in range(n):
                m = nact[i]
                for t in range(m):
                    tok_lp[t] = lp[vslot[i, t], acts[i, t]]
                    tok_old[t] = lp_old[vslot[i, t], acts[i, t]]
                w = scale / m if per_token_mean else scale
                sample_coefs(
                    w * adv[i],
                    w * beta,
                    tok_lp,
                    tok_old,
                    tok_ref[i],
                    m,
                    clip,
                    ppo_clip,
                    kl_estimator,
                    coef,
                )
                x = perm[i // k]
                prev = 0
                for t in range(m):
                    a = acts[i, t]
                    if coef[t] != 0.0:  # 0 where PPO clips (and no KL loss)
                        add_score(theta, u, U, shared, x, t, prev, pr[vslot[i, t]], a, coef[t])
                    prev = a
        if kl_target > 0.0:  # adaptive KL controller (Ziegler et al. 2019)
            err = min(max(mean_k1 / kl_target - 1.0, -0.2), 0.2)
            state[0] = beta * (1.0 + err * n / kl_horizon)
    return True
