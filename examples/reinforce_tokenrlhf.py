"""Tabular REINFORCE on ``simrl/TokenRLHF-v0``: optimize a token policy against the proxy
reward model and watch the hidden gold reward from ``info``.

Written only against the public Gymnasium API. The policy is a table of logits, one row
per Markov state (prompt, position, previous token) read from the observation; each
iteration collects a rollout from the native vector environment, computes each action's
return-to-go, and takes one REINFORCE step with a mean baseline. With ``--kl-coef`` the
per-token penalty kl_coef * (log pi(a|s) - log pi_ref(a|s)) is subtracted, using the
reference log-probability the environment reports in ``info["ref_logprob"]``.

Run: ``python examples/reinforce_tokenrlhf.py --iterations 200``
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import simrl  # noqa: F401  (registers simrl/TokenRLHF-v0)


@dataclass
class Args:
    seed: int = 1
    num_envs: int = 64  # responses written in parallel
    num_steps: int = 64  # vector steps per rollout
    iterations: int = 150  # REINFORCE updates
    learning_rate: float = 1.0
    kl_coef: float = 0.0  # beta of the per-token KL penalty (0: pure proxy)
    log_every: int = 10
    overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {"world.n_prompts": 8}


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in vars(Args()).items():
        if name != "overrides":
            p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    return Args(**vars(p.parse_args()))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def main(args: Args) -> dict[str, list[float]]:
    rng = np.random.default_rng(args.seed)
    envs = gym.make_vec(
        "simrl/TokenRLHF-v0",
        num_envs=args.num_envs,
        vectorization_mode="vector_entry_point",
        overrides=args.overrides,
    )
    obs_space, N, S = envs.single_observation_space, args.num_envs, args.num_steps
    n_actions = envs.single_action_space.n
    shape = (obs_space["prompt"].n, obs_space["position"].n, obs_space["prev_token"].n)
    theta = np.zeros((*shape, n_actions))  # tabular logits, uniform policy to start

    states = np.zeros((S, N), np.int64)  # flat state index of each step
    actions = np.zeros((S, N), np.int64)
    logps = np.zeros((S, N))  # log pi(a|s) under the policy that acted
    ref_logps = np.zeros((S, N))  # log pi_ref(a|s) from info
    rewards = np.zeros((S, N))
    acted = np.zeros((S, N), bool)  # False on autoreset steps: the action was ignored
    terminated = np.zeros((S, N), bool)
    history: dict[str, list[float]] = {"proxy": [], "gold": [], "kl": []}

    obs, _ = envs.reset(seed=args.seed)
    for it in range(args.iterations):
        # 1. Rollout: sample from the tabular policy at the observed states.
        proxy, gold = [], []
        for s in range(S):
            states[s] = np.ravel_multi_index(
                (obs["prompt"], obs["position"], obs["prev_token"]), shape
            )
            probs = softmax(theta.reshape(-1, n_actions)[states[s]])
            a = (probs.cumsum(axis=1) < rng.random((N, 1))).sum(axis=1)  # inverse CDF
            actions[s] = np.minimum(a, n_actions - 1)
            logps[s] = np.log(probs[np.arange(N), actions[s]])
            obs, rewards[s], terminated[s], _, info = envs.step(actions[s])
            acted[s] = info["_ref_logprob"]
            ref_logps[s] = info["ref_logprob"]
            proxy += info["proxy"][info["_proxy"]].tolist()  # gold and proxy of each
            gold += info["gold"][info["_gold"]].tolist()  # response that ended

        # 2. Returns-to-go, KL penalty included; NaN for episodes the rollout cut off.
        penalty = args.kl_coef * (logps - ref_logps) * acted
        r = rewards - penalty
        returns = np.zeros((S, N))
        future = np.full(N, np.nan)
        for s in reversed(range(S)):
            future = r[s] + np.where(terminated[s], 0.0, future)
            returns[s] = future
        use = acted & np.isfinite(returns)

        # 3. REINFORCE with a mean baseline: theta[s] += lr A (onehot(a) - pi(.|s)).
        adv = returns[use] - returns[use].mean()
        adv /= adv.std() + 1e-8
        flat = theta.reshape(-1, n_actions)
        probs = softmax(flat[states[use]])
        grad = -probs * adv[:, None]
        grad[np.arange(adv.size), actions[use]] += adv
        np.add.at(flat, states[use], args.learning_rate * grad / N)

        # 4. Log what the proxy says and what the gold says.
        done = use & terminated
        history["proxy"].append(float(np.mean(proxy)))
        history["gold"].append(float(np.mean(gold)))
        kl_steps = (logps - ref_logps)[use]  # k1 estimate of KL(pi || pi_ref) per response
        history["kl"].append(float(kl_steps.sum() / max(done.sum(), 1)))
        if (it + 1) % args.log_every == 0 or it == 0:
            print(
                f"iter {it + 1:4d}  proxy {history['proxy'][-1]:7.3f}  "
                f"gold {history['gold'][-1]:7.3f}  KL {history['kl'][-1]:6.2f}"
            )
    envs.close()
    return history


if __name__ == "__main__":
    main(parse_args())
