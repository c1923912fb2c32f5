"""Shared fixtures and the Hypothesis profiles.

Profiles: ``dev`` (default) and ``ci`` (derandomized, so CI runs are repeatable); both have
``deadline=None`` because the first call of a jitted kernel includes compilation. CI selects
``ci`` through the ``CI`` environment variable; ``HYPOTHESIS_PROFILE`` overrides.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from simrl.config import Config, from_dict

settings.register_profile(
    "dev", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=40,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# A world small enough to enumerate every response (V = 3, T = 4: 121 responses).
TINY = {
    "world": {"n_prompts": 3, "vocab_size": 3, "max_len": 4, "ref_len": 2.0},
    "gold": {"polite_tokens": 1},
    "data": {"n_pairs": 300, "n_test_pairs": 300, "heldout_prompt_fraction": 0.34},
    "rm": {"hidden": 4, "epochs": 3},
    "policy": {"steps": 40, "eval_every": 20, "batch_prompts": 3, "lr": 0.05},
    "eval": {"min_samples": 512, "max_samples": 2048, "norm_samples": 4096},
}

# The same world as the base of a sweep spec (TOML).
TINY_SPEC_BASE = "".join(
    f"[base.{name}]\n" + "".join(f"{k} = {v!r}\n" for k, v in fields.items())
    for name, fields in TINY.items()
)


def tiny_config(**sections) -> Config:
    """:data:`TINY`, with ``sections`` merged into it, as a validated config."""
    base = {name: dict(fields) for name, fields in TINY.items()}
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return from_dict(base)


@pytest.fixture
def tiny() -> Config:
    return tiny_config()


def enumerate_responses(V: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Every response of length 0..T over tokens 1..V: ``(tokens[n, T], lengths[n])``."""
    rows: list[list[int]] = [[]]
    frontier: list[list[int]] = [[]]
    for _ in range(T):
        frontier = [[*r, v] for r in frontier for v in range(1, V + 1)]
        rows += frontier
    tokens = np.zeros((len(rows), T), np.int64)
    lengths = np.array([len(r) for r in rows], np.int64)
    for i, r in enumerate(rows):
        tokens[i, : len(r)] = r
    return tokens, lengths


def random_logits(rng: np.random.Generator, P: int, T: int, V: int, scale: float = 1.5):
    """A random policy table of shape (P, T, V + 1, V + 1)."""
    return scale * rng.standard_normal((P, T, V + 1, V + 1))


def run_spec(spec: dict, spec_dir: str = ".") -> list[dict]:
    """Every run of a sweep spec, in process, shaped like ``simrl.reports.read_store``'s
    output (the stored fields plus ``flat``); fails if a run does not finish."""
    from simrl import store
    from simrl.executors import run_one
    from simrl.sweep import expand

    runs = []
    for r in expand(spec, spec_dir):
        out = run_one(r.id, r.config.to_dict())
        assert out["status"] == "ok", out["error"]
        runs.append({**out, "flat": dict(store.flatten(out["config"]))})
    return runs


def finite_difference(f, theta, u, U, shared, h=1e-5):
    """Central differences of f(theta, u, U) in every parameter (u, U only when shared), in
    the order of ``np.concatenate([theta.ravel(), u, U.ravel()])``."""
    params = [theta, u, U] if shared else [theta]
    out = []
    for arr in params:
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            hi = f(theta, u, U)
            arr[i] = old - h
            lo = f(theta, u, U)
            arr[i] = old
            out.append((hi - lo) / (2 * h))
    return np.array(out)
