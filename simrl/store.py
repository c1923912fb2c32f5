"""The SQLite results store of ``simrl sweep``: schema, one-transaction writes, reads, export.

Only coordinating processes write; each run (its ``runs`` row and all its ``curve`` rows)
goes in one transaction, so a sweep killed at any moment leaves whole runs only. Several
sweeps may share one store: each claims the runs it is about to start (table ``claims``,
one ``BEGIN IMMEDIATE`` transaction per claim), so they split the work; the claims of a
sweep that died are reclaimed (same host: its process is gone; another host: no sign of
life for :data:`CLAIM_TTL` seconds). A new store is built at a unique temporary name and
linked into place only if the name is still free, so two sweeps creating it at once
both end up using one whole store.

A file is accepted only if its SQLite header carries simrl's application id and a schema
version this simrl reads; both are read from the raw header before SQLite opens the file,
so a foreign or incompatible file is never modified.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simrl.config import Config, ConfigError
from simrl.outputs import create_exclusive, write_atomic
from simrl.sweep import SCHEMA_VERSION

#: Older schema versions that can still be read (export, plot); sweeps need SCHEMA_VERSION.
READABLE_VERSIONS = (2, SCHEMA_VERSION)
#: Seconds after which a claim of a sweep on another host, with no sign of life, lapses.
CLAIM_TTL = 3600.0

APPLICATION_ID = 0x73696D72  # "simr"
CURVE_FIELDS = (
    "step",
    "kl",
    "sqrt_kl",
    "proxy",
    "proxy_se",
    "gold",
    "gold_se",
    "length",
    "entropy",
    "entropy_per_token",
    "implicit_acc",
    "occupancy_chi2",
)
#: Scalar summary keys copied into typed columns of ``runs`` (all summary keys stay in JSON).
SUMMARY_COLUMNS = {
    "peak_gold": "REAL",
    "peak_sqrt_kl": "REAL",
    "peak_step": "INTEGER",
    "final_gold": "REAL",
    "final_proxy": "REAL",
    "final_sqrt_kl": "REAL",
    "overoptimization": "REAL",
    "fit_alpha": "REAL",
    "fit_beta": "REAL",
    "fit_r2": "REAL",
    "rm_train_acc": "REAL",
    "rm_test_acc": "REAL",
    "rm_heldout_acc": "REAL",
    "ndr": "REAL",
}
STATUSES = ("ok", "failed", "diverged")
VERSION_FIELDS = ("simrl_version", "numpy_version", "numba_version", "python_version")

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN {STATUSES!r}),
    error TEXT,
    summary TEXT,
    {", ".join(f"{k} {t}" for k, t in SUMMARY_COLUMNS.items())},
    timing TEXT,
    extras TEXT,
    seconds REAL,
    {", ".join(f"{k} TEXT" for k in VERSION_FIELDS)},
    created TEXT NOT NULL
);
CREATE TABLE curve (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    kl REAL, sqrt_kl REAL, proxy REAL, proxy_se REAL, gold REAL, gold_se REAL, length REAL,
    entropy REAL, entropy_per_token REAL, implicit_acc REAL, occupancy_chi2 REAL,
    n_samples INTEGER,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
CREATE TABLE sweeps (owner TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
                     beat REAL NOT NULL);
CREATE TABLE claims (id TEXT PRIMARY KEY, owner TEXT NOT NULL);
"""


def check_file(path: str | Path, write: bool = False) -> bool:
    """Whether ``path`` exists; if it does, it must be a simrl store this simrl can read
    (``write``: write) and, for ``write``, a writable file in a writable directory.

    Reads the 100-byte SQLite header only (``user_version`` at byte 60, ``application_id``
    at byte 68), so nothing is created or modified.

    Raises:
        ConfigError: the file is not a simrl database, has another schema version, or
            cannot be read (or written).
    """
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{path}: a symbolic link to a missing file")
    if not path.exists():
        if not path.parent.is_dir():
            raise ConfigError(f"{path}: no such directory {path.parent}")
        if write and not os.access(path.parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{path}: directory {path.parent} is not writable")
        return False
    if not path.is_file():
        raise ConfigError(f"{path}: not a simrl database (not a file)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
        raise ConfigError(f"{path}: not a simrl database (not an SQLite file)")
    version = int.from_bytes(head[60:64], "big")
    if int.from_bytes(head[68:72], "big") != APPLICATION_ID:
        raise ConfigError(f"{path}: not a simrl database (SQLite, but not written by simrl)")
    if version != SCHEMA_VERSION and (write or version not in READABLE_VERSIONS):
        raise ConfigError(
            f"{path}: written with store schema version {version}; this simrl "
            f"{'writes' if write else 'reads'} version {SCHEMA_VERSION} (use a new --db file)"
        )
    if write and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        raise ConfigError(f"{path}: read-only (the store and its directory must be writable)")
    return True


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        rows = dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError as exc:  # damaged, or the header without the tables
        conn.close()
        raise ConfigError(f"{path}: not a simrl database or damaged ({exc})") from None
    if rows.get("application") != "simrl":
        conn.close()
        raise ConfigError(f"{path}: not a simrl database (no simrl meta table)")
    return conn


def _build_store(tmp: Path) -> None:
    new = sqlite3.connect(tmp, isolation_level=None)
    try:
        new.executescript(
            f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
            f"BEGIN; {_SCHEMA} COMMIT;"
        )
        meta = {"application": "simrl", "schema_version": str(SCHEMA_VERSION)}
        meta["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        new.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    finally:
        new.close()


def open_store(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating it unless ``readonly``) a simrl store; WAL mode for writers.

    Raises:
        ConfigError: missing file (read-only), foreign or damaged file, another schema
            version, or (not ``readonly``) a store or directory that cannot be written.
    """
    path = Path(path)
    if not check_file(path, write=not readonly):
        if readonly:
            raise ConfigError(f"{path}: no such file")
        create_exclusive(path, _build_store)  # whole or not at all; never replaces
        check_file(path, write=True)  # whoever created it, it must be a store now
    conn = _connect(path, readonly)
    if not readonly:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as exc:
            conn.close()
            raise ConfigError(f"{path}: cannot write ({exc})") from None
    return conn


def close_store(conn: sqlite3.Connection) -> None:
    """Close a writer, leaving the file in rollback-journal mode when no one else has it
    open, so later read-only opens need (and create) no ``-wal``/``-shm`` files."""
    with contextlib.suppress(sqlite3.OperationalError):  # another reader: WAL stays, as safe
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


def stored_ids(conn: sqlite3.Connection, status: str | None = None) -> set[str]:
    """Ids of the stored runs (of one ``status`` if given)."""
    if status is None:
        return {r[0] for r in conn.execute("SELECT id FROM runs")}
    return {r[0] for r in conn.execute("SELECT id FROM runs WHERE status = ?", (status,))}


def _real(x: Any) -> Any:
    """Floats for SQLite REAL columns: NaN and infinities are stored as NULL."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _alive(host: str, pid: int, beat: float, now: float) -> bool:
    """Whether the sweep that wrote a ``sweeps`` row may still be running."""
    if host != socket.gethostname():
        return now - beat < CLAIM_TTL
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to another user
        return True
    return True


def live_claims(conn: sqlite3.Connection) -> dict[str, str]:
    """Run id -> owner of every claim held by a sweep that may still be running."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'claims'").fetchone():
        return {}  # a store of an older schema version: no claims
    now = time.time()
    owners = {o for o, h, p, b in conn.execute("SELECT * FROM sweeps") if _alive(h, p, b, now)}
    return {i: o for i, o in conn.execute("SELECT id, owner FROM claims") if o in owners}


class Claims:
    """The claims of one sweep on a store it has open for writing.

    Args:
        conn: A writable connection.
        ids: The run ids this sweep would run, in order.
        redo: Stored statuses that do not count as done (``--retry-failed``).
    """

    def __init__(self, conn: sqlite3.Connection, ids: list[str], redo: tuple[str, ...] = ()):
        self.conn, self.ids, self.redo = conn, ids, redo
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.next = 0  # ids before this one were claimed, or found done or taken
        self.skipped = 0  # found stored or claimed by another live sweep

    def left(self) -> int:
        """Ids not looked at yet (an upper bound on what :meth:`take` can still return)."""
        return len(self.ids) - self.next

    def take(self, n: int) -> list[str]:
        """Claim up to ``n`` more runs that are neither stored (as done) nor claimed by a
        live sweep, in one transaction; first drop the claims of dead sweeps."""
        c, out = self.conn, []
        c.execute("BEGIN IMMEDIATE")
        try:
            now = time.time()
            for owner, host, pid, beat in c.execute("SELECT * FROM sweeps").fetchall():
                if owner != self.owner and not _alive(host, pid, beat, now):
                    c.execute("DELETE FROM claims WHERE owner = ?", (owner,))
                    c.execute("DELETE FROM sweeps WHERE owner = ?", (owner,))
            c.execute(
                "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?)",
                (self.owner, socket.gethostname(), os.getpid(), now),
            )
            while len(out) < n and self.next < len(self.ids):
                rid = self.ids[self.next]
                self.next += 1
                row = c.execute("SELECT status FROM runs WHERE id = ?", (rid,)).fetchone()
                taken = c.execute("SELECT 1 FROM claims WHERE id = ?", (rid,)).fetchone()
                if (row is not None and row[0] not in self.redo) or taken is not None:
                    self.skipped += 1
                    continue
                c.execute("INSERT INTO claims VALUES (?, ?)", (rid, self.owner))
                out.append(rid)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            self.next -= len(out)  # nothing was claimed; look at them again
            raise
        return out

    def release(self) -> None:
        """Give up every claim of this sweep (its unfinished runs become free)."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
            self.conn.execute("DELETE FROM sweeps WHERE owner = ?", (self.owner,))
            self.conn.execute("COMMIT")


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
