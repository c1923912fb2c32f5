"""Command line: ``simrl run``, ``sweep``, ``experiment``, ``export``, ``plot``, ``findings``.

Only the standard library and :mod:`simrl.config` load at start-up; NumPy, Numba and
matplotlib load when a command needs them, so ``simrl --help`` is instant.

Modules: ``parser`` (the arguments), ``commands`` (a function per subcommand), ``sweeping``
(running a sweep into its store), ``text`` (tables and JSON), ``codes`` (exit codes) and
``program`` (the entry point, :func:`console`, and :func:`main` to call it from Python).
"""

from simrl.cli.codes import EXIT_DIVERGED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from simrl.cli.parser import build_parser
from simrl.cli.program import console, main
from simrl.cli.text import format_table, to_json

__all__ = [
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "build_parser",
    "console",
    "format_table",
    "main",
    "to_json",
]
