"""Numba kernels of the vectorized token environment: one call steps every sub-environment.

State of sub-environment n: prompt ``prompt[n]``, tokens written ``pos[n]``, previous token
``prev[n]`` (0 = BOS at position 0), the padded prefix ``tokens[n, :]`` and ``done[n]``
(its episode ended on the previous step, so this step resets it: Gymnasium's next-step
autoreset). Outputs are written into caller-provided arrays, so a step allocates nothing
inside the kernel; randomness comes only from the ``numpy.random.Generator`` argument.

Scoring reuses the core kernels :func:`simrl.kernels.reward.gold_score` and
:func:`simrl.kernels.reward.proxy_one` (a single proxy or an ensemble).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simrl.kernels.reward import gold_score, proxy_one

# Reward modes (kept in sync with simrl.envs.model.REWARD_MODES).
REWARD_PROXY = 0
REWARD_GOLD = 1
REWARD_PROXY_KL = 2


@njit(cache=True)
def first_invalid(actions: np.ndarray, n_actions: int) -> int:
    """Index of the first action outside ``[0, n_actions)``, or -1 if all are valid."""
    for n in range(actions.shape[0]):
        a = actions[n]
        if a < 0 or a >= n_actions:
            return n
    return -1


@njit(cache=True)
def uniform_prompt(rng: np.random.Generator, n_prompts: int) -> int:
    """A prompt drawn uniformly from ``0..n_prompts-1``: floor(u P) with u = ``rng.random()``.

    Its bias is below P 2^-53; Numba's ``rng.integers`` is several times slower per draw.
    """
    return min(int(rng.random() * n_prompts), n_prompts - 1)


@njit(cache=True)
def draw_prompts(rng: np.random.Generator, n_prompts: int, out: np.ndarray) -> None:
    """Fill ``out`` with uniform prompts (see :func:`uniform_prompt`)."""
    for n in range(out.shape[0]):
        out[n] = uniform_prompt(rng, n_prompts)


@njit(cache=True)
def step_envs(
    actions: np.ndarray,
    prompt: np.ndarray,
    pos: np.ndarray,
    prev: np.ndarray,
    tokens: np.ndarray,
    done: np.ndarray,
    logp_ref: np.ndarray,
    rm: tuple,
    gold_spec: tuple,
    mode: int,
    kl_coef: float,
    rng: np.random.Generator,
    scratch_counts: np.ndarray,
    scratch_idx: np.ndarray,
    scratch_val: np.ndarray,
    scratch_h: np.ndarray,
    scratch_rs: np.ndarray,
    obs_prompt: np.ndarray,
    obs_pos: np.ndarray,
    obs_prev: np.ndarray,
    obs_tokens: np.ndarray,
    reward: np.ndarray,
    terminated: np.ndarray,
    ref_logprob: np.ndarray,
    stepped: np.ndarray,
    gold: np.ndarray,
    proxy: np.ndarray,
    length: np.ndarray,
) -> int:
    """Advance every sub-environment by one token, in place.

    If an action is outside ``[0, V]`` nothing changes and its index is returned (see
    :func:`first_invalid`); otherwise -1. For sub-environment n:

    * if ``done[n]`` (its episode ended last step): draw a new prompt uniformly from
      ``rng``, clear the prefix, ignore the action; reward 0, not terminated, and
      ``stepped[n]`` False (no action was taken, so no ``ref_logprob``);
    * else take action a at state s = (x, t, prev): ``ref_logprob[n] = log pi_ref(a | s)``;
      a = 0 (EOS) ends the response with t tokens, a > 0 appends a and ends it if the
      prefix reaches the cap T. At the end, ``gold[n]`` = r*(x, y), ``proxy[n]`` =
      r_phi(x, y), ``length[n]`` = |y|, ``terminated[n]`` True, and the reward adds the
      proxy (modes proxy, proxy_kl) or the gold (mode gold). Mode proxy_kl also gives
      ``kl_coef * log pi_ref(a | s)`` on every action.

    Outputs that do not apply to a sub-environment this step are 0 / False, as in the info
    dictionaries Gymnasium's vector environments assemble (each key with a ``_key`` mask).

    Args:
        actions: ``(N,)`` integer actions.
        prompt, pos, prev, tokens, done: State, updated in place.
        logp_ref: log pi_ref table, shape (P, T, V + 1, V + 1).
        rm: The proxy as :meth:`simrl.reward_model.ProxyRM.spec`.
        gold_spec: The gold as :meth:`simrl.world.Gold.spec`.
        mode: ``REWARD_PROXY``, ``REWARD_GOLD`` or ``REWARD_PROXY_KL``.
        kl_coef: beta of the per-token reference term in mode proxy_kl.
        rng: Source of the prompts drawn on autoreset.
        scratch_counts, scratch_idx, scratch_val, scratch_h, scratch_rs: Scratch of sizes
            V + 1, ``max_nnz(V, T)`` (int32), ``max_nnz(V, T)``, H and the ensemble size.
        obs_prompt, obs_pos, obs_prev, obs_tokens: Observation outputs, ``(N,)`` and
            ``(N, T)``.
        reward, terminated, ref_logprob, stepped, gold, proxy, length: ``(N,)`` outputs.
    """
    N = actions.shape[0]
    P, T, _S, A = logp_ref.shape
    bad = first_invalid(actions, A)
    if bad >= 0:
        return bad
    for n in range(N):
        r = 0.0
        ended = False
        lp = 0.0
        g, pr, L = 0.0, 0.0, 0
        if done[n]:  # next-step autoreset: this step only starts a new episode
            prompt[n] = uniform_prompt(rng, P)
            pos[n] = 0
            prev[n] = 0
            for t in range(T):
                tokens[n, t] = 0
            done[n] = False
            stepped[n] = False
        else:
            x, t, a = prompt[n], pos[n], actions[n]
            lp = logp_ref[x, t, prev[n], a]
            stepped[n] = True
            if mode == REWARD_PROXY_KL:
                r = kl_coef * lp  # -beta * (-log pi_ref(a|s)); the agent adds -beta log pi
            if a == 0:  # EOS: the response is the prefix written so far
                ended = True
            else:
                tokens[n, t] = a
                pos[n] = t + 1
                prev[n] = a
                ended = t + 1 == T  # the length cap ends the response too
            if ended:
                L = pos[n]
                row = tokens[n]
                g = gold_score(x, row, L, gold_spec, scratch_counts)
                pr = proxy_one(
                    x,
                    row,
                    L,
                    rm,
                    scratch_counts,
                    scratch_idx,
                    scratch_val,
                    scratch_h,
                    scratch_rs,
                )
                r += g if mode == REWARD_GOLD else pr
                done[n] = True
        reward[n] = r
        terminated[n] = ended
        ref_logprob[n] = lp
        gold[n] = g
        proxy[n] = pr
        length[n] = L
        obs_prompt[n] = prompt[n]
        obs_pos[n] = pos[n]
        obs_prev[n] = prev[n]
        for t in range(T):
            obs_tokens[n, t] = tokens[n, t]
    return -1
