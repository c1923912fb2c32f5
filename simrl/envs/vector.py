"""The native vector environment of ``simrl/TokenRLHF-v0``: N responses written at once,
every step one call of the Numba kernel :func:`simrl.envs._kernels.step_envs`."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from simrl.build import Setup
from simrl.config import Config
from simrl.envs import _kernels as kern
from simrl.envs.model import InvalidActionError, check_actions, make_model
from simrl.envs.token_rlhf import env_args
from simrl.kernels.features import max_nnz
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold


class TokenRLHFVectorEnv(VectorEnv[dict[str, np.ndarray], np.ndarray, np.ndarray]):
    """``num_envs`` copies of :class:`simrl.envs.token_rlhf.TokenRLHFEnv` stepped by one
    Numba kernel.

    Spaces, rewards and episode ends are those of the single environment (see its
    docstring), batched: observations are a dict of arrays with a leading ``num_envs`` axis,
    actions an integer array of shape ``(num_envs,)``.

    Autoreset is Gymnasium's next-step mode (``metadata["autoreset_mode"]``): the step after
    a sub-environment terminates ignores its action, draws a new prompt from the vector
    environment's ``np_random`` and returns the first observation of the new episode with
    reward 0 and ``terminated`` False.

    ``info`` holds ``ref_logprob`` (mask ``_ref_logprob``: an action was taken, i.e. not an
    autoreset step) and ``gold``, ``proxy``, ``length`` (masks ``_gold``, ``_proxy``,
    ``_length``: the response ended on this step), each an array over sub-environments with
    0 where its mask is False. Every array returned is freshly allocated.

    Args:
        num_envs: Number of sub-environments.
        config: As for :class:`simrl.envs.token_rlhf.TokenRLHFEnv`, and so are the
            arguments below; the sub-environments share one world.
        overrides: As for the single environment.
        setup: As for the single environment.
        rm: As for the single environment.
        ref: As for the single environment.
        gold: As for the single environment.
        reward: As for the single environment.
        kl_coef: As for the single environment.
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        config: Config | None = None,
        overrides: dict[str, Any] | None = None,
        setup: Setup | None = None,
        rm: ProxyRM | None = None,
        ref: TabularPolicy | None = None,
        gold: Gold | None = None,
        reward: str = "proxy",
        kl_coef: float | None = None,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs = {num_envs!r}: must be a positive integer")
        config, kl_coef = env_args(config, kl_coef)
        self.model = make_model(config, overrides, setup, rm, ref, gold, reward, kl_coef)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = self.model.single_spaces()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        m, N, T = self.model, num_envs, self.model.max_len
        # State of each sub-environment; done = ended last step (reset on this one).
        self._prompt = np.zeros(N, np.int64)
        self._pos = np.zeros(N, np.int64)
        self._prev = np.zeros(N, np.int64)
        self._tokens = np.zeros((N, T), np.int64)
        self._done = np.ones(N, np.bool_)
        self._needs_reset = True
        self._rm_spec, self._gold_spec = m.rm.spec(), m.gold.spec()  # as kernels take them
        K = max_nnz(m.vocab_size, T)  # scratch reused by every call
        self._scratch = (
            np.zeros(m.vocab_size + 1),
            np.zeros(K, np.int32),
            np.zeros(K),
            np.zeros(m.rm.hidden),
            np.zeros(m.rm.n_members),
        )

    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "prompt": self._prompt.copy(),
            "position": self._pos.copy(),
            "prev_token": self._prev.copy(),
            "tokens": self._tokens.copy(),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a response in every sub-environment, each to a uniformly drawn prompt.

        ``seed`` seeds ``np_random``, which also draws the prompts of later autoresets;
        ``options`` is not used.
        """
        super().reset(seed=seed)
        kern.draw_prompts(self.np_random, self.model.n_prompts, self._prompt)
        self._pos[:] = 0
        self._prev[:] = 0
        self._tokens[:] = 0
        self._done[:] = False
        self._needs_reset = False
        return self._obs(), {}

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Append one token (or EOS) in every sub-environment; see the class docstring."""
        m, N, T = self.model, self.num_envs, self.model.max_len
        a = check_actions(actions, N, m.vocab_size)
        if self._needs_reset:
            raise ResetNeeded("call reset() before step()")
        obs = {
            "prompt": np.empty(N, np.int64),
            "position": np.empty(N, np.int64),
            "prev_token": np.empty(N, np.int64),
            "tokens": np.empty((N, T), np.int64),
        }
        reward, terminated = np.empty(N), np.empty(N, np.bool_)
        ref_logprob, stepped = np.empty(N), np.empty(N, np.bool_)
        gold, proxy, length = np.empty(N), np.empty(N), np.empty(N, np.int64)
        bad = kern.step_envs(
            a,
            self._prompt,
            self._pos,
            self._prev,
            self._tokens,
            self._done,
            m.logp_ref,
            self._rm_spec,
            self._gold_spec,
            m.mode,
            m.kl_coef,
            self.np_random,
            *self._scratch,
            obs["prompt"],
            obs["position"],
            obs["prev_token"],
            obs["tokens"],
            reward,
            terminated,
            ref_logprob,
            stepped,
            gold,
            proxy,
            length,
        )
        if bad >= 0:  # the kernel checked every action before changing anything
            raise InvalidActionError(
                f"actions[{bad}] = {a[bad]}: must be in [0, {m.vocab_size}] "
                f"(0 = EOS, 1..{m.vocab_size} content tokens)"
            )
        info = {
            "ref_logprob": ref_logprob,
            "_ref_logprob": stepped,
            "gold": gold,
            "_gold": terminated.copy(),
            "proxy": proxy,
            "_proxy": terminated.copy(),
            "length": length,
            "_length": terminated.copy(),
        }
        return obs, reward, terminated, np.zeros(N, np.bool_), info
