"""The memory one run needs, estimated from its config, and the limit it must fit in."""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from simrl.config.fields import ConfigError, show

if TYPE_CHECKING:
    from simrl.config.run import Config

GIB = 2**30
#: Largest estimated memory of one run. A sweep runs one per worker; 4 GiB lets a 24 GiB
#: machine run four workers with 8 GiB to spare for the system, the coordinator and
#: SQLite. ``SIMRL_MAX_RUN_GIB`` raises (or lowers) it on a bigger (smaller) machine.
MAX_RUN_BYTES = 4 * GIB


def max_run_bytes() -> int:
    """The memory limit of one run: ``SIMRL_MAX_RUN_GIB`` GiB if set, else MAX_RUN_BYTES."""
    raw = os.environ.get("SIMRL_MAX_RUN_GIB")
    if raw is None:
        return MAX_RUN_BYTES
    try:
        gib = float(raw)
    except ValueError:
        gib = math.nan
    if not 0 < gib < 2**40:
        raise ConfigError(f"SIMRL_MAX_RUN_GIB = {show(raw)}: must be a number of GiB > 0")
    return int(gib * GIB)


def estimate_bytes(cfg: Config) -> int:
    """Upper estimate of the memory one run of ``cfg`` needs, in bytes.

    The terms (float64 and int64 throughout): about eight copies of the policy table
    P x T x (V+1)^2 (reference logits and log-probabilities, policy logits, probabilities,
    gradient, occupancies); the proxy's F x H weights per member with gradient and two
    Adam moments; the tokens (T) and sparse features (at most 2 min(V, T) + T + 2 index and
    value pairs) of every preference pair; and two buffers of evaluation samples (the
    largest of max_samples, norm_samples and, for best-of-n, P x bon_samples).
    """
    w, rm = cfg.world, cfg.rm
    P, T, V = w.n_prompts, w.max_len, w.vocab_size
    policy = 8 * P * T * (V + 1) ** 2 * 8
    F = V + (P * V if rm.prompt_features else 0)
    F += ((V + 1) * V if rm.bigram_features else 0) + 2
    proxy = 4 * rm.ensemble_size * (F * rm.hidden + 2 * rm.hidden + 1) * 8
    per_response = T * 8 + (2 * min(V, T) + T + 2) * 16
    n_pairs = cfg.data.n_pairs + 3 * cfg.data.n_test_pairs
    data = 2 * n_pairs * per_response
    samples = max(cfg.eval.max_samples, cfg.eval.norm_samples)
    if cfg.policy.optimizer == "bon":
        samples = max(samples, P * cfg.policy.bon_samples)
    return policy + proxy + data + 2 * samples * per_response


def check_size(cfg: Config) -> None:
    """Raise ConfigError if one run of ``cfg`` would need more than :func:`max_run_bytes`."""
    need, limit = estimate_bytes(cfg), max_run_bytes()
    if need > limit:
        w = cfg.world
        raise ConfigError(
            f"config too large: a run needs about {need / GIB:.1f} GiB (world.n_prompts = "
            f"{w.n_prompts}, world.max_len = {w.max_len}, world.vocab_size = {w.vocab_size}, "
            f"the data and sample counts); the limit is {limit / GIB:.1f} GiB "
            "(SIMRL_MAX_RUN_GIB)"
        )
