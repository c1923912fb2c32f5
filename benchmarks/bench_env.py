"""Environment steps per second of ``simrl/TokenRLHF-v0``: single env, native vector env,
and Gymnasium's ``SyncVectorEnv`` over single envs.

Run ``python benchmarks/bench_env.py``. Single thread (``NUMBA_NUM_THREADS=1``), default
world (P = 16, V = 10, T = 12, proxy width 32). Actions are uniform over 0..V, drawn before
the timed loop; one env step is one token of one sub-environment (autoreset steps count).
Each figure is the median of ``--repeats`` timed runs after one untimed warm-up run.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before Numba loads

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import simrl  # noqa: F401  (registers simrl/TokenRLHF-v0)
from simrl.envs import TOKEN_RLHF_ID

V = 10  # default world.vocab_size: actions are 0..V


def median_rate(run: Callable[[], int], repeats: int) -> float:
    """Median of ``repeats`` timings of ``run`` (which returns the env steps it took)."""
    run()  # warm-up: compilation, caches
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = run()
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def single_env(n_steps: int, repeats: int) -> float:
    """``gymnasium.make`` (with its default wrappers), reset by hand at each episode end."""
    env = gym.make(TOKEN_RLHF_ID)
    actions = np.random.default_rng(0).integers(0, V + 1, size=n_steps).tolist()

    def run() -> int:
        env.reset(seed=0)
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return n_steps

    return median_rate(run, repeats)


def vector_env(mode: str, num_envs: int, n_steps: int, repeats: int) -> float:
    """``gymnasium.make_vec`` in ``mode``; ``n_steps`` vector steps of ``num_envs`` each."""
    envs = gym.make_vec(TOKEN_RLHF_ID, num_envs=num_envs, vectorization_mode=mode)
    actions = np.random.default_rng(0).integers(0, V + 1, size=(n_steps, num_envs))

    def run() -> int:
        envs.reset(seed=0)
        for a in actions:
            envs.step(a)
        return n_steps * num_envs

    rate = median_rate(run, repeats)
    envs.close()
    return rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    p.add_argument("--quick", action="store_true", help="a tenth of the steps (smoke run)")
    args = p.parse_args()
    s = 10 if args.quick else 1
    rows: list[tuple[str, int, int, float]] = []  # (implementation, N, vector steps, rate)
    rows.append(("gymnasium.make (single env)", 1, 20_000 // s, 0.0))
    for n, steps in ((1, 20_000), (64, 5_000), (1024, 2_000), (4096, 1_000)):
        rows.append(("native vector env", n, steps // s, 0.0))
    for n, steps in ((1, 10_000), (64, 300), (1024, 20)):
        rows.append(("SyncVectorEnv", n, max(steps // s, 2), 0.0))
    for i, (impl, n, steps, _) in enumerate(rows):
        if impl.startswith("gymnasium.make"):
            rate = single_env(steps, args.repeats)
        else:
            mode = "vector_entry_point" if impl.startswith("native") else "sync"
            rate = vector_env(mode, n, steps, args.repeats)
        rows[i] = (impl, n, steps, rate)
    sync = {n: r for impl, n, _, r in rows if impl == "SyncVectorEnv"}
    print(f"NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}, median of {args.repeats}")
    print("| implementation | num_envs | vector steps timed | env steps/s | vs SyncVectorEnv |")
    print("|---|---:|---:|---:|---:|")
    for impl, n, steps, rate in rows:
        ref = sync.get(n) or sync[max(sync)]  # largest measured Sync N for N beyond it
        ratio = f"{rate / ref:,.0f}x" if impl == "native vector env" else ""
        if impl == "native vector env" and n not in sync:
            ratio += f" (vs N={max(sync)})"
        print(f"| {impl} | {n} | {steps:,} | {rate:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
