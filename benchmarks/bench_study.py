"""Time a study: N default-world runs varying ``seed`` and ``world.seed``, with 2 workers,
against an older commit measured side by side in the same invocation.

Usage: ``python benchmarks/bench_study.py [--runs 1000] [--workers 2] [--old 046b2b5]
[--blocks 2] [--quick]``

* The study is ``simrl sweep`` (:mod:`simrl.sweep`, :mod:`simrl.executors`) of a grid of
  ``runs / 10`` run seeds x 10 worlds, into a temporary SQLite store, one fresh command per
  block. The old commit is unpacked (``git archive``) into a temporary directory; each tree
  runs in subprocesses with ``PYTHONPATH`` pointing at it, its Numba cache warmed first.
  The run seeds are split into ``--blocks`` blocks and old and new alternate block by block
  (old 1, new 1, old 2, new 2, ...), so drifts of a shared machine hit both alike.
* In process: a fresh process per tree loads the kernels with one untimed run, then times
  ``simrl.experiment.run`` on configs of the study (``--sample`` of them), warm; old and new
  alternate over ``--repeats`` rounds; the mean over configs, median over rounds, is "one
  run in process".
* Overhead: the study's core-seconds per run (wall x workers / runs) against one run in
  process. Against the mean time of a run inside a worker (stored in ``timing.wall``) it
  splits into what lies outside the runs (process start-up, Numba loading, store writes,
  idle workers) and the runs slowing each other down on shared cores.
* Agreement: every gold value of the new store against the old one for the same
  ``(seed, world.seed)``, in units of the old standard error (``max |new - old| / SE``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine

ROOT = Path(__file__).resolve().parent.parent
WORLDS = 10
SINGLE_THREAD = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

IN_PROCESS = """
import json, sys, time
from simrl.config import Config
from simrl.experiment import run
pairs = json.loads(sys.argv[1])
run(Config().replace(**{"policy.steps": 20, "policy.eval_every": 10}))  # load the kernels
seconds = []
for seed, world in pairs:
    cfg = Config().replace(**{"seed": seed, "world.seed": world})
    t = time.perf_counter()
    run(cfg)
    seconds.append(time.perf_counter() - t)
print(json.dumps(seconds))
"""


def env_for(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def spec_file(path: Path, seeds: range) -> Path:
    path.write_text(f'[grid]\nseed = {list(seeds)}\n"world.seed" = {list(range(WORLDS))}\n')
    return path


def sweep(tree: Path, spec: Path, db: Path, workers: int, cwd: Path) -> float:
    """Wall seconds of one ``simrl sweep`` command run by ``tree``'s code."""
    cmd = [sys.executable, "-m", "simrl.cli", "sweep", str(spec), "--db", str(db)]
    cmd += ["--workers", str(workers), "--no-progress"]
    t = time.perf_counter()
    subprocess.run(cmd, env=env_for(tree), cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def in_process(tree: Path, pairs: list[tuple[int, int]], cwd: Path) -> float:
    """Mean seconds of a warm in-process run over ``pairs`` (run seed, world seed)."""
    out = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, json.dumps(pairs)],
        env=env_for(tree),
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return statistics.fmean(json.loads(out.stdout.splitlines()[-1]))


def stored(db: Path) -> tuple[dict[str, int], float, dict[tuple[int, int], dict]]:
    """Status counts, the mean in-worker seconds of a run (its stored ``timing.wall``) and,
    per (seed, world.seed), the gold normalization and the ``(step, gold, gold_se)`` rows."""
    conn = sqlite3.connect(db)
    status = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    keys, walls, runs = {}, [], {}
    for rid, text, summary, timing in conn.execute("SELECT id, config, summary, timing FROM runs"):
        cfg, summary = json.loads(text), json.loads(summary)
        keys[rid] = (cfg["seed"], cfg["world"]["seed"])
        walls.append(json.loads(timing)["wall"])
        runs[keys[rid]] = {"norm": (summary["gold_ref_mean"], summary["gold_ref_std"]), "curve": []}
    rows = conn.execute("SELECT run_id, step, gold, gold_se FROM curve ORDER BY run_id, step")
    for rid, step, gold, se in rows:
        runs[keys[rid]]["curve"].append((step, gold, se))
    conn.close()
    return status, statistics.fmean(walls), runs


def agreement(old: dict, new: dict, renormalize: bool) -> tuple[float, float, float, int]:
    """max |z|, RMS and mean of z = (new - old) / old SE over every gold point both stores
    hold. With ``renormalize`` the old values are first put on the new (exact) reference
    mean and SD, so that z measures the old Monte Carlo mean alone, without the sampling
    error of the old normalization (which its SE did not include)."""
    z = []
    for key in old.keys() & new.keys():
        (m0, sd0), (m1, sd1) = old[key]["norm"], new[key]["norm"]
        a, b = (sd0 / sd1, (m0 - m1) / sd1) if renormalize else (1.0, 0.0)
        for (t0, g0, s0), (t1, g1, _) in zip(old[key]["curve"], new[key]["curve"], strict=True):
            if t0 == t1 and s0 > 0:
                z.append((g1 - (a * g0 + b)) / (a * s0))
    if not z:
        return math.nan, math.nan, math.nan, 0
    rms = math.sqrt(statistics.fmean(v * v for v in z))
    return max(map(abs, z)), rms, statistics.fmean(z), len(z)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="runs in the study (x 10 worlds)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--old", default="046b2b5", help="commit to compare against")
    ap.add_argument("--blocks", type=int, default=2, help="alternating blocks per study")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of in-process timing")
    ap.add_argument("--sample", type=int, default=6, help="configs timed in process")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20 runs, one block")
    args = ap.parse_args()
    os.environ.update(SINGLE_THREAD)  # as the sweep's workers run
    if args.quick:
        args.runs, args.blocks, args.repeats, args.sample = 20, 1, 1, 2
    n_seeds = max(1, args.runs // WORLDS)
    runs = n_seeds * WORLDS
    blocks = [range(n_seeds)[b :: max(1, min(args.blocks, n_seeds))] for b in range(args.blocks)]
    blocks = [b for b in blocks if len(b)]
    with tempfile.TemporaryDirectory(prefix="bench_study_") as d:
        study(args, runs, n_seeds, blocks, Path(d))


def study(args: argparse.Namespace, runs: int, n_seeds: int, blocks: list, tmp: Path) -> None:
    """Run and print the benchmark in the scratch directory ``tmp``."""
    old_tree = tmp / "old"
    old_tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.old], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
    trees = {"old": old_tree, "new": ROOT}
    print(f"# study: {runs} default-config runs ({n_seeds} run seeds x {WORLDS} worlds), ", end="")
    print(f"--workers {args.workers}, {len(blocks)} alternating blocks")
    print(f"# old = {args.old} (git archive), new = the working tree {ROOT}")
    print(f"# {machine()}")

    warm = tmp / "warm.toml"
    warm.write_text("[grid]\nseed = [0]\n[base.policy]\nsteps = 20\neval_every = 10\n")
    for name, tree in trees.items():  # compile (old) or load (new) the Numba cache once
        sweep(tree, warm, tmp / f"warm-{name}.sqlite", 1, tmp)

    wall = {name: 0.0 for name in trees}
    for b, seeds in enumerate(blocks):
        spec = spec_file(tmp / f"block{b}.toml", seeds)
        for name, tree in trees.items():
            wall[name] += sweep(tree, spec, tmp / f"{name}.sqlite", args.workers, tmp)

    step = max(1, runs // args.sample)
    pairs = [(i // WORLDS, i % WORLDS) for i in range(0, runs, step)][: args.sample]
    single: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            single[name].append(in_process(tree, pairs, tmp))
    one = {name: statistics.median(v) for name, v in single.items()}

    status, worker, curves = {}, {}, {}
    for name in trees:
        status[name], worker[name], curves[name] = stored(tmp / f"{name}.sqlite")
    print(f"\n{'':<44}{'old':>9}{'new':>9}{'new/old':>10}")

    def row(label: str, old: float, new: float, fmt: str, ratio: float | None = None) -> None:
        r = "" if ratio is None else f"{ratio:>9.2f}x"
        print(f"{label:<44}{old:>9{fmt}}{new:>9{fmt}}{r:>10}")

    rate = {k: runs / v for k, v in wall.items()}
    per_run = {k: v * args.workers / runs for k, v in wall.items()}
    row("study wall time (s)", wall["old"], wall["new"], ".1f", wall["old"] / wall["new"])
    row("runs/s", rate["old"], rate["new"], ".2f", rate["new"] / rate["old"])
    row("core-seconds per run (wall x workers / runs)", per_run["old"], per_run["new"], ".3f")
    row("one run in process, warm (s)", one["old"], one["new"], ".3f", one["old"] / one["new"])
    row("one run inside a worker (s, stored)", worker["old"], worker["new"], ".3f")
    pct = {k: 100 * (per_run[k] / one[k] - 1) for k in trees}
    row("overhead vs in process (%)", pct["old"], pct["new"], ".1f")
    pct = {k: 100 * (per_run[k] / worker[k] - 1) for k in trees}
    row("  of it outside the runs (%)", pct["old"], pct["new"], ".1f")
    for name in trees:
        print(f"{name} store: {status[name].get('ok', 0)}/{runs} runs ok {status[name]}")
    for renorm, label in ((False, "as stored"), (True, "old values on the exact normalization")):
        zmax, zrms, zmean, n = agreement(curves["old"], curves["new"], renorm)
        print(
            f"gold, z = (new - old) / old SE over {n} points, {label}: "
            f"max |z| {zmax:.2f}, RMS {zrms:.2f}, mean {zmean:+.3f}"
        )
    print(
        "ratios > 1: new is faster. 'outside the runs': process start-up, Numba loading, "
        "store writes, idle workers; the rest of the overhead is the runs slowing each other "
        "(and anything else) on shared cores."
    )


if __name__ == "__main__":
    main()
