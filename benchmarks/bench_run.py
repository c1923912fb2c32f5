"""Time the default ``simrl run``: phase by phase warm, and cold (empty Numba cache).

Usage: ``python benchmarks/bench_run.py [--repeats N]``

* warm, in process: the median over repeats of each phase of ``simrl.experiment.run``
  (after one untimed run that loads the compiled kernels);
* warm and cold, whole command: wall time of ``simrl run --no-plot`` in a fresh process,
  with the Numba cache populated (warm) or pointed at an empty directory (cold, so every
  kernel compiles), and of ``simrl --help``;
* the peak resident memory of one warm ``simrl run --no-plot`` process.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of one run of ``cmd`` (its own rusage, Linux units of KiB)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return usage.ru_maxrss / 1024


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    from simrl.config import Config
    from simrl.experiment import run

    run(Config())  # load (or compile) the kernels
    phases: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for k, v in run(Config()).timing.items():
            phases.setdefault(k, []).append(v)

    out = tempfile.mkdtemp()
    simrl_run = [sys.executable, "-m", "simrl.cli", "run", "--no-plot", "--out", out]
    env = dict(os.environ)
    warm_cmd = statistics.median(wall(simrl_run, env) for _ in range(args.repeats))
    help_cmd = statistics.median(
        wall([sys.executable, "-m", "simrl.cli", "--help"], env) for _ in range(args.repeats)
    )
    colds = []
    for _ in range(max(1, args.repeats // 2)):
        with tempfile.TemporaryDirectory() as cache:
            colds.append(wall(simrl_run, {**env, "NUMBA_CACHE_DIR": cache}))
    cold_cmd = statistics.median(colds)
    peak = peak_rss_mb(simrl_run, env)

    print(
        f"# default simrl run -- {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {args.repeats}"
    )
    print(f"{'phase (in process, warm)':<34}{'seconds':>10}")
    for k, v in phases.items():
        print(f"{k:<34}{statistics.median(v):>10.3f}")
    print()
    print(f"{'whole command (fresh process)':<34}{'seconds':>10}")
    print(f"{'simrl run, warm Numba cache':<34}{warm_cmd:>10.3f}")
    print(f"{'simrl run, cold (empty cache)':<34}{cold_cmd:>10.3f}")
    print(f"{'simrl --help':<34}{help_cmd:>10.3f}")
    print()
    print(f"{'peak memory of simrl run (MB)':<34}{peak:>10.1f}")


if __name__ == "__main__":
    main()
