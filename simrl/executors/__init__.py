"""Where the runs of a sweep execute: in this process, in local worker processes, or on a
Dask cluster, all through the ``concurrent.futures`` interface.

Workers receive ``(id, config dict)`` pairs in chunks and return plain result dicts; they
never touch the store. Each worker runs one Numba thread (``NUMBA_NUM_THREADS=1`` is set
before Numba loads) and BLAS single-threaded, so a run gives the same bits wherever it runs.
Local workers start with ``spawn``; the Numba cache is warmed in this process first, so
they load compiled kernels instead of compiling them side by side.

Modules: ``tasks`` (what a worker runs), ``pool`` (the :class:`Executor` and its chunks) and
``cluster`` (reaching a Dask scheduler). Import from ``simrl.executors`` itself.
"""

from simrl.executors.cluster import CONNECT_TIMEOUT, SchedulerError, check_scheduler
from simrl.executors.pool import (
    MAX_CHUNK,
    WORKERS_PER_CPU,
    Executor,
    ListSource,
    Source,
    WorkerLostError,
    check_workers,
    chunk_size,
    chunks,
    max_workers,
)
from simrl.executors.tasks import SINGLE_THREAD_ENV, Item, run_chunk, run_one, warm_up

__all__ = [
    "CONNECT_TIMEOUT",
    "MAX_CHUNK",
    "SINGLE_THREAD_ENV",
    "WORKERS_PER_CPU",
    "Executor",
    "Item",
    "ListSource",
    "SchedulerError",
    "Source",
    "WorkerLostError",
    "check_scheduler",
    "check_workers",
    "chunk_size",
    "chunks",
    "max_workers",
    "run_chunk",
    "run_one",
    "warm_up",
]
