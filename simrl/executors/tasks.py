"""What a worker runs: one config, or a chunk of them, as plain result dicts; and warming the
Numba cache in the coordinating process before the workers start.

A worker runs one Numba thread (``NUMBA_NUM_THREADS=1`` is set before Numba loads) and BLAS
single-threaded, so a run gives the same bits wherever it runs.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from typing import Any

Item = tuple[str, dict[str, Any]]  # (run id, config dict)
SINGLE_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _single_thread() -> None:
    """Pin Numba and BLAS to one thread where they have not loaded yet in this process."""
    for name, value in SINGLE_THREAD_ENV.items():
        if ("numba" if name.startswith("NUMBA") else "numpy") not in sys.modules:
            os.environ[name] = value


def run_one(rid: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run one config; any exception becomes a ``failed`` (or ``diverged``) result.

    Returns:
        ``id, config, status, error, curve, summary, extras, timing`` (with ``wall``
        seconds) and the simrl, NumPy, Numba and Python versions of the process that ran it.
    """
    _single_thread()
    import numba
    import numpy

    import simrl
    from simrl.config import from_dict
    from simrl.errors import DivergenceError
    from simrl.experiment import run

    out: dict[str, Any] = {"id": rid, "config": config, "curve": [], "summary": None}
    t0 = time.perf_counter()
    try:
        result = run(from_dict(config))
        out.update(
            status="ok",
            error=None,
            curve=result.curve,
            summary=result.summary,
            extras={"rm_history": result.rm_history, "length_dist": result.length_dist},
        )
        out["timing"] = dict(result.timing)
    except DivergenceError as exc:
        out.update(status="diverged", error=str(exc) or "DivergenceError", timing={})
    except Exception as exc:
        out.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000], timing={})
    out["timing"]["wall"] = time.perf_counter() - t0
    out.update(
        simrl_version=simrl.__version__,
        numpy_version=numpy.__version__,
        numba_version=numba.__version__,
        python_version=platform.python_version(),
    )
    return out


def run_chunk(items: list[Item]) -> list[dict[str, Any]]:
    """Run several configs in order (one task of a pool)."""
    return [run_one(rid, config) for rid, config in items]


def warm_up(configs: list[dict[str, Any]]) -> None:
    """Compile (or load from the Numba cache) every kernel the configs use, in this process.

    Runs a tiny world once per distinct combination of the string and boolean fields of
    ``rm``, ``policy`` and ``eval`` (which select the kernels), at most eight.
    """
    from simrl.config import Config
    from simrl.store import flatten

    tiny = {
        "world": {"n_prompts": 3, "vocab_size": 3, "max_len": 4, "ref_len": 2.0},
        "gold": {"polite_tokens": 1},
        "data": {"n_pairs": 64, "n_test_pairs": 64, "heldout_prompt_fraction": 0.34},
        "rm": {"hidden": 2, "epochs": 1, "ensemble_size": 1},
        "policy": {"steps": 4, "eval_every": 2, "batch_prompts": 0, "bon_n_max": 4},
        "eval": {"min_samples": 64, "max_samples": 64, "norm_samples": 256},
    }
    tiny["policy"].update(bon_samples=8, bon_exact_max=10_000)
    kinds = []
    for c in configs:
        kind = {
            s: {k: v for k, v in c[s].items() if isinstance(v, (str, bool))}
            for s in ("rm", "policy", "eval")
        }
        if kind not in kinds:
            kinds.append(kind)
    for kind in kinds[:8]:
        cfg = {s: {**tiny.get(s, {}), **kind.get(s, {})} for s in {*tiny, *kind}}
        # a config the tiny world cannot take is skipped: its real run will compile
        with contextlib.suppress(Exception):
            run_one("warm-up", Config().replace(**dict(flatten(cfg))).to_dict())
