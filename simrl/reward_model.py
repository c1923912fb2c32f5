"""The proxy reward model: features -> hidden layer(s) -> scalar, fitted by Numba kernels.

r_phi(x, y) = w . h + b with h = tanh(W f(x, y) + c) (DESIGN.md section 1) by default; other
activations, a second layer, an RMSNorm before the head (:mod:`simrl.kernels.mlp`) and
learned embedding features are options (docs/model.md). The hidden state is kept explicit
because the dispersion of ||h|| is what the BSR paper (Hong et al. 2025) links to
over-optimization. An ensemble (Coste et al. 2024) is k such models, trained from different
initializations (and optionally bootstrap resamples), combined by mean, worst case or
uncertainty-weighted mean. WARM (Ramé et al. 2024) instead fine-tunes its members from one
shared initialization and averages their weights into a single network.

The kernel codes of the string options are in :mod:`simrl.proxy_codes`, the fitting in
:mod:`simrl.proxy_fit`; their public names are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simrl.config import RMConfig, WorldConfig
from simrl.data import PreferencePairs
from simrl.kernels import features as kf
from simrl.kernels import mlp as kmlp
from simrl.kernels import rm as krm
from simrl.proxy_codes import ACTIVATIONS, ENSEMBLE_MODES, FEATURE_KINDS, HEAD_NORMS, LOSSES
from simrl.proxy_fit import PROBE_PAIRS, FitResult, check_fit, fit_proxy, pretrain_proxy

__all__ = [
    "ACTIVATIONS",
    "ENSEMBLE_MODES",
    "FEATURE_KINDS",
    "HEAD_NORMS",
    "LOSSES",
    "PROBE_PAIRS",
    "FitResult",
    "ProxyRM",
]


@dataclass
class ProxyRM:
    """A proxy reward model (or an ensemble) over the sparse features of
    :mod:`simrl.kernels.features`.

    Attributes:
        n_prompts, vocab_size, max_len: World dimensions the features are built for.
        hidden: Width H of the hidden layer(s).
        prompt_features: Whether prompt-specific token counts are features (sufficient).
        bigram_features: Whether bigram counts are features (sufficient).
        params: Parameters, one row per member: ``[W (F x H), c (H), w (H), b]`` for the
            default architecture, :func:`simrl.kernels.mlp.layout` for the others.
        ensemble_mode: How members combine: ``"mean"``, ``"min"``, ``"uwo"`` or ``"warm"``
            (their weights averaged by :meth:`fit`).
        ensemble_lambda: Variance weight of ``"uwo"``.
        members: WARM only: the fine-tuned members' parameters before averaging.
        activation, depth, head_norm, feature_kind: The architecture (``rm.activation``,
            ``rm.depth``, ``rm.head_norm``, ``rm.features``).
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
    activation: str = "tanh"
    depth: int = 1
    head_norm: str = "none"
    feature_kind: str = "sufficient"

    @classmethod
    def init(cls, world: WorldConfig, cfg: RMConfig, rng: np.random.Generator) -> ProxyRM:
        """Gaussian initial weights with standard deviation ``cfg.init_scale``; zero biases;
        unit norm gains; ``cfg.ensemble_size`` independent members, or for WARM copies of
        one draw. The default architecture draws exactly as it always has."""
        rm = cls(
            world.n_prompts,
            world.vocab_size,
            world.max_len,
            cfg.hidden,
            cfg.prompt_features,
            cfg.bigram_features,
            np.zeros((0, 0)),
            cfg.ensemble_mode,
            cfg.ensemble_lambda,
            None,
            cfg.activation,
            cfg.depth,
            cfg.head_norm,
            cfg.features,
        )
        F, H = rm.n_features, cfg.hidden
        _, o_W2, o_c2, o_g, o_w, o_b, n = rm.layout()
        params = np.zeros((cfg.ensemble_size, n))
        params[:, o_g:o_w] = 1.0  # RMSNorm gains (an empty block without the norm)
        for m in range(1 if cfg.ensemble_mode == "warm" else cfg.ensemble_size):
            params[m, : F * H] = cfg.init_scale * rng.standard_normal(F * H)
            params[m, o_w:o_b] = cfg.init_scale * rng.standard_normal(H)
            if o_c2 > o_W2:
                params[m, o_W2:o_c2] = cfg.init_scale * rng.standard_normal(H * H)
        if cfg.ensemble_mode == "warm":  # one shared initialization (Ramé et al. 2024)
            params[1:] = params[0]
        rm.params = params
        return rm

    @property
    def is_default(self) -> bool:
        """The default architecture (sufficient features, tanh, depth 1, no norm), which has
        its own kernels (:mod:`simrl.kernels.rm`)."""
        return (
            self.feature_kind == "sufficient"
            and self.activation == "tanh"
            and self.depth == 1
            and self.head_norm == "none"
        )

    @property
    def default_trunk(self) -> bool:
        """tanh, depth 1, no norm: fitted and scored by the default kernels on either kind
        of features (the general kernels would do the same operations, slower)."""
        return self.activation == "tanh" and self.depth == 1 and self.head_norm == "none"

    @property
    def arch(self) -> tuple[int, int, int, int]:
        """``(features, act, depth, norm)`` codes, as the kernels take them."""
        return (
            FEATURE_KINDS[self.feature_kind],
            ACTIVATIONS[self.activation],
            self.depth,
            HEAD_NORMS[self.head_norm],
        )

    def layout(self) -> tuple[int, int, int, int, int, int, int]:
        """Offsets ``(c1, W2, c2, g, w, b, n_params)`` (:func:`simrl.kernels.mlp.layout`;
        for the default architecture ``[W, c, w, b]`` with empty W2, c2 and g)."""
        _, _, depth, norm = self.arch
        return kmlp.layout(self.n_features, self.hidden, depth, norm)

    @property
    def n_members(self) -> int:
        """Ensemble size k (1 for a single model)."""
        return int(self.params.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features F."""
        if self.feature_kind == "embedding":
            return kf.n_embedding_features(self.n_prompts, self.vocab_size)
        return kf.n_features(
            self.n_prompts, self.vocab_size, self.prompt_features, self.bigram_features
        )

    @property
    def bigram_start(self) -> int:
        """Start of the bigram block in the features, or -1 without bigram features."""
        if not self.bigram_features or self.feature_kind == "embedding":
            return -1
        return kf.bigram_start(self.n_prompts, self.vocab_size, self.prompt_features)

    @property
    def feature_scale(self) -> float:
        """Counts and lengths enter as value / sqrt(T), so features stay O(1) for any T."""
        return 1.0 / math.sqrt(self.max_len)

    def spec(self) -> tuple:
        """The model as the tuple the kernels take (:mod:`simrl.kernels.proxy`)."""
        base = (
            self.params,
            self.n_features,
            self.hidden,
            self.prompt_features,
            self.bigram_start,
            self.feature_scale,
            ENSEMBLE_MODES[self.ensemble_mode],
            float(self.ensemble_lambda),
        )
        return base if self.is_default else (*base, self.arch)

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
            activation=self.activation,
            depth=self.depth,
            head_norm=self.head_norm,
            feature_kind=self.feature_kind,
        )

    def features(
        self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Padded sparse features ``(idx[N, K], val[N, K])``."""
        K = kf.max_nnz(self.vocab_size, self.max_len)
        if self.feature_kind == "embedding":
            p = np.asarray(prompts, np.int64)
            return kf.embedding_batch(p, tokens, lengths, self.vocab_size, self.feature_scale, K)
        return kf.features_batch(
            np.asarray(prompts, np.int64),
            tokens,
            lengths,
            self.vocab_size,
            self.n_features,
            self.prompt_features,
            self.bigram_start,
            self.feature_scale,
            K,
        )

    def _scores(self, idx: np.ndarray, val: np.ndarray, p: np.ndarray):
        """Rewards and hidden states of one member's parameters ``p`` on features."""
        if self.default_trunk:
            return krm.scores(idx, val, p, self.n_features, self.hidden)
        _, act, depth, norm = self.arch
        return kmlp.scores(idx, val, p, self.n_features, self.hidden, act, depth, norm)

    def member_scores(
        self, prompts: np.ndarray, tokens: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rewards ``r[k, N]`` and hidden states ``h[k, N, H]`` of every member."""
        idx, val = self.features(prompts, tokens, lengths)
        out = [self._scores(idx, val, p) for p in self.params]
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
        """Fit every member in place by mini-batch Adam/SGD on the configured loss, with
        bootstrap resamples and WARM's weight averaging as configured
        (:func:`simrl.proxy_fit.fit_proxy`).

        Raises:
            DivergenceError: the loss or a parameter became non-finite.
        """
        return fit_proxy(self, pairs, cfg, rng)

    def pretrain(
        self, pairs: PreferencePairs, cfg: RMConfig, rng: np.random.Generator
    ) -> FitResult:
        """Pretrain the network on ``pairs`` (labelled by a related gold), then put a fresh
        head on it, as a reward model's value head is put on a pretrained network
        (:func:`simrl.proxy_fit.pretrain_proxy`: plain Bradley-Terry for
        ``cfg.pretrain_epochs`` epochs, then every member gets a copy of the trunk and its
        own new head)."""
        return pretrain_proxy(self, pairs, cfg, rng)

    def _check_fit(self, loss: np.ndarray, pairs: PreferencePairs, cfg: RMConfig) -> None:
        """Refuse a finite fit that still failed (:func:`simrl.proxy_fit.check_fit`)."""
        check_fit(self, loss, pairs, cfg)
