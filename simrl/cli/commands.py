"""The ``simrl`` subcommands, one function each: they take the parsed arguments and return
the exit code. Each imports the heavy stack (NumPy, Numba, matplotlib) only when it runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from simrl.cli.codes import EXIT_DIVERGED
from simrl.cli.sweeping import run_sweep
from simrl.cli.text import format_table, to_json
from simrl.config import ConfigError, load

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


def cmd_sweep(args: argparse.Namespace) -> int:
    """``simrl sweep``: validate every config, then run what the store does not hold."""
    from simrl.sweep import load_spec

    runs = load_spec(args.spec)  # every resolved config is validated before any work
    return run_sweep(
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
    code = run_sweep(runs, db, args.workers, None, progress=not args.no_progress)
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
