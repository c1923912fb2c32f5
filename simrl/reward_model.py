"""The proxy reward model: features -> tanh hidden layer -> scalar, fitted by Numba kernels.

r_phi(x, y) = w . h + b with h = tanh(W f(x, y) + c) (DESIGN.md section 1). The hidden state
is kept explicit because the dispersion of ||h|| is what the BSR paper (Hong et al. 2025)
links to over-optimization. An ensemble (Coste et al. 2024) is k such models, trained from
different initializations (and optionally bootstrap resamples), combined by mean, worst case
or uncertainty-weighted mean. WARM (Ramé et al. 2024) instead fine-tunes its members from one
shared initialization and averages their weights into a single network.
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

LOSSES = {
    "bt": krm.LOSS_BT,
    "margin": krm.LOSS_MARGIN,
    "hinge": krm.LOSS_HINGE,
    "logitnorm": krm.LOSS_LOGITNORM,
    "dr": krm.LOSS_DR,
}
ENSEMBLE_MODES = {
    "mean": krm.ENSEMBLE_MEAN,
    "min": krm.ENSEMBLE_MIN,
    "uwo": krm.ENSEMBLE_UWO,
    "warm": krm.ENSEMBLE_MEAN,  # one network once fitted; its equal members before
}


@dataclass(frozen=True)
class FitResult:
    """Per-epoch training history (one row per member): ``loss``, ``reward_mean`` and
    ``reward_std`` (of every reward the model produced during the epoch)."""

    loss: np.ndarray
    reward_mean: np.ndarray
    reward_std: np.ndarray


@dataclass
class ProxyRM:
    """A proxy reward model (or an ensemble) over the sparse features of
    :mod:`simrl.kernels.features`.

    Attributes:
        n_prompts, vocab_size, max_len: World dimensions the features are built for.
        hidden: Width H of the hidden layer.
        prompt_features: Whether prompt-specific token counts are features.
        bigram_features: Whether bigram counts are features.
        params: Parameters, one row per member: ``[W (F x H), c (H), w (H), b]``.
        ensemble_mode: How members combine: ``"mean"``, ``"min"``, ``"uwo"`` or ``"warm"``
            (their weights averaged by :meth:`fit`).
        ensemble_lambda: Variance weight of ``"uwo"``.
        members: WARM only: the fine-tuned members' parameters before averaging.
    """

    n_prompts: int
    vocab_size: int
    max_len: int
    hidden: int
    prompt_features: bool
    bigram_features: bool
    params: np.ndarray = field(repr=False)
    ensemble_mode: str = "mean"
    ensemble_lambda: float = 0.0
    members: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def init(cls, world: WorldConfig, cfg: RMConfig, rng: np.random.Generator) -> ProxyRM:
        """Gaussian initial weights with standard deviation ``cfg.init_scale``; zero biases;
        ``cfg.ensemble_size`` independent members, or for WARM copies of one draw."""
        F = kf.n_features(
            world.n_prompts, world.vocab_size, cfg.prompt_features, cfg.bigram_features
        )
        H = cfg.hidden
        params = np.zeros((cfg.ensemble_size, F * H + 2 * H + 1))
        for m in range(1 if cfg.ensemble_mode == "warm" else cfg.ensemble_size):
            params[m, : F * H] = cfg.init_scale * rng.standard_normal(F * H)
            params[m, F * H + H : F * H + 2 * H] = cfg.init_scale * rng.standard_normal(H)
        if cfg.ensemble_mode == "warm":  # one shared initialization (Ramé et al. 2024)
            params[1:] = params[0]
        return cls(
            world.n_prompts,
            world.vocab_size,
            world.max_len,
            H,
            cfg.prompt_features,
            cfg.bigram_features,
            params,
            cfg.ensemble_mode,
            cfg.ensemble_lambda,
        )

    @property
    def n_members(self) -> int:
        """Ensemble size k (1 for a single model)."""
        return int(self.params.shape[0])

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

    def spec(self) -> tuple:
        """The model as the tuple the kernels take (:mod:`simrl.kernels.reward`)."""
        return (
            self.params,
            self.n_features,
            self.hidden,
            self.prompt_features,
            self.bigram_start,
            self.feature_scale,
            ENSEMBLE_MODES[self.ensemble_mode],
            float(self.ensemble_lambda),
        )

    def member(self, m: int) -> ProxyRM:
        """Member ``m`` of the ensemble as a single model (sharing its parameters)."""
        return ProxyRM(
            self.n_prompts,
            self.vocab_size,
            self.max_len,
            self.hidden,
            self.prompt_features,
            self.bigram_features,
            self.params[m : m + 1],
        )

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

    def member_scores(
        self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rewards ``r[k, N]`` and hidden states ``h[k, N, H]`` of every member."""
        idx, val = self.features(prompts, tokens, lengths)
        out = [krm.scores(idx, val, p, self.n_features, self.hidden) for p in self.params]
        return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])

    def score(self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Proxy reward r_phi(x, y) of each response (members combined)."""
        r = self.member_scores(prompts, tokens, lengths)[0]
        if self.ensemble_mode == "min":
            return r.min(axis=0)
        mean = r.mean(axis=0)
        if self.ensemble_mode == "uwo":
            return mean - self.ensemble_lambda * ((r - mean) ** 2).mean(axis=0)
        return mean

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
        """Fit every member in place by mini-batch Adam/SGD on the configured loss.

        Members see the same pairs in their own order, or with ``cfg.ensemble_bootstrap``
        their own bootstrap resample (Efron 1979) of the pairs. WARM then replaces them by
        the single network with their mean weights, theta = (1/M) sum_m theta_m (Ramé et al.
        2024), keeping them in ``members``.

        Raises:
            DivergenceError: the loss or a parameter became non-finite.
        """
        iw, vw = self.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
        il, vl = self.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
        rows = []
        for m in range(self.n_members):
            sel = rng.integers(0, len(pairs), len(pairs)) if cfg.ensemble_bootstrap else slice(None)
            hist, ok = krm.fit(
                iw[sel],
                vw[sel],
                il[sel],
                vl[sel],
                self.params[m],
                self.n_features,
                self.hidden,
                LOSSES[cfg.loss],
                cfg.margin,
                cfg.label_smoothing,
                cfg.center_rewards_coefficient,
                cfg.bsr_lambda,
                cfg.weight_decay,
                cfg.optimizer == "adam",
                cfg.lr,
                cfg.batch_size,
                cfg.epochs,
                rng,
            )
            if not ok:
                raise DivergenceError(
                    f"reward-model fit diverged (non-finite loss or weights) with rm.lr = "
                    f"{cfg.lr}; lower rm.lr or the regularization coefficients"
                )
            rows.append(hist)
        if self.ensemble_mode == "warm":
            self.members = self.params
            self.params = self.params.mean(axis=0, keepdims=True)
        h = np.stack(rows)
        self._check_fit(h[:, :, 0], pairs, cfg)
        return FitResult(loss=h[:, :, 0], reward_mean=h[:, :, 1], reward_std=h[:, :, 2])

    def _check_fit(self, loss: np.ndarray, pairs: PreferencePairs, cfg: RMConfig) -> None:
        """Refuse a finite fit that still failed: the last epoch's loss far above the
        first's (every loss is >= 0), or worse than chance on its own training pairs (by
        more than 3 binomial standard errors, 1.5 / sqrt(n))."""
        first, last = loss[:, 0], loss[:, -1]
        knobs = f"rm.lr = {cfg.lr}, rm.weight_decay = {cfg.weight_decay}"
        if np.any(last > 10.0 * first + 1.0):
            m = int(np.argmax(last - 10.0 * first))
            raise DivergenceError(
                f"reward-model fit diverged: loss rose from {first[m]:.3g} to {last[m]:.3g} "
                f"({knobs}); lower rm.lr or the regularization coefficients"
            )
        acc = self.accuracy(pairs)
        if acc < 0.5 - 1.5 / math.sqrt(len(pairs)):
            raise DivergenceError(
                f"reward-model fit failed: train accuracy {acc:.3f} is worse than chance "
                f"({knobs}); lower rm.lr or the regularization coefficients"
            )
