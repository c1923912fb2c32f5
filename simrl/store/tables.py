"""A store as one flat row per run, written as CSV or Parquet."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simrl.config import Config, ConfigError
from simrl.outputs import write_atomic
from simrl.store.runs import read_runs
from simrl.store.schema import VERSION_FIELDS


def flatten(d: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``{"rm": {"lr": 0.1}}`` -> ``("rm.lr", 0.1)``."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flatten(v, f"{prefix}{k}.")
        else:
            yield prefix + k, v


def table(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """One flat row per run: id, status, error, versions, created, seconds, config fields by
    dotted name, then every summary key (nested ones by dotted name too)."""
    order = [k for k, _ in flatten(Config().to_dict())]
    rows = []
    for r in read_runs(conn):
        row = {k: r[k] for k in ("id", "status", "error", "created", "seconds", *VERSION_FIELDS)}
        config = dict(flatten(r["config"]))
        row.update({k: config.pop(k) for k in order if k in config} | config)
        for k, v in flatten(r["summary"] or {}):  # {"gold_at_sqrt_kl": {"1": g}} -> .1
            row[f"summary.{k}" if k in row else k] = v
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return [{c: row.get(c) for c in columns} for row in rows]


def _cell(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return json.dumps(v)
    return "" if v is None else v


def export(conn: sqlite3.Connection, fmt: str, out: str | Path) -> int:
    """Write :func:`table` as CSV or Parquet to ``out`` (atomically); return the row count.

    CSV writes floats with Python's shortest round-trip repr, booleans as true/false, lists
    as JSON, missing values as empty cells. Parquet needs pyarrow (``simrl[parquet]``).

    Raises:
        ConfigError: ``fmt`` is parquet and pyarrow is not installed.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: no such directory {out.parent}")
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError(
                "--format parquet needs pyarrow: pip install 'simrl[parquet]'"
            ) from None
    rows = table(conn)
    columns = list(rows[0]) if rows else ["id", "status"]
    if fmt == "parquet":
        data = {c: [r[c] for r in rows] for c in columns}
        for c, vals in data.items():  # a column of ints and floats becomes float
            if any(isinstance(v, float) for v in vals):
                data[c] = [float(v) if isinstance(v, int) else v for v in vals]
        write_atomic(out, lambda fh: pq.write_table(pa.table(data), fh))
    else:

        def write_csv(fh: Any) -> None:
            import io

            text = io.TextIOWrapper(fh, newline="", encoding="utf-8")
            w = csv.writer(text)
            w.writerow(columns)
            w.writerows([_cell(v) for v in r.values()] for r in rows)
            text.flush()
            text.detach()

        write_atomic(out, write_csv)
    return len(rows)
