"""The proxy reward model: features -> hidden layer(s) -> scalar, fitted by Numba kernels.

r_phi(x, y) = w . h + b with h = tanh(W f(x, y) + c) (DESIGN.md section 1) by default; other
activations, a second layer, an RMSNorm before the head (:mod:`simrl.kernels.mlp`) and
learned embedding features are options (docs/model.md). The hidden state is kept explicit
because the dispersion of ||h|| is what the BSR paper (Hong et al. 2025) links to
over-optimization. An ensemble (Coste et al. 2024) is k such models, trained from different
initializations (and optionally bootstrap resamples), combined by mean, worst case or
uncertainty-weighted mean. WARM (Ramé et al. 2024) instead fine-tunes its members from one
shared initialization and averages their weights into a single network.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from simrl.config import RMConfig, WorldConfig
from simrl.data import PreferencePairs
from simrl.errors import DivergenceError
from simrl.kernels import features as kf
from simrl.kernels import mlp as kmlp
from simrl.kernels import mlp_fit as kmlp_fit
from simrl.kernels import rm as krm
from simrl.kernels.activations import ACT_GELU, ACT_IDENTITY, ACT_RELU, ACT_TANH

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
ACTIVATIONS = {"tanh": ACT_TANH, "relu": ACT_RELU, "gelu": ACT_GELU, "identity": ACT_IDENTITY}
HEAD_NORMS = {"none": kmlp.NORM_NONE, "rmsnorm": kmlp.NORM_RMS}
FEATURE_KINDS = {"sufficient": kf.FEATURES_SUFFICIENT, "embedding": kf.FEATURES_EMBEDDING}
PROBE_PAIRS = 256  # training pairs whose responses probe the representation after each epoch


@dataclass(frozen=True)
class FitResult:
    """Per-epoch training history (one row per member): ``loss``, ``reward_mean`` and
    ``reward_std`` (of every reward the model produced during the epoch), and with
    ``rm.track_dispersion`` ``hnorm_centered_cv``, the CV of ||h - mean h|| over the
    responses of the first ``PROBE_PAIRS`` training pairs at the end of each epoch.
    ``trunk_rel_change`` is, per member, ||theta_T(end) - theta_T(start)|| /
    ||theta_T(start)|| over the trunk (every parameter before the head w, b): after
    pretraining, how much fine-tuning moved it.
    ``stats`` holds scalars for the run summary."""

    loss: np.ndarray
    reward_mean: np.ndarray
    reward_std: np.ndarray
    hnorm_centered_cv: np.ndarray | None = None
    trunk_rel_change: np.ndarray | None = None
    stats: dict[str, float] = field(default_factory=dict)

    def history(self) -> dict[str, list]:
        """The per-member, per-epoch history as plain lists (a run's ``rm_history``)."""
        out = {
            "loss": self.loss.tolist(),
            "reward_mean": self.reward_mean.tolist(),
            "reward_std": self.reward_std.tolist(),
        }
        if self.hnorm_centered_cv is not None:
            out["hnorm_centered_cv"] = self.hnorm_centered_cv.tolist()
        return out

    def summary(self) -> dict[str, float]:
        """Scalars for the run summary: the trunk's relative change (mean over members),
        the dispersion at the first and the last epoch, and ``stats``."""
        out = dict(self.stats)
        if self.trunk_rel_change is not None:
            out["rm_trunk_rel_change"] = float(np.mean(self.trunk_rel_change))
        if self.hnorm_centered_cv is not None:
            out["rm_fit_hnorm_centered_cv_first"] = float(np.mean(self.hnorm_centered_cv[:, 0]))
            out["rm_fit_hnorm_centered_cv_last"] = float(np.mean(self.hnorm_centered_cv[:, -1]))
        return out


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

    def _fit_kernel(self, *args) -> tuple[np.ndarray, bool]:
        """The fit kernel of this architecture on ``(iw, vw, il, vl, params, ...)``."""
        iw, vw, il, vl, p, *rest = args
        if self.default_trunk:
            return krm.fit(iw, vw, il, vl, p, self.n_features, self.hidden, *rest)
        _, act, depth, norm = self.arch
        F, H = self.n_features, self.hidden
        return kmlp_fit.fit(iw, vw, il, vl, p, F, H, act, depth, norm, *rest)

    def _probe_dispersion(self, iw, vw, il, vl, snaps: np.ndarray) -> np.ndarray:
        """CV of ||h - mean h|| on the probe responses, for each epoch's parameters."""
        from simrl.diagnostics import hidden_norm_stats  # diagnostics imports this module

        n = min(PROBE_PAIRS, iw.shape[0])
        idx, val = np.concatenate([iw[:n], il[:n]]), np.concatenate([vw[:n], vl[:n]])
        return np.array(
            [hidden_norm_stats(self._scores(idx, val, p)[1])["hnorm_centered_cv"] for p in snaps]
        )

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
        rows, disp, moved = [], [], []
        o_w = self.layout()[4]  # the trunk is everything before the head w, b
        for m in range(self.n_members):
            sel = rng.integers(0, len(pairs), len(pairs)) if cfg.ensemble_bootstrap else slice(None)
            trunk0 = self.params[m, :o_w].copy()
            snaps = np.empty((cfg.epochs, self.params.shape[1])) if cfg.track_dispersion else None
            hist, ok = self._fit_kernel(
                iw[sel],
                vw[sel],
                il[sel],
                vl[sel],
                self.params[m],
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
                snaps,
            )
            if not ok:
                raise DivergenceError(
                    f"reward-model fit diverged (non-finite loss or weights) with rm.lr = "
                    f"{cfg.lr}; lower rm.lr or the regularization coefficients"
                )
            rows.append(hist)
            if snaps is not None:
                disp.append(self._probe_dispersion(iw[sel], vw[sel], il[sel], vl[sel], snaps))
            norm0 = np.linalg.norm(trunk0)
            step = np.linalg.norm(self.params[m, :o_w] - trunk0)
            moved.append(step / norm0 if norm0 > 0 else float("nan"))
        if self.ensemble_mode == "warm":
            self.members = self.params
            self.params = self.params.mean(axis=0, keepdims=True)
        h = np.stack(rows)
        self._check_fit(h[:, :, 0], pairs, cfg)
        return FitResult(
            loss=h[:, :, 0],
            reward_mean=h[:, :, 1],
            reward_std=h[:, :, 2],
            hnorm_centered_cv=np.array(disp) if disp else None,
            trunk_rel_change=np.array(moved),
        )

    def pretrain(
        self, pairs: PreferencePairs, cfg: RMConfig, rng: np.random.Generator
    ) -> FitResult:
        """Pretrain the network on ``pairs`` (labelled by a related gold), then put a fresh
        head on it, as a reward model's value head is put on a pretrained network.

        One network is fitted by plain Bradley-Terry (no centering, BSR or label smoothing,
        whatever the fine-tuning loss: every arm of a comparison starts from the same
        trunk) for ``cfg.pretrain_epochs`` epochs; every member gets a copy of its trunk and
        its own new head w ~ N(0, init_scale^2), b = 0 (ensembles fine-tuned from one
        pretrained model, as Coste et al. 2024 and Ramé et al. 2024 build them).
        """
        pre = dataclasses.replace(
            cfg,
            loss="bt",
            label_smoothing=0.0,
            center_rewards_coefficient=0.0,
            bsr_lambda=0.0,
            epochs=cfg.pretrain_epochs,
            ensemble_bootstrap=False,
        )
        result = self.member(0).fit(pairs, pre, rng)
        o_w, o_b = self.layout()[4:6]
        self.params[1:, :o_w] = self.params[0, :o_w]
        for m in range(self.n_members):
            self.params[m, o_w:o_b] = cfg.init_scale * rng.standard_normal(o_b - o_w)
            self.params[m, o_b:] = 0.0
        return result

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
