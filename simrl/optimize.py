"""The one place that dispatches on ``policy.optimizer``. Each family of optimizers has a
module of its own, with its kernels beside the others in :mod:`simrl.kernels`:

* policy gradient (reinforce, rloo, ppo, grpo): :mod:`simrl.policy_gradient`, kernel
  :mod:`simrl.kernels.pg`; optionally with the occupancy chi^2 of :mod:`simrl.occupancy`;
* direct alignment (dpo, ipo, slic, chipo): :mod:`simrl.direct`, kernel
  :mod:`simrl.kernels.direct`;
* best-of-n (bon): :mod:`simrl.best_of_n`, which selects among reference samples instead
  of updating a policy, so it gives a curve, not a trajectory of policies
  (:func:`simrl.experiment.optimize_curve` calls it).

``Target``, ``normalized`` and ``History`` are re-exported from
:mod:`simrl.policy_gradient` for existing callers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simrl.config import PolicyConfig
from simrl.data import PreferencePairs
from simrl.direct import DirectHistory, optimize_direct
from simrl.policy import TabularPolicy
from simrl.policy_gradient import (
    ALGORITHMS,
    KL_ESTIMATORS,
    History,
    Target,
    normalized,
    optimize_policy_gradient,
)

__all__ = [
    "ALGORITHMS",
    "KL_ESTIMATORS",
    "DirectHistory",
    "History",
    "Target",
    "normalized",
    "optimize",
]


def optimize(
    ref: TabularPolicy,
    target: Target,
    cfg: PolicyConfig,
    rng: np.random.Generator,
    on_checkpoint: Callable[[int, TabularPolicy], None],
    pairs: PreferencePairs | None = None,
) -> tuple[TabularPolicy, History | DirectHistory]:
    """Optimize a copy of ``ref`` with ``cfg.optimizer``; ``on_checkpoint(step, policy)`` at
    step 0, at every checkpoint and at the last step.

    Args:
        ref: The reference policy (the start, and what KL and the direct losses compare to).
        target: Policy gradient: the reward optimized (normalize it first with
            :func:`normalized` for ``reward_norm = "ref"``). Direct alignment, online
            (``cfg.dpo_online``): the labeller, whose reward difference is the Bradley-Terry
            logit of a fresh pair (the raw proxy, :meth:`Target.proxy`); offline: unused.
        cfg: The policy section of the config.
        rng: The optimizer's generator.
        on_checkpoint: Called with the step and the current policy.
        pairs: Direct alignment: the preference pairs to fit (offline) or whose prompts
            to draw (online).

    Raises:
        ValueError: a direct loss without ``pairs``, or best-of-n (not an optimizer of a
            policy: :func:`simrl.best_of_n.bon_curve`).
        DivergenceError: the optimization produced a non-finite number.
    """
    family = cfg.family
    if family == "policy_gradient":
        return optimize_policy_gradient(ref, target, cfg, rng, on_checkpoint)
    if family == "direct":
        if pairs is None:
            raise ValueError(f"policy.optimizer = {cfg.optimizer!r} needs preference pairs")
        return optimize_direct(ref, pairs, cfg, rng, on_checkpoint, target.rewards)
    raise ValueError(
        f"policy.optimizer = {cfg.optimizer!r} selects among reference samples and updates "
        "no policy: use simrl.best_of_n.bon_curve"
    )
