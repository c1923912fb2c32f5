"""Command line: ``simrl run``, ``simrl sweep``, ``simrl export``, ``simrl plot``.

Only the standard library and :mod:`simrl.config` load at start-up; NumPy, Numba and
matplotlib load when a command needs them, so ``simrl --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from simrl import __version__
from simrl.config import ConfigError, load

EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simrl",
        description="Reward-model over-optimization on a laptop: fit a proxy reward model "
        "to gold preferences, optimize a token policy against it, and watch "
        "gold and proxy reward against sqrt(KL).",
    )
    p.add_argument("--version", action="version", version=f"simrl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run",
        help="run one experiment and print its curve",
        description="Run one over-optimization experiment. Every config "
        "field is listed in docs/configuration.md.",
    )
    r.add_argument("--config", metavar="FILE.toml", help="TOML file with config sections")
    r.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one field, e.g. --set policy.kl_coef=0.05 (repeatable)",
    )
    r.add_argument(
        "--out",
        default="simrl-out",
        metavar="DIR",
        help="directory for curve.png and run.json (default: ./simrl-out)",
    )
    r.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (config, curve, summary, timing) instead of the table",
    )
    r.add_argument("--no-plot", action="store_true", help="do not write curve.png")
    _sweep_parsers(sub)
    _findings_parser(sub)
    return p


def _sweep_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "sweep",
        help="run every config of a sweep spec into an SQLite store (resumable)",
        description="Expand a sweep spec (docs/sweeps.md) into configs, validate them all, "
        "and run those not yet in the store. Killed or interrupted, the same command resumes.",
    )
    s.add_argument("spec", metavar="SPEC.toml", help="sweep spec: base config, grid, random")
    s.add_argument("--db", required=True, metavar="FILE.sqlite", help="results store")
    s.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"local worker processes (default: {os.cpu_count()}, the CPUs; 1 = in process)",
    )
    s.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler instead"
    )
    s.add_argument("--dry-run", action="store_true", help="list the runs; run nothing")
    s.add_argument(
        "--retry-failed", action="store_true", help="run stored failed and diverged runs again"
    )
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    x = sub.add_parser(
        "experiment",
        help="run an experiment spec and write its report (figures, tables)",
        description="Run the sweep of an experiment spec (examples/experiments/) into "
        "OUT/runs.sqlite (resumable), then write the spec's report into OUT: figures and "
        "report.md with the numbers. docs/experiments/ shows each one.",
    )
    x.add_argument("spec", metavar="SPEC.toml", help="experiment spec: a sweep spec + report")
    x.add_argument("--out", required=True, metavar="DIR", help="directory for the report")
    x.add_argument("--workers", type=int, metavar="N", help="local worker processes")
    x.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = sub.add_parser("export", help="write a store as one row per run (CSV or Parquet)")
    e.add_argument("db", metavar="FILE.sqlite")
    e.add_argument("--format", choices=("csv", "parquet"), default="csv")
    e.add_argument("--out", required=True, metavar="PATH")
    pl = sub.add_parser(
        "plot",
        help="gold-vs-sqrt(KL) curves and peak/over-optimization of a store",
        description="Write curves.png (mean gold ± SE over seeds per group, with the Gao "
        "et al. fit) and summary.png (peak gold and over-optimization against --x).",
    )
    pl.add_argument("db", metavar="FILE.sqlite")
    pl.add_argument("--out", required=True, metavar="DIR")
    pl.add_argument(
        "--by",
        action="append",
        metavar="FIELD",
        help="config field to group by (repeatable; default: every field that varies, except seed)",
    )
    pl.add_argument(
        "--x", metavar="FIELD", help="x axis of summary.png (default: first numeric --by)"
    )


def format_table(result) -> str:
    """The curve and summary as aligned text."""
    head = (
        f"{'step':>6} {'kl':>8} {'sqrt_kl':>8} {'proxy':>8} {'±se':>6} {'gold':>8} {'±se':>6} "
        f"{'length':>7}"
    )
    lines = [head, "-" * len(head)]
    for p in result.curve:
        lines.append(
            f"{p['step']:>6d} {p['kl']:>8.3f} {p['sqrt_kl']:>8.3f} "
            f"{p['proxy']:>8.3f} {p['proxy_se']:>6.3f} {p['gold']:>8.3f} {p['gold_se']:>6.3f} "
            f"{p['length']:>7.2f}"
        )
    s = result.summary
    if all(p["gold_se"] == 0.0 for p in result.curve):
        lines += ["(gold and length are exact expectations; the proxy is a Monte Carlo mean)"]
    held = "n/a" if s["rm_heldout_acc"] is None else f"{s['rm_heldout_acc']:.3f}"
    lines += [
        "",
        f"gold peak {s['peak_gold']:.3f} at sqrt_kl {s['peak_sqrt_kl']:.3f} (step "
        f"{s['peak_step']}); final gold {s['final_gold']:.3f}, final proxy "
        f"{s['final_proxy']:.3f}; over-optimization {s['overoptimization']:.3f}",
        f"proxy accuracy: train {s['rm_train_acc']:.3f}, test {s['rm_test_acc']:.3f}, "
        f"held-out prompts {held} (best possible {s['rm_bayes_acc']:.3f})",
        "timing: " + ", ".join(f"{k} {v:.2f}s" for k, v in result.timing.items()),
    ]
    return "\n".join(lines)


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None, so its JSON is valid (``null``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def to_json(obj: Any, indent: int | None = None) -> str:
    """Strict JSON (no bare NaN or Infinity: non-finite numbers become ``null``)."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


RUN_FILES = ("run.json", "curve.png", "lengths.png")


def cmd_run(args: argparse.Namespace) -> int:
    """``simrl run``: validate, run, print, write the plot and run.json."""
    from simrl.outputs import check_out_dir, write_text

    cfg = load(args.config, args.overrides)  # validation happens before any work
    out = check_out_dir(args.out, "--out", RUN_FILES)  # so is the output directory
    from simrl.errors import DivergenceError
    from simrl.experiment import run

    try:
        result = run(cfg)
    except DivergenceError as exc:
        print(f"simrl: diverged: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    out.mkdir(parents=True, exist_ok=True)
    payload = result.to_dict()
    written = [write_text(out / "run.json", to_json(payload, indent=1))]
    if not args.no_plot:
        from simrl.plots import plot_curve, plot_lengths

        written.append(plot_curve(result, out / "curve.png"))
        lengths = plot_lengths(result, out / "lengths.png")
        if lengths is not None:
            written.append(lengths)
    if args.json:
        print(to_json(payload))
    else:
        print(format_table(result))
        print("wrote " + ", ".join(str(w) for w in written))
    return 0


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


def _sweep(
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


def cmd_sweep(args: argparse.Namespace) -> int:
    """``simrl sweep``: validate every config, then run what the store does not hold."""
    from simrl.sweep import load_spec

    runs = load_spec(args.spec)  # every resolved config is validated before any work
    return _sweep(
        runs,
        Path(args.db),
        args.workers,
        args.scheduler,
        args.dry_run,
        args.retry_failed,
        not args.no_progress,
    )


def cmd_experiment(args: argparse.Namespace) -> int:
    """``simrl experiment``: run a spec's sweep into OUT/runs.sqlite, then write its report
    (figures and report.md) into OUT."""
    from simrl.outputs import check_out_dir, write_text
    from simrl.reports import load_report, read_store
    from simrl.sweep import load_spec, read_spec

    spec = read_spec(args.spec)
    name = spec.get("report")
    if not isinstance(name, str):
        raise ConfigError(f'{args.spec}: needs report = "NAME" (one of simrl/reports/)')
    report = load_report(name)  # an unknown report fails before any run
    runs = load_spec(args.spec)
    out = check_out_dir(args.out, "--out", ["report.md"])
    db = out / "runs.sqlite"
    if os.path.lexists(db):
        from simrl import store

        store.check_file(db)  # a foreign file fails before anything is created
    out.mkdir(parents=True, exist_ok=True)
    code = _sweep(runs, db, args.workers, None, progress=not args.no_progress)
    if code != 0:
        return code
    stored = read_store(db, {r.id for r in runs})
    text = report(stored, out)
    write_text(out / "report.md", text)
    print(text)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``simrl export``: one row per run as CSV or Parquet."""
    from simrl import store
    from simrl.outputs import check_out_file

    conn = store.open_store(args.db, readonly=True)
    try:
        check_out_file(args.out, "--out", keep=[Path(args.db)])
        n = store.export(conn, args.format, args.out)
    finally:
        conn.close()
    print(f"wrote {n} runs to {args.out}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """``simrl plot``: curves.png and summary.png of the successful runs of a store."""
    from simrl import store
    from simrl.outputs import check_out_dir

    conn = store.open_store(args.db, readonly=True)
    try:
        runs, curves = store.read_runs(conn, "ok"), store.read_curves(conn)
    finally:
        conn.close()
    out = check_out_dir(args.out, "--out", ["curves.png", "summary.png"])
    if not runs:
        raise ConfigError(f"{args.db}: no successful runs to plot")
    for r in runs:
        r["flat"] = dict(store.flatten(r["config"]))
    from simrl.config import Config

    order = [k for k, _ in store.flatten(Config().to_dict())]  # config order, as in export
    fields = [k for k in order if k in runs[0]["flat"]]
    for name in [*(args.by or []), *([args.x] if args.x else [])]:
        if name not in fields:
            raise ConfigError(f"{name}: unknown config field (e.g. seed, rm.lr, policy.kl_coef)")
    varying = [f for f in fields if len({json.dumps(r["flat"][f]) for r in runs}) > 1]
    by = args.by if args.by else [f for f in varying if f != "seed"]
    numeric = [f for f in by if all(isinstance(r["flat"][f], (int, float)) for r in runs)]
    x = args.x or (numeric[0] if numeric else None)
    from simrl.plots import plot_sweep_curves, plot_sweep_summary

    out.mkdir(parents=True, exist_ok=True)
    a = plot_sweep_curves(runs, curves, by, out / "curves.png")
    b = plot_sweep_summary(runs, by, x, out / "summary.png")
    print(f"wrote {a} and {b} ({len(runs)} runs, grouped by {', '.join(by) or 'nothing'})")
    return 0


def _findings_parser(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser(
        "findings",
        help="write docs/findings.md: every published finding with simrl's effect and verdict",
        description="Read the effects.json of every experiment page and write one table: "
        "per published finding, the paper's claim, simrl's effect across worlds, a verdict "
        "and the page.",
    )
    f.add_argument(
        "--docs",
        default="docs/experiments",
        metavar="DIR",
        help="directory with one PAGE/effects.json per page (default: docs/experiments)",
    )
    f.add_argument(
        "--out", default="docs/findings.md", metavar="FILE", help="default: docs/findings.md"
    )


def cmd_findings(args: argparse.Namespace) -> int:
    """``simrl findings``: docs/findings.md from the pages' effects.json."""
    from simrl.outputs import check_out_file, write_text
    from simrl.reports._findings import findings_markdown

    if not Path(args.docs).is_dir():
        raise ConfigError(f"--docs {args.docs}: not a directory")
    check_out_file(args.out, "--out")
    text = findings_markdown(Path(args.docs))
    write_text(args.out, text)
    print(text)
    return 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``simrl`` console script."""
    args = _parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "sweep": cmd_sweep,
        "experiment": cmd_experiment,
        "export": cmd_export,
        "plot": cmd_plot,
        "findings": cmd_findings,
    }
    try:
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"simrl: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the file system, SQLite or the cluster: one line, no trace
        import sqlite3

        from simrl.executors import SchedulerError

        if isinstance(exc, OSError) and exc.filename is not None:
            print(f"simrl: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        elif isinstance(exc, sqlite3.Error):
            where = getattr(args, "db", None) or getattr(args, "out", "")
            print(f"simrl: error: {where}: store error ({_one_line(exc)})", file=sys.stderr)
        elif isinstance(exc, SchedulerError):
            print(f"simrl: error: {_one_line(exc)}", file=sys.stderr)
        else:
            raise
        return EXIT_FAILED


def console() -> None:
    """The ``simrl`` program: :func:`main`, then exit with its code.

    After Ctrl-C the exit goes through ``os._exit`` (everything is stored and closed by
    then): CPython 3.11 marks a KeyboardInterrupt raised inside code run by ``exec`` of a
    string (Numba and dataclasses generate code that way) as unhandled even when it was
    caught, and would then end the process by SIGINT instead of exit code 130.
    """
    code = main()
    if code == EXIT_INTERRUPTED:
        # os._exit skips the interpreter's exit handlers; run multiprocessing's own (it
        # finalizes a worker pool's queues and unregisters their semaphores, else the
        # resource tracker reports them as leaked on stderr).
        from multiprocessing import util

        util._exit_function()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
