"""One response's proxy reward from a proxy *spec*, whatever the architecture.

Two spec types, told apart when Numba compiles a caller (not by a branch at run time):

* the default proxy ``(params[k, n], F, H, prompt_features, b0, scale, mode, lam)``: the
  sufficient features of :func:`simrl.kernels.features.features_one` and
  :func:`simrl.kernels.rm.ensemble_one`, exactly as before other architectures existed;
* any other architecture, the same eight fields and ``arch = (features, act, depth, norm)``:
  sufficient or embedding features and :func:`simrl.kernels.mlp.ensemble_one`.

Every field keeps its meaning and place (``H`` is the width of the hidden state the head
reads), so code that sizes scratch from ``spec[2]`` and ``spec[0]`` works with both.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from simrl.kernels import mlp
from simrl.kernels.features import FEATURES_EMBEDDING, embedding_one, features_one
from simrl.kernels.rm import ensemble_one


@njit(cache=True, inline="always")
def default_reward(x, row, length, rm, counts, fidx, fval, h, rs) -> float:
    """The default proxy's reward of one response (the other arrays are scratch)."""
    params, F, H, prompt_features, b0, scale, mode, lam = rm
    V = counts.shape[0] - 1
    features_one(x, row, length, V, F, prompt_features, b0, scale, counts, fidx, fval)
    return ensemble_one(fidx, fval, params, F, H, mode, lam, h, rs)


@njit(cache=True)
def arch_reward(x, row, length, rm, counts, fidx, fval, h, rs) -> float:
    """Reward of one response under a spec with an ``arch`` field (:mod:`simrl.kernels.mlp`)."""
    params, F, H, prompt_features, b0, scale, mode, lam, arch = rm
    kind, act, depth, norm = arch
    V = counts.shape[0] - 1
    if kind == FEATURES_EMBEDDING:
        embedding_one(x, row, length, V, scale, counts, fidx, fval)
    else:
        features_one(x, row, length, V, F, prompt_features, b0, scale, counts, fidx, fval)
    return mlp.ensemble_one(fidx, fval, params, F, H, act, depth, norm, mode, lam, rs)


def proxy_reward(
    x: int,
    row: np.ndarray,
    length: int,
    rm: tuple,
    counts: np.ndarray,
    fidx: np.ndarray,
    fval: np.ndarray,
    h: np.ndarray,
    rs: np.ndarray,
) -> float:
    """Proxy reward r_phi(x, y) of one response for either spec type (plain Python: the
    reference; inside Numba the overload below picks the kernel by the spec's type)."""
    fn = default_reward if len(rm) == 8 else arch_reward
    return fn(x, row, length, rm, counts, fidx, fval, h, rs)


@overload(proxy_reward, jit_options={"cache": True}, inline="always")
def _proxy_reward_jit(x, row, length, rm, counts, fidx, fval, h, rs):
    if len(rm) == 8:
        return lambda x, row, length, rm, counts, fidx, fval, h, rs: default_reward(
            x, row, length, rm, counts, fidx, fval, h, rs
        )
    return lambda x, row, length, rm, counts, fidx, fval, h, rs: arch_reward(
        x, row, length, rm, counts, fidx, fval, h, rs
    )
