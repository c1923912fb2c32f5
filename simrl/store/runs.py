"""Writing a run (its ``runs`` row and all its ``curve`` rows in one transaction, so a
sweep killed at any moment leaves whole runs only) and reading runs and curves back."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Any

from simrl.store.schema import CURVE_FIELDS, SUMMARY_COLUMNS, VERSION_FIELDS


def stored_ids(conn: sqlite3.Connection, status: str | None = None) -> set[str]:
    """Ids of the stored runs (of one ``status`` if given)."""
    if status is None:
        return {r[0] for r in conn.execute("SELECT id FROM runs")}
    return {r[0] for r in conn.execute("SELECT id FROM runs WHERE status = ?", (status,))}


def _real(x: Any) -> Any:
    """Floats for SQLite REAL columns: NaN and infinities are stored as NULL."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def write_run(conn: sqlite3.Connection, result: dict[str, Any]) -> None:
    """Store one run result (as returned by :func:`simrl.executors.run_one`) in one
    transaction, replacing a stored run of the same id and dropping its claim."""
    summary = result.get("summary") or {}
    timing = result.get("timing") or {}
    row = {
        "id": result["id"],
        "config": json.dumps(result["config"], sort_keys=True, separators=(",", ":")),
        "seed": result["config"]["seed"],
        "status": result["status"],
        "error": result.get("error"),
        "summary": json.dumps(summary) if result["status"] == "ok" else None,
        **{k: _real(summary.get(k)) for k in SUMMARY_COLUMNS},
        "timing": json.dumps(timing),
        "extras": json.dumps(result.get("extras") or {}),
        "seconds": timing.get("wall"),
        **{k: result.get(k) for k in VERSION_FIELDS},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    points = [
        (result["id"], *(_real(p.get(k)) for k in CURVE_FIELDS), p.get("n_samples"))
        for p in result.get("curve") or []
    ]
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM runs WHERE id = ?", (row["id"],))
        conn.execute(
            f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )
        marks = ", ".join("?" * (len(CURVE_FIELDS) + 2))
        conn.executemany(f"INSERT INTO curve VALUES ({marks})", points)
        conn.execute("DELETE FROM claims WHERE id = ?", (row["id"],))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def read_runs(conn: sqlite3.Connection, status: str | None = None) -> list[dict[str, Any]]:
    """Stored runs as dicts (``config``, ``summary``, ``timing`` and ``extras`` (the proxy's
    fit history and the length distributions of :class:`simrl.experiment.RunResult`)
    decoded), by id."""
    conn.row_factory = sqlite3.Row
    try:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = [dict(r) for r in conn.execute(f"SELECT * FROM runs {where} ORDER BY id", args)]
    finally:
        conn.row_factory = None
    for r in rows:
        for k in ("config", "summary", "timing", "extras"):
            r[k] = json.loads(r[k]) if r[k] is not None else None
    return rows


def read_curves(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every stored curve by run id, points in step order (NULL reals read back as NaN)."""
    curves: dict[str, list[dict[str, Any]]] = {}
    cols = ", ".join(CURVE_FIELDS)
    for row in conn.execute(f"SELECT run_id, {cols}, n_samples FROM curve ORDER BY run_id, step"):
        point = {
            k: (math.nan if v is None else v) for k, v in zip(CURVE_FIELDS, row[1:-1], strict=True)
        }
        point["n_samples"] = row[-1]
        curves.setdefault(row[0], []).append(point)
    return curves
