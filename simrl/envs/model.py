"""What a token environment reads: world dimensions, log pi_ref, the proxy and the gold.

Shared by the single environment (:mod:`simrl.envs.token_rlhf`) and the vector environment
(:mod:`simrl.envs.vector`): construction from a config or a fitted setup, the spaces, and
action checking with errors that name the allowed range.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import InvalidAction

from simrl.build import Setup, build
from simrl.config import Config
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold

#: Reward modes of an environment: the proxy's score, the gold's, or the proxy's with
#: ``kl_coef * log pi_ref`` per token (:class:`~simrl.envs.token_rlhf.TokenRLHFEnv`). The index
#: is the mode code the kernels read.
REWARD_MODES = ("proxy", "gold", "proxy_kl")


class InvalidActionError(InvalidAction, ValueError):
    """An action is not a token id in ``[0, V]`` (or, for a vector env, not one per env)."""


@functools.lru_cache(maxsize=8)
def _build_cached(cfg: Config) -> Setup:
    """``build(cfg)`` once per config and process: sub-environments share one fitted proxy."""
    return build(cfg)


@dataclass(frozen=True)
class EnvModel:
    """The fixed parts of a token environment.

    Attributes:
        ref: Reference ("SFT") policy pi_ref.
        rm: Fitted proxy reward model r_phi.
        gold: Hidden gold reward r*.
        logp_ref: log pi_ref(a | x, t, prev), shape (P, T, V + 1, V + 1), read-only.
        reward: Reward mode, one of :data:`REWARD_MODES`.
        kl_coef: beta of the reference term of mode ``"proxy_kl"`` (0 otherwise).
    """

    ref: TabularPolicy
    rm: ProxyRM
    gold: Gold
    logp_ref: np.ndarray
    reward: str
    kl_coef: float

    @property
    def n_prompts(self) -> int:
        """Number of prompts P."""
        return self.logp_ref.shape[0]

    @property
    def max_len(self) -> int:
        """Length cap T."""
        return self.logp_ref.shape[1]

    @property
    def vocab_size(self) -> int:
        """Number of content tokens V (actions are 0..V)."""
        return self.logp_ref.shape[3] - 1

    @property
    def mode(self) -> int:
        """Reward mode as the integer code the kernels take."""
        return REWARD_MODES.index(self.reward)

    def score(self, x: int, tokens: np.ndarray, length: int) -> tuple[float, float]:
        """``(gold, proxy)`` of the response ``tokens[:length]`` to prompt ``x``."""
        prompts = np.array([x], np.int64)
        rows = np.ascontiguousarray(tokens, dtype=np.int64)[None, :]
        lengths = np.array([length], np.int64)
        g = self.gold.rewards(prompts, rows, lengths)[0]
        p = self.rm.score(prompts, rows, lengths)[0]
        return float(g), float(p)

    def single_spaces(self) -> tuple[spaces.Dict, spaces.Discrete]:
        """Observation and action space of one environment."""
        P, T, V = self.n_prompts, self.max_len, self.vocab_size
        obs = spaces.Dict(
            {
                "prompt": spaces.Discrete(P),
                "position": spaces.Discrete(T + 1),  # tokens written so far, 0..T
                "prev_token": spaces.Discrete(V + 1),  # 0 = BOS at position 0
                "tokens": spaces.MultiDiscrete(np.full(T, V + 1)),  # prefix padded by 0
            }
        )
        return obs, spaces.Discrete(V + 1)


def make_model(
    config: Config | None = None,
    overrides: dict[str, Any] | None = None,
    setup: Setup | None = None,
    rm: ProxyRM | None = None,
    ref: TabularPolicy | None = None,
    gold: Gold | None = None,
    reward: str = "proxy",
    kl_coef: float | None = None,
) -> EnvModel:
    """Resolve the environment arguments into an :class:`EnvModel`.

    Either a config (``config`` and/or ``overrides``; the proxy is fitted by
    :func:`simrl.build.build`, once per config and process) or a fitted world
    (``setup``, or all of ``rm``, ``ref`` and ``gold``).

    Raises:
        ValueError: Conflicting or incomplete arguments, an unknown reward mode, or world
            dimensions that disagree.
        simrl.config.ConfigError: A bad config value or override.
    """
    if reward not in REWARD_MODES:
        raise ValueError(f"reward = {reward!r}: must be one of {', '.join(REWARD_MODES)}")
    given = [v is not None for v in (rm, ref, gold)]
    fitted = setup is not None or any(given)
    if fitted and (config is not None or overrides):
        raise ValueError("pass either config/overrides or a fitted setup (or rm, ref, gold)")
    if setup is not None and any(given):
        raise ValueError("pass either setup or rm, ref and gold, not both")
    if not fitted:
        cfg = (config or Config()).replace(**dict(overrides or {}))
        setup = _build_cached(cfg)
        default_kl = cfg.policy.kl_coef
    else:
        default_kl = Config().policy.kl_coef
        if setup is None and not all(given):
            raise ValueError("a fitted world needs all of rm, ref and gold")
    if setup is not None:
        rm, ref, gold = setup.rm, setup.ref, setup.gold
    assert rm is not None and ref is not None and gold is not None
    _check_dims(rm, ref, gold)
    if kl_coef is not None and reward != "proxy_kl":
        raise ValueError(f"kl_coef applies only to reward='proxy_kl', not {reward!r}")
    beta = float(default_kl if kl_coef is None else kl_coef)
    if not (np.isfinite(beta) and beta >= 0.0):
        raise ValueError(f"kl_coef = {kl_coef!r}: must be a finite number >= 0")
    logp_ref = ref.logp()
    logp_ref.setflags(write=False)
    return EnvModel(ref, rm, gold, logp_ref, reward, beta if reward == "proxy_kl" else 0.0)


def _check_dims(rm: ProxyRM, ref: TabularPolicy, gold: Gold) -> None:
    P, T, V = ref.shape
    if (rm.n_prompts, rm.max_len, rm.vocab_size) != (P, T, V):
        raise ValueError(
            f"proxy built for (n_prompts, max_len, vocab_size) = "
            f"{(rm.n_prompts, rm.max_len, rm.vocab_size)}, reference policy for {(P, T, V)}"
        )
    if gold.values.shape != (P, V + 1):
        raise ValueError(f"gold values have shape {gold.values.shape}, expected {(P, V + 1)}")


def check_action(action: Any, vocab_size: int) -> int:
    """The token id of one action, or :class:`InvalidActionError` naming the allowed range."""
    ok = isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_))
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        ok, action = True, action.item()
    if not ok or not 0 <= action <= vocab_size:
        raise InvalidActionError(
            f"action must be an integer in [0, {vocab_size}] (0 = EOS, 1..{vocab_size} "
            f"content tokens); got {action!r} of type {type(action).__name__}"
        )
    return int(action)


def check_actions(actions: Any, num_envs: int, vocab_size: int) -> np.ndarray:
    """Actions of a vector env as a contiguous int64 ``(num_envs,)`` array (range not checked).

    Raises:
        InvalidActionError: Wrong shape or a non-integer dtype.
    """
    arr = np.asarray(actions)
    if arr.shape != (num_envs,) or arr.dtype.kind not in "iu":
        raise InvalidActionError(
            f"actions must be an integer array of shape ({num_envs},) with values in "
            f"[0, {vocab_size}] (0 = EOS); got shape {arr.shape} and dtype {arr.dtype}"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)
