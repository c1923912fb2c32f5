"""The ``simrl`` command line's arguments (argparse), with no import beyond the standard
library, so that ``simrl --help`` is instant."""

from __future__ import annotations

import argparse
import os

from simrl import __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``simrl`` argument parser: a subcommand each (run, sweep, experiment, export,
    plot, findings)."""
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
