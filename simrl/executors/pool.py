"""The executor of a sweep: runs in this process, in local worker processes (``spawn``), or
on a Dask cluster, all through the ``concurrent.futures`` interface, handed out in chunks
that shrink towards the end so that the workers finish together."""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from simrl.executors.cluster import check_scheduler, connect
from simrl.executors.tasks import SINGLE_THREAD_ENV, Item, run_chunk

MAX_CHUNK = 16
#: Most local worker processes per CPU: more only adds processes competing for the cores.
WORKERS_PER_CPU = 4


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
            self.client = connect(check_scheduler(self.scheduler))
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
