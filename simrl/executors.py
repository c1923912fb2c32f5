"""Where the runs of a sweep execute: in this process, in local worker processes, or on a
Dask cluster, all through the ``concurrent.futures`` interface.

Workers receive ``(id, config dict)`` pairs in chunks and return plain result dicts; they
never touch the store. Each worker runs one Numba thread (``NUMBA_NUM_THREADS=1`` is set
before Numba loads) and BLAS single-threaded, so a run gives the same bits wherever it runs.
Local workers start with ``spawn``; the Numba cache is warmed in this process first, so
they load compiled kernels instead of compiling them side by side.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import multiprocessing
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

Item = tuple[str, dict[str, Any]]  # (run id, config dict)
SINGLE_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
MAX_CHUNK = 16


class WorkerLostError(RuntimeError):
    """A worker process or the cluster failed (not a run: the run itself never raises)."""


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


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # the sweep was killed: do not live on as an orphan
        time.sleep(0.5)


def _init_worker(parent: int) -> None:
    """Process-pool initializer: one thread, Ctrl-C left to the coordinator, exit with it."""
    os.environ.update(SINGLE_THREAD_ENV)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def warm_up(configs: list[dict[str, Any]]) -> None:
    """Compile (or load from the Numba cache) every kernel the configs use, in this process.

    Runs a tiny world once per distinct combination of the string and boolean fields of
    ``rm``, ``policy`` and ``eval`` (which select the kernels), at most eight.
    """
    from simrl.config import Config

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
            run_one("warm-up", Config().replace(**dict(_flat(cfg))).to_dict())


def _flat(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        yield from _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [(prefix + k, v)]


def chunks(items: list[Item], slots: int, max_chunk: int = MAX_CHUNK) -> list[list[Item]]:
    """Guided chunking: large chunks first, single runs at the end, so the slots finish
    together (each chunk is a quarter of a slot's share of what is left)."""
    out, i = [], 0
    while i < len(items):
        size = min(max_chunk, max(1, math.ceil((len(items) - i) / (4 * slots))))
        out.append(items[i : i + size])
        i += size
    return out


class Executor:
    """A context manager yielding results of runs as they complete.

    Args:
        workers: Local worker processes; 1 runs everything in this process.
        scheduler: Address of a Dask scheduler (``tcp://host:port``); overrides ``workers``.
        task: The chunk function (module-level, so workers can import it).
    """

    def __init__(
        self,
        workers: int = 1,
        scheduler: str | None = None,
        task: Callable[[list[Item]], list[dict]] = run_chunk,
    ):
        self.workers, self.scheduler, self.task = workers, scheduler, task
        self.pool: cf.Executor | None = None
        self.client: Any = None
        self.slots = 1
        self.futures: set[cf.Future] = set()

    def __enter__(self) -> Executor:
        if self.scheduler is not None:
            try:
                from distributed import Client
            except ImportError:
                from simrl.config import ConfigError

                raise ConfigError("--scheduler needs Dask: pip install 'simrl[dask]'") from None
            self.client = Client(self.scheduler)
            self.pool = self.client.get_executor(pure=False)
            self.slots = max(1, sum(self.client.nthreads().values()))
        elif self.workers > 1:
            self.pool = cf.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
            self.slots = self.workers
        return self

    def results(self, items: list[Item]) -> Iterator[dict[str, Any]]:
        """Run ``items``; yield each result as soon as its chunk is back.

        Raises:
            WorkerLostError: a worker process died or the cluster went away.
        """
        if self.pool is None:
            for item in items:
                yield from self.task([item])
            return
        pending = {self.pool.submit(self.task, c) for c in chunks(items, self.slots)}
        self.futures |= pending
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for f in done:
                try:
                    yield from f.result()
                except Exception as exc:
                    raise WorkerLostError(f"{type(exc).__name__}: {exc}") from exc

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if self.pool is None:
            return
        clean = exc_type is None
        for f in self.futures:
            f.cancel()
        if isinstance(self.pool, cf.ProcessPoolExecutor):
            if not clean:  # unfinished runs are dropped; the store never sees them
                for p in list((getattr(self.pool, "_processes", None) or {}).values()):
                    p.terminate()
            self.pool.shutdown(wait=clean, cancel_futures=True)
        else:
            self.pool.shutdown(wait=clean)
            self.client.close()
