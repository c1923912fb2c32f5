"""Time ``simrl sweep`` on the default world: serially and with worker processes.

Usage: ``python benchmarks/bench_sweep.py [--runs 200] [--workers 2]``

The sweep varies only ``seed`` (0 .. runs-1) of the default config. Each mode is the whole
command in a fresh process (spec expansion, warm-up, workers' start-up, SQLite writes)
into a fresh store, with the Numba cache already warm. The table gives runs per second and
the parallel efficiency (speed-up / workers); the two stores are then checked to hold
bit-identical curves and summaries.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep(spec: Path, db: Path, workers: int) -> float:
    cmd = [sys.executable, "-m", "simrl.cli", "sweep", str(spec), "--db", str(db)]
    t = time.perf_counter()
    subprocess.run([*cmd, "--workers", str(workers), "--no-progress"], check=True)
    return time.perf_counter() - t


def contents(db: Path) -> tuple[list, list]:
    conn = sqlite3.connect(db)
    runs = conn.execute("SELECT id, status, summary FROM runs ORDER BY id").fetchall()
    curve = conn.execute("SELECT * FROM curve ORDER BY run_id, step").fetchall()
    conn.close()
    return runs, curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    spec = tmp / "seeds.toml"
    spec.write_text(f"[grid]\nseed = {list(range(args.runs))}\n")
    warm = tmp / "warm.toml"
    warm.write_text("[grid]\nseed = [0]\n[base.policy]\nsteps = 20\neval_every = 10\n")
    sweep(warm, tmp / "warm.sqlite", 1)  # populate the Numba cache
    serial = sweep(spec, tmp / "serial.sqlite", 1)
    parallel = sweep(spec, tmp / "parallel.sqlite", args.workers)
    same = contents(tmp / "serial.sqlite") == contents(tmp / "parallel.sqlite")
    speedup = serial / parallel
    print(
        f"\nsimrl sweep, {args.runs} default-world runs (seed 0..{args.runs - 1}), "
        f"{os.cpu_count()}-core {platform.machine()}, Python {platform.python_version()}\n"
    )
    print(f"{'mode':<22}{'seconds':>9}{'runs/s':>9}{'speed-up':>10}{'efficiency':>12}")
    print(f"{'serial (--workers 1)':<22}{serial:>9.1f}{args.runs / serial:>9.2f}{1.0:>10.2f}")
    print(
        f"{f'--workers {args.workers}':<22}{parallel:>9.1f}{args.runs / parallel:>9.2f}"
        f"{speedup:>10.2f}{speedup / args.workers:>12.2f}"
    )
    print(f"\nstores bit-identical (curves and summaries): {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
