"""Command line: ``simrl run``.

Only the standard library and :mod:`simrl.config` load at start-up; NumPy, Numba and
matplotlib load when a command needs them, so ``simrl --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from simrl import __version__
from simrl.config import ConfigError, load

EXIT_USAGE = 2
EXIT_DIVERGED = 3


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
    return p


def format_table(result) -> str:
    """The curve and summary as aligned text."""
    head = f"{'step':>6} {'kl':>8} {'sqrt_kl':>8} {'proxy':>8} {'gold':>8} {'±se':>6} {'length':>7}"
    lines = [head, "-" * len(head)]
    for p in result.curve:
        lines.append(
            f"{p['step']:>6d} {p['kl']:>8.3f} {p['sqrt_kl']:>8.3f} "
            f"{p['proxy']:>8.3f} {p['gold']:>8.3f} {p['gold_se']:>6.3f} "
            f"{p['length']:>7.2f}"
        )
    s = result.summary
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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def cmd_run(args: argparse.Namespace) -> int:
    """``simrl run``: validate, run, print, write the plot and run.json."""
    cfg = load(args.config, args.overrides)  # validation happens before any work
    from simrl.errors import DivergenceError
    from simrl.experiment import run

    try:
        result = run(cfg)
    except DivergenceError as exc:
        print(f"simrl: diverged: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(result.to_dict(), indent=1)
    _write_atomic(out / "run.json", payload)
    if not args.no_plot:
        from simrl.plots import plot_curve

        plot_curve(result, out / "curve.png")
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(format_table(result))
        print(f"wrote {out / 'run.json'}" + ("" if args.no_plot else f" and {out / 'curve.png'}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``simrl`` console script."""
    args = _parser().parse_args(argv)
    try:
        return {"run": cmd_run}[args.command](args)
    except ConfigError as exc:
        print(f"simrl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
