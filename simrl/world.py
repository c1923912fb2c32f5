"""The token world and its hidden gold reward.

The gold is the ground truth of the simulation: what responses are *really* worth. Only
data labelling (:mod:`simrl.data`) and evaluation (:mod:`simrl.evaluate`) touch it; the
proxy reward model and the optimizers never receive a :class:`Gold`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simrl.config import GoldConfig, WorldConfig
from simrl.kernels.gold import gold_rewards
from simrl.kernels.moments import gold_expectation, gold_moments

if TYPE_CHECKING:
    from simrl.policy import TabularPolicy


def coherence_table(world: WorldConfig) -> np.ndarray:
    """Unit-scale word-order values B[prev, v] ~ N(0, 1), shape (V + 1, V + 1), from the
    world seed. The gold scores bigrams by them; the reference policy partly follows them
    (``world.ref_coherence``), as a fine-tuned model writes more coherently than chance."""
    V = world.vocab_size
    table = np.zeros((V + 1, V + 1))
    table[:, 1:] = np.random.default_rng([world.seed, 2]).standard_normal((V + 1, V))
    return table


def no_gold(vocab_size: int) -> tuple:
    """An empty stand-in with the type of :meth:`Gold.spec`, for kernels that optimize the
    proxy: they have a gold slot but must not be able to read the gold."""
    arrays = (
        np.zeros((0, vocab_size + 1)),
        np.zeros((0, vocab_size + 1)),
        np.zeros(vocab_size + 1),
    )
    for a in arrays:  # read-only like the real gold's, so kernels compile once
        a.setflags(write=False)
    return (*arrays, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class Gold:
    """Hidden gold reward r*(x, y) and the gold preference model.

    Attributes:
        values: Token values w[x, v], shape (P, V + 1); column 0 (EOS) is unused.
        bigram: Coherence values B[prev, v], shape (V + 1, V + 1), already scaled by
            ``cfg.coherence_scale``; row 0 is BOS, column 0 unused.
        saturation: Per-token count kappa_v at which a valued token peaks, shape (V + 1,).
        cfg: The gold section of the config (shape parameters and labelling).
    """

    values: np.ndarray
    bigram: np.ndarray
    saturation: np.ndarray
    cfg: GoldConfig

    @classmethod
    def from_config(cls, world: WorldConfig, cfg: GoldConfig) -> Gold:
        """Draw token values from the world seed.

        w[x, v] = a g_v + b s_(x, v) with g, s ~ N(0, 1); the polite tokens 1..k get
        ``polite_value`` more and saturate at ``polite_saturation`` instead of
        ``saturation``.
        """
        rng = np.random.default_rng([world.seed, 1])
        P, V = world.n_prompts, world.vocab_size
        values = np.zeros((P, V + 1))
        shared = rng.standard_normal(V)
        values[:, 1:] = cfg.global_scale * shared + cfg.prompt_scale * rng.standard_normal((P, V))
        k = cfg.polite_tokens
        values[:, 1 : k + 1] += cfg.polite_value
        saturation = np.full(V + 1, cfg.saturation)
        saturation[1 : k + 1] = cfg.polite_saturation
        bigram = cfg.coherence_scale * coherence_table(world)
        for a in (values, bigram, saturation):
            a.setflags(write=False)
        return cls(values=values, bigram=bigram, saturation=saturation, cfg=cfg)

    def rewards(self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """r*(x, y) for each response (see :func:`simrl.kernels.gold.gold_one`)."""
        return gold_rewards(prompts, tokens, lengths, *self.spec())

    def expected(self, policy: TabularPolicy) -> np.ndarray:
        """Exact E_pi[r*(x, y)] per prompt, shape (P,), by forward recursion over the policy's
        state occupancy (:func:`simrl.kernels.moments.gold_expectation`)."""
        return gold_expectation(policy.logp(), self.spec())

    def moments(self, policy: TabularPolicy) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(E_pi[r* | x], E_pi[r*^2 | x])`` per prompt, each of shape (P,)
        (:func:`simrl.kernels.moments.gold_moments`; costs V + 1 times :meth:`expected`)."""
        m = gold_moments(policy.logp(), self.spec())
        return m[:, 0].copy(), m[:, 1].copy()

    def spec(self) -> tuple:
        """The gold as the tuple the kernels take (:mod:`simrl.kernels.reward`)."""
        c = self.cfg
        return (
            self.values,
            self.bigram,
            self.saturation,
            c.length_weight,
            c.length_opt,
            c.repeat_penalty,
        )

    def preference_prob(self, r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
        """Probability that the (noisy) label says y1 > y2.

        ``P*(y1 > y2) = sigma((r1 - r2) / tau)``, or the step function for hard labels, then
        flipped with probability epsilon: ``q = (1 - eps) P* + eps (1 - P*)``.
        """
        c = self.cfg
        d = np.asarray(r1, float) - np.asarray(r2, float)
        if c.hard_labels:
            p = np.where(d > 0, 1.0, np.where(d < 0, 0.0, 0.5))
        else:
            p = 0.5 * (1.0 + np.tanh(0.5 * d / c.tau))  # sigma(d / tau), overflow-free
        return (1.0 - c.label_noise) * p + c.label_noise * (1.0 - p)

    def label(self, r1: np.ndarray, r2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw labels: True where y1 is preferred."""
        return rng.random(np.shape(r1)) < self.preference_prob(r1, r2)

    def bayes_accuracy(self, r1: np.ndarray, r2: np.ndarray) -> float:
        """Best label accuracy any scorer can reach on these pairs: mean max(q, 1 - q)."""
        q = self.preference_prob(r1, r2)
        return float(np.mean(np.maximum(q, 1.0 - q)))
