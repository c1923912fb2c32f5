"""Optimizers of the policy: REINFORCE, RLOO and PPO against the proxy (or, for reference
runs, the gold), run by the Numba kernel :func:`simrl.kernels.pg.policy_steps` in chunks
with a callback at every checkpoint, which is where evaluation happens.

An optimizer of the proxy receives the proxy's spec and an empty placeholder for the gold
(:func:`simrl.world.no_gold`): it cannot see the gold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simrl.config import PolicyConfig
from simrl.errors import DivergenceError
from simrl.kernels import pg
from simrl.kernels.reward import SOURCE_GOLD, SOURCE_PROXY
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold, no_gold

ALGORITHMS = {"reinforce": pg.ALGO_REINFORCE, "rloo": pg.ALGO_RLOO, "ppo": pg.ALGO_PPO}
KL_ESTIMATORS = {"k1": pg.KL_K1, "k2": pg.KL_K2, "k3": pg.KL_K3}


@dataclass(frozen=True)
class Target:
    """What a policy is optimized against: the proxy, or the gold for reference runs."""

    source: int
    rm: tuple
    gold: tuple

    @classmethod
    def proxy(cls, rm: ProxyRM) -> Target:
        """Optimize the proxy; the gold slot is an empty placeholder."""
        return cls(SOURCE_PROXY, rm.spec(), no_gold(rm.vocab_size))

    @classmethod
    def gold_itself(cls, gold: Gold, rm: ProxyRM) -> Target:
        """Optimize the gold (the best achievable curve, and the NDR denominator)."""
        return cls(SOURCE_GOLD, rm.spec(), gold.spec())


@dataclass(frozen=True)
class History:
    """Per-step training statistics: mean optimized reward, mean summed log-ratio
    sum_t (log pi - log pi_ref) of the samples, and the KL coefficient beta."""

    reward: np.ndarray
    logratio: np.ndarray
    kl_coef: np.ndarray


def optimize(
    ref: TabularPolicy,
    target: Target,
    cfg: PolicyConfig,
    rng: np.random.Generator,
    on_checkpoint: Callable[[int, TabularPolicy], None],
) -> tuple[TabularPolicy, History]:
    """Optimize a copy of ``ref`` with ``cfg.optimizer`` (reinforce, rloo or ppo).

    ``on_checkpoint(step, policy)`` is called at step 0, every ``cfg.eval_every`` steps and
    at the last step.

    Raises:
        DivergenceError: a reward, an advantage or a logit became non-finite.
    """
    P, _, V = ref.shape
    theta = np.array(ref.logits, dtype=np.float64, copy=True)
    u = np.zeros(V + 1)
    U = np.zeros((P, V + 1))
    logp_ref = ref.logp()
    hist = np.zeros((cfg.steps, 3))
    state = np.array([cfg.kl_coef, np.nan])  # [beta, REINFORCE baseline]

    def current() -> TabularPolicy:
        return TabularPolicy(theta + u + U[:, None, None, :])

    on_checkpoint(0, current())
    done = 0
    while done < cfg.steps:
        n = min(cfg.eval_every, cfg.steps - done)
        ok = pg.policy_steps(
            theta,
            u,
            U,
            cfg.shared_logits,
            logp_ref,
            target.source,
            target.rm,
            target.gold,
            ALGORITHMS[cfg.optimizer],
            KL_ESTIMATORS[cfg.kl_estimator],
            cfg.kl_target,
            cfg.kl_horizon,
            cfg.rloo_k,
            cfg.batch_prompts or P,
            cfg.lr,
            cfg.ppo_epochs,
            cfg.ppo_clip,
            cfg.ppo_norm_adv,
            cfg.baseline_decay,
            n,
            rng,
            hist[done : done + n],
            state,
        )
        if not ok or not (np.isfinite(theta).all() and np.isfinite(U).all()):
            raise DivergenceError(
                f"policy optimization diverged between steps {done} and {done + n} "
                f"(non-finite reward, advantage or logits); lower policy.lr = {cfg.lr}"
            )
        done += n
        on_checkpoint(done, current())
    return current(), History(hist[:, 0], hist[:, 1], hist[:, 2])
