"""Fitting a proxy reward model: every member by the fit kernels, WARM's weight averaging,
pretraining a shared trunk, the dispersion probe, and the checks that refuse a failed fit.

The functions take the :class:`simrl.reward_model.ProxyRM` they fit (in place); its
:meth:`~simrl.reward_model.ProxyRM.fit` and :meth:`~simrl.reward_model.ProxyRM.pretrain`
call them. :class:`FitResult` is the training history they return.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simrl.config import RMConfig
from simrl.data import PreferencePairs
from simrl.errors import DivergenceError
from simrl.kernels import mlp_fit as kmlp_fit
from simrl.kernels import rm as krm
from simrl.proxy_codes import LOSSES

if TYPE_CHECKING:
    from simrl.reward_model import ProxyRM

__all__ = ["PROBE_PAIRS", "FitResult", "check_fit", "fit_proxy", "pretrain_proxy"]

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


def _fit_kernel(rm: ProxyRM, *args) -> tuple[np.ndarray, bool]:
    """The fit kernel of ``rm``'s architecture on ``(iw, vw, il, vl, params, ...)``."""
    iw, vw, il, vl, p, *rest = args
    if rm.default_trunk:
        return krm.fit(iw, vw, il, vl, p, rm.n_features, rm.hidden, *rest)
    _, act, depth, norm = rm.arch
    F, H = rm.n_features, rm.hidden
    return kmlp_fit.fit(iw, vw, il, vl, p, F, H, act, depth, norm, *rest)


def _probe_dispersion(rm: ProxyRM, iw, vw, il, vl, snaps: np.ndarray) -> np.ndarray:
    """CV of ||h - mean h|| on the probe responses, for each epoch's parameters."""
    from simrl.diagnostics import hidden_norm_stats  # diagnostics imports simrl.reward_model

    n = min(PROBE_PAIRS, iw.shape[0])
    idx, val = np.concatenate([iw[:n], il[:n]]), np.concatenate([vw[:n], vl[:n]])
    return np.array(
        [hidden_norm_stats(rm._scores(idx, val, p)[1])["hnorm_centered_cv"] for p in snaps]
    )


def fit_proxy(
    rm: ProxyRM, pairs: PreferencePairs, cfg: RMConfig, rng: np.random.Generator
) -> FitResult:
    """Fit every member of ``rm`` in place by mini-batch Adam/SGD on the configured loss.

    Members see the same pairs in their own order, or with ``cfg.ensemble_bootstrap``
    their own bootstrap resample (Efron 1979) of the pairs. WARM then replaces them by
    the single network with their mean weights, theta = (1/M) sum_m theta_m (Ramé et al.
    2024), keeping them in ``members``.

    Raises:
        DivergenceError: the loss or a parameter became non-finite.
    """
    iw, vw = rm.features(pairs.prompts, pairs.chosen, pairs.chosen_len)
    il, vl = rm.features(pairs.prompts, pairs.rejected, pairs.rejected_len)
    rows, disp, moved = [], [], []
    o_w = rm.layout()[4]  # the trunk is everything before the head w, b
    for m in range(rm.n_members):
        sel = rng.integers(0, len(pairs), len(pairs)) if cfg.ensemble_bootstrap else slice(None)
        trunk0 = rm.params[m, :o_w].copy()
        snaps = np.empty((cfg.epochs, rm.params.shape[1])) if cfg.track_dispersion else None
        hist, ok = _fit_kernel(
            rm,
            iw[sel],
            vw[sel],
            il[sel],
            vl[sel],
            rm.params[m],
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
            disp.append(_probe_dispersion(rm, iw[sel], vw[sel], il[sel], vl[sel], snaps))
        norm0 = np.linalg.norm(trunk0)
        step = np.linalg.norm(rm.params[m, :o_w] - trunk0)
        moved.append(step / norm0 if norm0 > 0 else float("nan"))
    if rm.ensemble_mode == "warm":
        rm.members = rm.params
        rm.params = rm.params.mean(axis=0, keepdims=True)
    h = np.stack(rows)
    rm._check_fit(h[:, :, 0], pairs, cfg)  # through the method, so a test can replace it
    return FitResult(
        loss=h[:, :, 0],
        reward_mean=h[:, :, 1],
        reward_std=h[:, :, 2],
        hnorm_centered_cv=np.array(disp) if disp else None,
        trunk_rel_change=np.array(moved),
    )


def pretrain_proxy(
    rm: ProxyRM, pairs: PreferencePairs, cfg: RMConfig, rng: np.random.Generator
) -> FitResult:
    """Pretrain the network of ``rm`` on ``pairs`` (labelled by a related gold), then put a
    fresh head on it, as a reward model's value head is put on a pretrained network.

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
    result = rm.member(0).fit(pairs, pre, rng)
    o_w, o_b = rm.layout()[4:6]
    rm.params[1:, :o_w] = rm.params[0, :o_w]
    for m in range(rm.n_members):
        rm.params[m, o_w:o_b] = cfg.init_scale * rng.standard_normal(o_b - o_w)
        rm.params[m, o_b:] = 0.0
    return result


def check_fit(rm: ProxyRM, loss: np.ndarray, pairs: PreferencePairs, cfg: RMConfig) -> None:
    """Refuse a finite fit that still failed: the last epoch's loss far above the
    first's (every loss is >= 0), or worse than chance on its own training pairs (by
    more than 3 binomial standard errors, 1.5 / sqrt(n)).

    Raises:
        DivergenceError: the fit of ``rm`` failed in one of these ways.
    """
    first, last = loss[:, 0], loss[:, -1]
    knobs = f"rm.lr = {cfg.lr}, rm.weight_decay = {cfg.weight_decay}"
    if np.any(last > 10.0 * first + 1.0):
        m = int(np.argmax(last - 10.0 * first))
        raise DivergenceError(
            f"reward-model fit diverged: loss rose from {first[m]:.3g} to {last[m]:.3g} "
            f"({knobs}); lower rm.lr or the regularization coefficients"
        )
    acc = rm.accuracy(pairs)
    if acc < 0.5 - 1.5 / math.sqrt(len(pairs)):
        raise DivergenceError(
            f"reward-model fit failed: train accuracy {acc:.3f} is worse than chance "
            f"({knobs}); lower rm.lr or the regularization coefficients"
        )
