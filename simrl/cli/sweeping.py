"""Running the runs of a sweep that a store does not hold yet: claimed in the store, run by
local workers or a Dask cluster, stored as they finish, resumable after an interruption."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from simrl.cli.codes import EXIT_FAILED, EXIT_INTERRUPTED
from simrl.config import ConfigError


def _describe_run(point: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items())


class _Claimed:
    """The runs of a sweep as a :class:`simrl.executors.Source`: each chunk is claimed in
    the store first, so concurrent sweeps on one store split the work."""

    def __init__(self, claims: Any, configs: dict[str, dict]):
        self.claims, self.configs = claims, configs

    def take(self, n: int) -> list[tuple[str, dict]]:
        return [(rid, self.configs[rid]) for rid in self.claims.take(n)]

    def left(self) -> int:
        return self.claims.left()


def run_sweep(
    runs: list,
    db: Path,
    workers: int | None,
    scheduler: str | None,
    dry_run: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
) -> int:
    """Run what the store at ``db`` does not hold of ``runs``; the exit code of a sweep.

    Everything is checked before the store is created or written: the arguments, the
    store file and, with ``scheduler``, the connection to the cluster.
    """
    import time
    from collections import Counter

    from simrl import store
    from simrl.executors import check_scheduler, check_workers

    if workers is not None and scheduler:
        raise ConfigError("--workers and --scheduler: give one (Dask decides its workers)")
    if workers is not None:
        check_workers(workers)
    if scheduler:
        check_scheduler(scheduler)
    status: dict[str, str] = {}
    claimed: dict[str, str] = {}
    if store.check_file(db):  # a foreign or incompatible file fails here, untouched
        conn = store.open_store(db, readonly=True)
        try:
            status = dict(conn.execute("SELECT id, status FROM runs"))
            claimed = store.live_claims(conn)
        finally:
            conn.close()
    redo = ("failed", "diverged") if retry_failed else ()
    todo = [r for r in runs if r.id not in status or status[r.id] in redo]
    n_stored = sum(r.id in status for r in runs)
    if dry_run:
        for r in runs:
            state = status.get(r.id, "running" if r.id in claimed else "to run")
            state = "to run" if r.id in status and status[r.id] in redo else state
            print(f"{r.id[:12]}  {state:<8}  {_describe_run(r.point)}")
        print(f"{len(runs)} runs in the sweep: {n_stored} stored, {len(todo)} to run")
        return 0
    if not todo:  # nothing to write: a read-only store is fine
        print(f"{len(runs)} runs in the sweep: {n_stored} were stored, ran 0; {db}")
        return 0
    store.check_file(db, write=True)
    from tqdm import tqdm

    from simrl.executors import Executor, WorkerLostError, warm_up

    workers = min(workers or os.cpu_count() or 1, len(todo))
    counts: Counter[str] = Counter()
    t0 = time.perf_counter()
    conn = claims = bar = None
    try:
        if workers > 1 and not scheduler:
            warm_up([r.config.to_dict() for r in todo])  # compile once, before the workers
        with Executor(workers, scheduler) as ex:  # reach the cluster before the store
            conn = store.open_store(db)
            claims = store.Claims(conn, [r.id for r in todo], redo)
            configs = {r.id: r.config.to_dict() for r in todo}
            bar = tqdm(
                total=len(todo), unit="run", desc="simrl sweep", disable=not progress or None
            )
            for result in ex.results(_Claimed(claims, configs)):
                store.write_run(conn, result)
                counts[result["status"]] += 1
                bar.update(1)
                bar.set_postfix(failed=counts["failed"], diverged=counts["diverged"])
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(
            f"simrl: interrupted: {sum(counts.values())} runs stored, "
            f"{len(todo) - sum(counts.values())} not run (run the same command to resume)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except WorkerLostError as exc:
        if bar is not None:
            bar.close()
        print(f"simrl: error: worker lost ({exc}); finished runs are stored", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if claims is not None:
            claims.release()
        if conn is not None:
            store.close_store(conn)
    bar.close()
    ran = sum(counts.values())
    others = f"; {claims.skipped} taken by another sweep" if claims.skipped else ""
    print(
        f"{len(runs)} runs in the sweep: {n_stored} were stored, ran {ran} "
        f"({counts['ok']} ok, {counts['failed']} failed, {counts['diverged']} diverged) "
        f"in {time.perf_counter() - t0:.1f}s{others}; {db}"
    )
    return 0
