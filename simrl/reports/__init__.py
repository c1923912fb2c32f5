"""Reports of ``simrl experiment``: one module per experiment, each with a function
``report(runs, out) -> str`` that writes its figures into ``out`` and returns the Markdown
of its numbers (also written to ``out/report.md``).

``runs`` are the stored runs of the experiment's spec (:func:`read_store`): dicts with
``id``, ``config`` (nested), ``status``, ``summary``, ``curve`` (list of points) and
``extras`` (``rm_history``, ``length_dist``).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simrl.config import ConfigError

Report = Callable[[list[dict[str, Any]], Path], str]


def available() -> list[str]:
    """Names of the reports (modules of this package)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load_report(name: str) -> Report:
    """The ``report`` function of ``simrl.reports.<name>``.

    Raises:
        ConfigError: no such report.
    """
    if name not in available():
        raise ConfigError(f"report = {name!r}: unknown (known: {', '.join(available())})")
    return importlib.import_module(f"simrl.reports.{name}").report


def read_store(db: str | Path, ids: set[str] | None = None) -> list[dict[str, Any]]:
    """The runs of a store (only ``ids`` if given) with their curves attached."""
    from simrl import store

    conn = store.open_store(db, readonly=True)
    try:
        runs = store.read_runs(conn)
        curves = store.read_curves(conn)
    finally:
        conn.close()
    runs = [r for r in runs if ids is None or r["id"] in ids]
    for r in runs:
        r["curve"] = curves.get(r["id"], [])
        r["flat"] = dict(store.flatten(r["config"]))
    return runs
