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
from typing import Any, Protocol

Item = tuple[str, dict[str, Any]]  # (run id, config dict)
SINGLE_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
MAX_CHUNK = 16
#: Most local worker processes per CPU: more only adds processes competing for the cores.
WORKERS_PER_CPU = 4
#: Seconds to reach a Dask scheduler (and to wait for its first worker) before giving up.
CONNECT_TIMEOUT = 20.0
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


class WorkerLostError(RuntimeError):
    """A worker process or the cluster failed (not a run: the run itself never raises)."""


class Source(Protocol):
    """Where an executor takes its runs from, a chunk at a time (e.g. the claims of a
    sweep on a shared store)."""

    def take(self, n: int) -> list[Item]:
        """Up to ``n`` more items; an empty list when there are none left."""

    def left(self) -> int:
        """An upper bound on the items still to come."""


class ListSource:
    """A :class:`Source` over a list."""

    def __init__(self, items: list[Item]):
        self.items, self.i = items, 0

    def take(self, n: int) -> list[Item]:
        out = self.items[self.i : self.i + n]
        self.i += len(out)
        return out

    def left(self) -> int:
        return len(self.items) - self.i


def max_workers() -> int:
    """The most local worker processes a sweep may start on this machine."""
    return WORKERS_PER_CPU * (os.cpu_count() or 1)


def check_workers(workers: int) -> int:
    """``workers`` if it is a sane number of local processes.

    Raises:
        ConfigError: below 1, or more than :func:`max_workers`.
    """
    from simrl.config import ConfigError

    if workers < 1:
        raise ConfigError(f"--workers {str(workers)[:20]}: must be at least 1")
    if workers > max_workers():
        raise ConfigError(
            f"--workers {str(workers)[:20]}: at most {max_workers()} on this machine "
            f"({WORKERS_PER_CPU} per CPU, {os.cpu_count() or 1} CPUs)"
        )
    return workers


def check_scheduler(address: str) -> str:
    """``address`` if it looks like a Dask scheduler address (``tcp://HOST:PORT``).

    Raises:
        ConfigError: another form, or a port outside 1..65535.
    """
    from simrl.config import ConfigError

    bad = ConfigError(f"--scheduler {address[:80]!r}: expected tcp://HOST:PORT (port 1-65535)")
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in SCHEMES:
        raise bad
    if scheme == "inproc":
        return address
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise bad
    return address


class SchedulerError(RuntimeError):
    """The Dask scheduler could not be reached, or has no workers."""


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


def chunk_size(left: int, slots: int, max_chunk: int = MAX_CHUNK) -> int:
    """Guided chunking: a quarter of a slot's share of what is left (at most ``max_chunk``,
    at least 1), so chunks shrink to single runs at the end and the slots finish together."""
    return min(max_chunk, max(1, math.ceil(left / (4 * slots))))


def chunks(items: list[Item], slots: int, max_chunk: int = MAX_CHUNK) -> list[list[Item]]:
    """``items`` cut by :func:`chunk_size`: large chunks first, single runs at the end."""
    out, i = [], 0
    while i < len(items):
        size = chunk_size(len(items) - i, slots, max_chunk)
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
            self.client = _connect(check_scheduler(self.scheduler))
            self.pool = self.client.get_executor(pure=False)
            self.slots = max(1, sum(self.client.nthreads().values()))
        elif self.workers > 1:
            self.pool = cf.ProcessPoolExecutor(
                max_workers=check_workers(self.workers),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
            self.slots = self.workers
        return self

    def results(self, items: list[Item] | Source) -> Iterator[dict[str, Any]]:
        """Run ``items`` (a list, or a :class:`Source` asked for a chunk whenever a slot
        frees up); yield each result as soon as its chunk is back.

        Raises:
            WorkerLostError: a worker process died or the cluster went away.
        """
        source = ListSource(items) if isinstance(items, list) else items
        if self.pool is None:
            while chunk := source.take(1):
                yield from self.task(chunk)
            return
        pending: set[cf.Future] = set()

        def fill() -> None:  # one chunk per slot and one queued, so no slot waits
            while len(pending) <= self.slots:
                chunk = source.take(chunk_size(source.left(), self.slots))
                if not chunk:
                    return
                pending.add(self._submit(chunk))
                self.futures |= pending

        fill()
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for f in done:
                try:
                    yield from f.result()
                except Exception as exc:
                    raise WorkerLostError(f"{type(exc).__name__}: {exc}") from exc
            fill()

    def _submit(self, chunk: list[Item]) -> cf.Future:
        """Submit one chunk. A local pool may start a worker process here: it starts with
        SIGINT ignored, so a Ctrl-C while it boots reaches only this process (which stops
        the sweep) instead of printing the worker's start-up traceback."""
        assert self.pool is not None
        local = isinstance(self.pool, cf.ProcessPoolExecutor)
        if not local or threading.current_thread() is not threading.main_thread():
            return self.pool.submit(self.task, chunk)
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return self.pool.submit(self.task, chunk)
        finally:
            signal.signal(signal.SIGINT, old)

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


def _connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` with at least one worker, within
    :data:`CONNECT_TIMEOUT` seconds each.

    Raises:
        ConfigError: Dask is not installed.
        SchedulerError: the scheduler cannot be reached, does not answer, or has no worker.
    """
    import logging

    try:
        from distributed import Client
    except ImportError:
        from simrl.config import ConfigError

        raise ConfigError("--scheduler needs Dask: pip install 'simrl[dask]'") from None
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.CRITICAL)  # the reason goes into the one-line error instead
    client = None
    try:
        if address.startswith("tcp://"):
            _probe(address)
        client = _bounded(lambda: Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False))
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        return client
    except Exception as exc:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=2)
        what = "no worker joined" if client is not None else "cannot connect"
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise SchedulerError(
            f"--scheduler {address}: {what} within {CONNECT_TIMEOUT:g} s ({reason})"
        ) from None
    finally:
        log.setLevel(level)


def _probe(address: str) -> None:
    """Connect to a ``tcp://`` scheduler and wait for the first bytes of its handshake (a
    Dask server speaks first), so a port that accepts but never answers fails in time."""
    import socket

    host, _, port = address[len("tcp://") :].rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT) as sock:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            first = sock.recv(1)
        except TimeoutError:
            raise TimeoutError("connected, but it sent nothing") from None
        if not first:
            raise ConnectionError("connected, but it closed the connection")


def _bounded(make: Callable[[], Any]) -> Any:
    """``make()`` in a daemon thread, given up after twice :data:`CONNECT_TIMEOUT`."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = make()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(2 * CONNECT_TIMEOUT)
    if t.is_alive():
        raise TimeoutError("no answer")
    if "error" in box:
        raise box["error"]
    return box["value"]
