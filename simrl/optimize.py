"""Optimizers of the policy against the proxy. They never see the gold.

``rloo`` runs the Numba RLOO kernel (:mod:`simrl.kernels.pg`) in chunks and hands each
checkpoint policy to a callback, which is where evaluation happens.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simrl.config import PolicyConfig
from simrl.errors import DivergenceError
from simrl.kernels.pg import rloo_steps
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM


def rloo(
    ref: TabularPolicy,
    rm: ProxyRM,
    cfg: PolicyConfig,
    rng: np.random.Generator,
    on_checkpoint: Callable[[int, TabularPolicy], None],
) -> tuple[TabularPolicy, np.ndarray]:
    """Optimize a copy of ``ref`` by RLOO against ``rm`` with the per-token KL penalty.

    ``on_checkpoint(step, policy)`` is called at step 0 and every ``cfg.eval_every`` steps
    (and at the last step).

    Returns:
        The final policy and the per-step history ``(steps, 2)``: mean proxy reward and mean
        summed log-ratio sum_t (log pi - log pi_ref) of the training samples.

    Raises:
        DivergenceError: a reward or a logit became non-finite.
    """
    theta = np.array(ref.logits, dtype=np.float64, copy=True)
    P, _T, V = ref.shape
    u = np.zeros(V + 1)
    U = np.zeros((P, V + 1))

    def current() -> TabularPolicy:
        return TabularPolicy(theta + u + U[:, None, None, :])

    logp_ref = ref.logp()
    history = np.zeros((cfg.steps, 2))
    on_checkpoint(0, current())
    done = 0
    while done < cfg.steps:
        n = min(cfg.eval_every, cfg.steps - done)
        ok = rloo_steps(
            theta,
            u,
            U,
            cfg.shared_logits,
            logp_ref,
            rm.params,
            rm.n_features,
            rm.hidden,
            rm.prompt_features,
            rm.bigram_start,
            rm.feature_scale,
            cfg.kl_coef,
            cfg.rloo_k,
            cfg.batch_prompts or P,
            cfg.lr,
            n,
            rng,
            history[done : done + n],
        )
        if not ok or not (np.isfinite(theta).all() and np.isfinite(U).all()):
            raise DivergenceError(
                f"policy optimization diverged between steps {done} and {done + n} "
                f"(non-finite reward or logits); lower policy.lr = {cfg.lr}"
            )
        done += n
        on_checkpoint(done, current())
    return current(), history
