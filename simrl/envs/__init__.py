"""Gymnasium environments on the simrl world: ``simrl/TokenRLHF-v0``.

Importing this package is cheap: :func:`register_envs` gives Gymnasium entry-point
*strings*, and the environment classes (NumPy, Numba, the fitted proxy) load only when an
environment is made or a name below is accessed.
"""

from __future__ import annotations

from typing import Any

TOKEN_RLHF_ID = "simrl/TokenRLHF-v0"

_LAZY = {
    "TokenRLHFEnv": "simrl.envs.token_rlhf",
    "TokenRLHFVectorEnv": "simrl.envs.vector",
    "InvalidActionError": "simrl.envs.model",
}


def register_envs() -> None:
    """Register ``simrl/TokenRLHF-v0`` with Gymnasium (once; later calls do nothing)."""
    from gymnasium.envs.registration import register, registry

    if TOKEN_RLHF_ID in registry:
        return
    register(
        id=TOKEN_RLHF_ID,
        entry_point="simrl.envs.token_rlhf:TokenRLHFEnv",
        vector_entry_point="simrl.envs.vector:TokenRLHFVectorEnv",
        max_episode_steps=None,  # episodes end within world.max_len steps by themselves
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'simrl.envs' has no attribute {name!r}")


__all__ = [
    "TOKEN_RLHF_ID",
    "InvalidActionError",
    "TokenRLHFEnv",
    "TokenRLHFVectorEnv",
    "register_envs",
]
