"""``simrl/TokenRLHF-v0``: writing one response to one prompt, scored at the end by a reward
model, as a Gymnasium environment."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from simrl.build import Setup
from simrl.config import Config, ConfigError, as_config
from simrl.envs.model import InvalidActionError, check_action, make_model
from simrl.policy import TabularPolicy
from simrl.reward_model import ProxyRM
from simrl.world import Gold


def env_args(config: Any, kl_coef: Any) -> tuple[Config | None, float | None]:
    """``config`` (a Config, a nested dict of sections, or None) as a validated Config, and
    ``kl_coef`` checked to be a number, each refused with a message naming the argument.

    Raises:
        ConfigError: a bad ``config`` or a ``kl_coef`` that is not a finite number >= 0.
    """
    if config is not None:
        config = as_config(config)
    if kl_coef is not None:
        number = isinstance(kl_coef, (int, float, np.integer, np.floating))
        if isinstance(kl_coef, (bool, np.bool_)) or not number or not 0 <= kl_coef < np.inf:
            raise ConfigError(f"kl_coef = {kl_coef!r:.40}: must be a finite number >= 0")
        kl_coef = float(kl_coef)
    return config, kl_coef


class TokenRLHFEnv(gym.Env[dict[str, Any], int]):
    """
    ## Description

    Reinforcement learning from human feedback in a token world small enough to solve
    exactly. The agent is the language model: an episode is one response to one prompt,
    written one token per step. As in RLHF, the reward model stands in for the environment:
    when the response ends it returns a score. By default that score is the *proxy* reward
    model r_phi(x, y), fitted (by :func:`simrl.build.build`) to preference pairs
    labelled by a hidden *gold* reward r*(x, y). The gold is reported in ``info`` at the end
    of every episode, so training on the proxy while watching the gold shows reward-model
    over-optimization (Gao et al. 2023, "Scaling laws for reward model overoptimization").

    ## Action Space

    ``Discrete(V + 1)``, V = ``world.vocab_size`` (10 by default):

    - 0: EOS, end the response
    - 1..V: append this content token

    Anything else (out of range, a float such as 1.5, a bool, an array of the wrong shape)
    raises :class:`simrl.envs.model.InvalidActionError`, which is both a ``ValueError`` and a
    ``gymnasium.error.InvalidAction``, with the allowed range in its message.

    ## Observation Space

    A ``Dict`` of discrete spaces, so that a tabular agent can read the Markov state
    (prompt, position, previous token), which is exactly what the reference policy and
    :class:`simrl.policy.TabularPolicy` condition on, and a sequence agent the prefix:

    | Key          | Space                        | Meaning                                       |
    |--------------|------------------------------|-----------------------------------------------|
    | `prompt`     | `Discrete(P)`                | prompt x, P = `world.n_prompts`               |
    | `position`   | `Discrete(T + 1)`            | content tokens written so far, 0..T           |
    | `prev_token` | `Discrete(V + 1)`            | last token written; 0 = BOS at position 0     |
    | `tokens`     | `MultiDiscrete([V + 1] * T)` | the prefix, padded with 0 (EOS never appears) |

    T = ``world.max_len`` (12 by default). Every observation is a fresh object: the
    ``tokens`` array of one step never aliases that of another.

    ## Rewards

    Chosen by ``reward``:

    - ``"proxy"`` (default): 0 on every step, r_phi(x, y) on the step that ends the response.
    - ``"gold"``: 0 on every step, r*(x, y) on the step that ends the response.
    - ``"proxy_kl"``: ``kl_coef * log pi_ref(a_t | s_t)`` on every step (the EOS step
      included), plus r_phi(x, y) at the end.

    On ``"proxy_kl"``: the usual RLHF reward r_phi(x, y) - beta sum_t (log pi(a_t|s_t) -
    log pi_ref(a_t|s_t)) needs the agent's own log-probability, which an environment never
    sees. It splits into the part the environment can give, r_phi + beta sum_t log pi_ref,
    and -beta sum_t log pi(a_t|s_t), whose expectation is beta times the entropy of the
    agent's responses. So training on ``"proxy_kl"`` with an entropy bonus of weight
    ``kl_coef`` (or subtracting ``kl_coef * log pi(a_t|s_t)`` per token yourself) optimizes
    exactly the KL-regularized objective E[r_phi] - beta KL(pi || pi_ref). Without that
    term it rewards likely-under-pi_ref tokens and does not penalize divergence by itself.

    ``info`` carries, on every step, ``ref_logprob`` = log pi_ref(a_t | s_t) of the action
    just taken, and on the step that ends the response ``gold`` = r*(x, y), ``proxy`` =
    r_phi(x, y) and ``length`` = |y|, whatever the reward mode; so any penalty can be
    computed and over-optimization measured from ``info`` alone. ``reset`` returns an empty
    ``info``.

    ## Starting State

    A prompt drawn uniformly from ``0..P-1`` with the environment's ``np_random`` (or
    ``options={"prompt": x}`` on reset), an empty response: position 0, previous token 0
    (BOS), ``tokens`` all 0.

    ## Episode End

    1. Termination: the agent takes action 0 (EOS); the response is the prefix.
    2. Termination: the response reaches the length cap T content tokens.

    The cap is a termination, not a truncation: it is part of the world (the gold, the
    proxy and the reference policy all treat a capped response as complete), the position
    is observed so the state stays Markov, and the full reward is paid on that step, so
    there is nothing to bootstrap. ``truncated`` is always False. ``info["length"] == T``
    exactly when the cap ended the response (EOS can follow at most T - 1 tokens), and an
    episode lasts at most T steps.

    ## Arguments

    ```python
    >>> import gymnasium as gym
    >>> import simrl  # registers simrl/TokenRLHF-v0
    >>> env = gym.make("simrl/TokenRLHF-v0", overrides={"world.n_prompts": 4})
    >>> env
    <OrderEnforcing<PassiveEnvChecker<TokenRLHFEnv<simrl/TokenRLHF-v0>>>>
    >>> obs, info = env.reset(seed=0, options={"prompt": 2})
    >>> int(obs["prompt"]), int(obs["position"]), int(obs["prev_token"]), obs["tokens"]
    (2, 0, 0, array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    >>> obs, reward, terminated, truncated, info = env.step(3)  # write token 3
    >>> obs["tokens"][:3], int(obs["prev_token"]), reward, terminated, sorted(info)
    (array([3, 0, 0]), 3, 0.0, False, ['ref_logprob'])
    >>> obs, reward, terminated, truncated, info = env.step(0)  # EOS ends the response
    >>> terminated, truncated, sorted(info)
    (True, False, ['gold', 'length', 'proxy', 'ref_logprob'])
    >>> reward == info["proxy"], info["length"]
    (True, 1)

    ```

    | Parameter          | Default   | Description                                         |
    |--------------------|-----------|-----------------------------------------------------|
    | `config`           | `None`    | a `simrl.config.Config` or a dict of its sections   |
    | `overrides`        | `None`    | dotted changes, e.g. `{"world.n_prompts": 8}`       |
    | `setup`            | `None`    | a fitted `simrl.build.Setup` instead of config |
    | `rm`, `ref`, `gold`| `None`    | the parts of a fitted world instead of `setup`      |
    | `reward`           | `"proxy"` | `"proxy"`, `"gold"` or `"proxy_kl"`                 |
    | `kl_coef`          | `None`    | beta of `"proxy_kl"`; default `policy.kl_coef`      |
    | `render_mode`      | `None`    | `"ansi"`: `render()` returns the response as text   |

    From a config, the proxy is fitted by :func:`simrl.build.build` once per config
    and process (a quarter of a second for the default world) and shared by every
    environment made from that config.

    ## Vectorized environment

    A native vector environment steps every sub-environment in one Numba kernel, with
    Gymnasium's next-step autoreset; its ``info`` holds the same keys as arrays, each with a
    ``_key`` mask, as :class:`gymnasium.vector.SyncVectorEnv` would assemble them.

    ```python
    >>> envs = gym.make_vec("simrl/TokenRLHF-v0", num_envs=3, overrides={"world.n_prompts": 4},
    ...                     vectorization_mode="vector_entry_point")
    >>> envs
    TokenRLHFVectorEnv(simrl/TokenRLHF-v0, num_envs=3)
    >>> obs, info = envs.reset(seed=0)
    >>> obs["tokens"].shape, obs["position"]
    ((3, 12), array([0, 0, 0]))

    ```

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: Config | None = None,
        overrides: dict[str, Any] | None = None,
        setup: Setup | None = None,
        rm: ProxyRM | None = None,
        ref: TabularPolicy | None = None,
        gold: Gold | None = None,
        reward: str = "proxy",
        kl_coef: float | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode = {render_mode!r}: must be None or 'ansi'")
        config, kl_coef = env_args(config, kl_coef)
        self.model = make_model(config, overrides, setup, rm, ref, gold, reward, kl_coef)
        self.observation_space, self.action_space = self.model.single_spaces()
        self.render_mode = render_mode
        self._tokens = np.zeros(self.model.max_len, np.int64)
        self._prompt, self._pos, self._prev = 0, 0, 0
        self._done = True  # step() before reset() is an error

    def _obs(self) -> dict[str, Any]:
        return {
            "prompt": np.int64(self._prompt),
            "position": np.int64(self._pos),
            "prev_token": np.int64(self._prev),
            "tokens": self._tokens.copy(),  # a fresh array every step
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a response to a uniformly drawn prompt, or to ``options["prompt"]``."""
        super().reset(seed=seed)
        P = self.model.n_prompts
        if options and "prompt" in options:
            x = options["prompt"]
            if not isinstance(x, (int, np.integer)) or isinstance(x, bool) or not 0 <= x < P:
                raise ValueError(f"options['prompt'] = {x!r}: must be an integer in [0, {P - 1}]")
            self._prompt = int(x)
        else:
            self._prompt = int(self.np_random.integers(0, P))  # uniform prompt
        self._pos, self._prev, self._done = 0, 0, False
        self._tokens[:] = 0
        return self._obs(), {}

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Append one token (or EOS); the reward model scores the response when it ends."""
        a = check_action(action, self.model.vocab_size)
        if self._done:
            raise ResetNeeded("the response has ended; call reset() before step()")
        m, x, t = self.model, self._prompt, self._pos
        lp = float(m.logp_ref[x, t, self._prev, a])
        info: dict[str, Any] = {"ref_logprob": lp}
        reward = m.kl_coef * lp if m.reward == "proxy_kl" else 0.0
        if a == 0:  # EOS: the response is the prefix
            terminated = True
        else:
            self._tokens[t] = a
            self._pos, self._prev = t + 1, a
            terminated = self._pos == m.max_len  # the length cap ends it too
        if terminated:
            g, p = m.score(x, self._tokens, self._pos)
            reward += g if m.reward == "gold" else p
            info.update(gold=g, proxy=p, length=self._pos)
            self._done = True
        return self._obs(), float(reward), terminated, False, info

    def render(self) -> str | None:
        """With ``render_mode="ansi"``: the prompt and the response so far, as text."""
        if self.render_mode != "ansi":
            return None
        words = " ".join(str(int(v)) for v in self._tokens[: self._pos])
        end = " <eos>" if self._done and self._pos < self.model.max_len else ""
        return f"x={self._prompt}: {words}{end}".rstrip()


__all__ = ["InvalidActionError", "TokenRLHFEnv"]
