"""What the benchmark scripts share: the machine line of every table, interleaved timing."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable

import numba
import numpy as np


def machine() -> str:
    """CPU model, core count, Python/NumPy/Numba versions and the thread settings."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, Numba {numba.__version__}, "
        f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )


def interleaved_median_rates(
    runners: dict[str, Callable[[int], tuple[float, int]]], repeats: int
) -> dict[str, float]:
    """Median rate (units per second) of each runner over ``repeats`` rounds.

    Each runner takes a seed and returns ``(seconds, units done)``; every round runs all of
    them in turn (A, B, A, B, ...) with seed ``100 + round``, so drifts of the machine hit
    every implementation alike. Warm the runners before calling this.
    """
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for rep in range(repeats):
        for name, fn in runners.items():
            seconds, units = fn(100 + rep)
            rates[name].append(units / seconds)
    return {name: statistics.median(r) for name, r in rates.items()}
