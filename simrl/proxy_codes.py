"""The proxy's string options and the integer codes the Numba kernels take for them.

Each table maps a config value (``rm.loss``, ``rm.ensemble_mode``, ``rm.activation``,
``rm.head_norm``, ``rm.features``) to the constant of :mod:`simrl.kernels.rm`,
:mod:`simrl.kernels.activations`, :mod:`simrl.kernels.mlp` or
:mod:`simrl.kernels.features`. :mod:`simrl.reward_model` re-exports them.
"""

from __future__ import annotations

from simrl.kernels import features as kf
from simrl.kernels import mlp as kmlp
from simrl.kernels import rm as krm
from simrl.kernels.activations import ACT_GELU, ACT_IDENTITY, ACT_RELU, ACT_TANH

__all__ = ["ACTIVATIONS", "ENSEMBLE_MODES", "FEATURE_KINDS", "HEAD_NORMS", "LOSSES"]

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
