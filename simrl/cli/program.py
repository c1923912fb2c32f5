"""The ``simrl`` program: parse, dispatch to a subcommand, and turn an expected failure into
one line on stderr and an exit code."""

from __future__ import annotations

import os
import sys

from simrl.cli.codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from simrl.cli.commands import (
    cmd_experiment,
    cmd_export,
    cmd_findings,
    cmd_plot,
    cmd_run,
    cmd_sweep,
)
from simrl.cli.parser import build_parser
from simrl.config import ConfigError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``simrl`` console script."""
    args = build_parser().parse_args(argv)
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
