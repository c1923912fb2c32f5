"""The proxy reward model: features -> tanh hidden layer -> scalar, fitted by Numba kernels.

r_phi(x, y) = w . h + b with h = tanh(W f(x, y) + c) (DESIGN.md section 1). The hidden state
is kept explicit because the dispersion of ||h|| is what the BSR paper (Hong et al. 2025)
links to over-optimization.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simrl.config import RMConfig, WorldConfig
from simrl.data import PreferencePairs
from simrl.errors import DivergenceError
from simrl.kernels import features as kf
from simrl.kernels import rm as krm

LOSSES = {"bt": krm.LOSS_BT}


@dataclass(frozen=True)
class FitResult:
    """Per-epoch training history: ``loss``, ``reward_mean`` and ``reward_std``."""

    loss: np.ndarray
    reward_mean: np.ndarray
    reward_std: np.ndarray


@dataclass
class ProxyRM:
    """A proxy reward model over the sparse features of :mod:`simrl.kernels.features`.

    Attributes:
        n_prompts, vocab_size, max_len: World dimensions the features are built for.
        hidden: Width H of the hidden layer.
        prompt_features: Whether prompt-specific token counts are features.
        bigram_features: Whether bigram counts are features.
        params: Flat parameters ``[W (F x H), c (H), w (H), b]``.
    """

    n_prompts: int
    vocab_size: int
    max_len: int
    hidden: int
    prompt_features: bool
    bigram_features: bool
    params: np.ndarray = field(repr=False)

    @classmethod
    def init(cls, world: WorldConfig, cfg: RMConfig, rng: np.random.Generator) -> ProxyRM:
        """Gaussian initial weights with standard deviation ``cfg.init_scale``; zero biases."""
        F = kf.n_features(
            world.n_prompts, world.vocab_size, cfg.prompt_features, cfg.bigram_features
        )
        H = cfg.hidden
        params = np.zeros(F * H + 2 * H + 1)
        params[: F * H] = cfg.init_scale * rng.standard_normal(F * H)
        params[F * H + H : F * H + 2 * H] = cfg.init_scale * rng.standard_normal(H)
        return cls(
            world.n_prompts,
            world.vocab_size,
            world.max_len,
            H,
            cfg.prompt_features,
            cfg.bigram_features,
            params,
        )

    @property
    def n_features(self) -> int:
        """Number of input features F."""
        return kf.n_features(
            self.n_prompts, self.vocab_size, self.prompt_features, self.bigram_features
        )

    @property
    def bigram_start(self) -> int:
        """Start of the bigram block in the features, or -1 without bigram features."""
        if not self.bigram_features:
            return -1
        return kf.bigram_start(self.n_prompts, self.vocab_size, self.prompt_features)

    @property
    def feature_scale(self) -> float:
        """Counts and lengths enter as value / sqrt(T), so features stay O(1) for any T."""
        return 1.0 / math.sqrt(self.max_len)

    def features(
        self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Padded sparse features ``(idx[N, K], val[N, K])``."""
        return kf.features_batch(
            np.asarray(prompts, np.int64),
            tokens,
            lengths,
            self.vocab_size,
            self.n_features,
            self.prompt_features,
            self.bigram_start,
            self.feature_scale,
            kf.max_nnz(self.vocab_size, self.max_len),
        )

    def score_with_hidden(
        self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rewards ``r[N]`` and hidden states ``h[N, H]``."""
        idx, val = self.features(prompts, tokens, lengths)
        return krm.scores(idx, val, self.params, self.n_features, self.hidden)

    def score(self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Proxy reward r_phi(x, y) of each response."""
        return self.score_with_hidden(prompts, tokens, lengths)[0]

    def pair_scores(self, pairs: PreferencePairs) -> tuple[np.ndarray, np.ndarray]:
        """Proxy rewards of the chosen and the rejected response of each pair."""
        return (
            self.score(pairs.prompts, pairs.chosen, pairs.chosen_len),
            self.score(pairs.prompts, pairs.rejected, pairs.rejected_len),
        )

    def accuracy(self, pairs: PreferencePairs) -> float:
        """Fraction of pairs where the proxy scores the chosen response higher (ties: 1/2)."""
        rw, rl = self.pair_scores(pairs)
        return float(np.mean((rw > rl) + 0.5 * (rw == rl)))

    def fit(self, pairs: PreferencePairs, cfg: RMConfig, rng: np.random.Generator) -> FitResult:
        """Fit in place by mini-batch Adam/SGD on the configured loss.

        Raises:
            DivergenceError: the loss or a parameter became non-finite.
        """
        iw, vw = self.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
        il, vl = self.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
        hist, ok = krm.fit(
            iw,
            vw,
            il,
            vl,
            self.params,
            self.n_features,
            self.hidden,
            LOSSES[cfg.loss],
            cfg.center_rewards_coefficient,
            cfg.bsr_lambda,
            cfg.optimizer == "adam",
            cfg.lr,
            cfg.batch_size,
            cfg.epochs,
            rng,
        )
        if not ok:
            raise DivergenceError(
                f"reward-model fit diverged (non-finite loss or weights) with rm.lr = {cfg.lr}"
                f"; lower rm.lr or the regularization coefficients"
            )
        return FitResult(
            loss=hist[:, 0].copy(), reward_mean=hist[:, 1].copy(), reward_std=hist[:, 2].copy()
        )
