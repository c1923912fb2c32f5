"""Policy-gradient optimizers: REINFORCE, RLOO, PPO, GRPO and Dr. GRPO against the proxy (or,
for reference runs, the gold), run by the Numba kernel :func:`simrl.kernels.pg.policy_steps`
in chunks with a callback at every checkpoint, which is where evaluation happens. With
``policy.occupancy_chi2 = lambda > 0`` every step also descends lambda chi^2(mu_pi || mu_ref)
(:mod:`simrl.occupancy`).

An optimizer of the proxy receives the proxy's spec and an empty placeholder for the gold
(:func:`simrl.world.no_gold`): it cannot see the gold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from simrl.config import PolicyConfig
from simrl.errors import DivergenceError
from simrl.kernels import pg
from simrl.kernels.reward import SOURCE_GOLD, SOURCE_PROXY, reward_batch
from simrl.occupancy import OccupancyChi2
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold, no_gold

ALGORITHMS = {
    "reinforce": pg.ALGO_REINFORCE,
    "rloo": pg.ALGO_RLOO,
    "ppo": pg.ALGO_PPO,
    "grpo": pg.ALGO_GRPO,
}
KL_ESTIMATORS = {"k1": pg.KL_K1, "k2": pg.KL_K2, "k3": pg.KL_K3}


@dataclass(frozen=True)
class Target:
    """What a policy is optimized against: the proxy, or the gold for reference runs, through
    a per-prompt affine map ``mul * r(x, y) + add[x]`` that the kernel applies (identity by
    default; :func:`normalized` sets it from reference samples)."""

    source: int
    rm: tuple
    gold: tuple
    mul: float
    add: np.ndarray

    @classmethod
    def proxy(cls, rm: ProxyRM) -> Target:
        """Optimize the proxy; the gold slot is an empty placeholder."""
        return cls(SOURCE_PROXY, rm.spec(), no_gold(rm.vocab_size), 1.0, np.zeros(rm.n_prompts))

    @classmethod
    def gold_itself(cls, gold: Gold, rm: ProxyRM) -> Target:
        """Optimize the gold (the best achievable curve, and the NDR denominator)."""
        return cls(SOURCE_GOLD, rm.spec(), gold.spec(), 1.0, np.zeros(rm.n_prompts))

    def affine(self, mul: float, add: np.ndarray) -> Target:
        """This target with its reward mapped to ``mul * reward + add[x]`` (``mul > 0``)."""
        return replace(self, mul=mul * self.mul, add=mul * self.add + add)

    def rewards(self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The optimized reward of each response, as the kernel computes it."""
        r = reward_batch(self.source, prompts, tokens, lengths, self.rm, self.gold)
        return r * self.mul + self.add[prompts]


def normalized(
    target: Target, ref: TabularPolicy, n_per_prompt: int, rng: np.random.Generator
) -> Target:
    """``target`` rescaled to ``(r - m(x)) / s`` on responses of the reference policy.

    ``n_per_prompt`` responses per prompt give the per-prompt mean m(x) and the
    within-prompt SD s pooled over prompts (``P (n - 1)`` degrees of freedom). Stiennon et
    al. (2020) normalize their reward model on reference samples; the mean is taken per
    prompt because Bradley-Terry leaves exactly a per-prompt offset undetermined, and the
    scale is one number so that prompts keep their relative spreads. Without it the proxy's
    scale acts as the step size (and as 1 / kl_coef), and proxies trained with different
    losses are not compared at the same step size.

    Raises:
        DivergenceError: the reward is constant within every prompt (s = 0) or not finite.
    """
    P = ref.shape[0]
    prompts = np.repeat(np.arange(P, dtype=np.int64), n_per_prompt)
    tokens, lengths = ref.sample(prompts, rng)
    r = target.rewards(prompts, tokens, lengths).reshape(P, n_per_prompt)
    m = r.mean(axis=1)
    s = float(np.sqrt(((r - m[:, None]) ** 2).sum() / (P * (n_per_prompt - 1))))
    if not (np.isfinite(s) and s > 0.0):
        raise DivergenceError(
            f"reward normalization failed: the within-prompt SD of the reward on reference "
            f"responses is {s}; use policy.reward_norm = 'none' or 'batch'"
        )
    return target.affine(1.0 / s, -m / s)


@dataclass(frozen=True)
class History:
    """Per-step training statistics: mean optimized reward, mean summed log-ratio
    sum_t (log pi - log pi_ref) of the samples, and the KL coefficient beta."""

    reward: np.ndarray
    logratio: np.ndarray
    kl_coef: np.ndarray


def chi2_reference(ref: TabularPolicy, coef: float) -> np.ndarray | None:
    """The kernel's ``d_ref``: the reference's expected state-action visits when ``coef > 0``,
    else None, which removes the chi^2 step from the compiled kernel (Numba prunes a branch
    on an argument that is None before typing it), so runs without it never compile it."""
    return OccupancyChi2.of(ref).d_ref if coef > 0.0 else None


def optimize_policy_gradient(
    ref: TabularPolicy,
    target: Target,
    cfg: PolicyConfig,
    rng: np.random.Generator,
    on_checkpoint: Callable[[int, TabularPolicy], None],
) -> tuple[TabularPolicy, History]:
    """Optimize a copy of ``ref`` with ``cfg.optimizer`` (reinforce, rloo, ppo or grpo).

    ``target`` is optimized as given: with ``cfg.reward_norm = "ref"`` pass it through
    :func:`normalized` first, as :func:`simrl.experiment.run` does; ``"batch"`` whitens
    the reward per batch inside the kernel. ``cfg.kl_estimator = "auto"`` is k3 for grpo
    and k1 otherwise (:attr:`PolicyConfig.kl_estimator_used`).

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
    d_ref = chi2_reference(ref, cfg.occupancy_chi2)
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
            target.mul,
            target.add,
            cfg.reward_norm == "batch",
            ALGORITHMS[cfg.optimizer],
            KL_ESTIMATORS[cfg.kl_estimator_used],
            cfg.kl_target,
            cfg.kl_horizon,
            cfg.rloo_k,
            cfg.batch_prompts or P,
            cfg.lr,
            cfg.ppo_epochs,
            cfg.ppo_clip,
            cfg.ppo_norm_adv,
            cfg.baseline_decay,
            cfg.grpo_std_norm,
            cfg.occupancy_chi2,
            d_ref,
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
