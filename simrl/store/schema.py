"""The store's file: its schema, checking a file before SQLite opens it, creating, opening
and closing a store.

A file is accepted only if its SQLite header carries simrl's application id and a schema
version this simrl reads; both are read from the raw header before SQLite opens the file,
so a foreign or incompatible file is never modified. A new store is built at a unique
temporary name and linked into place only if the name is still free, so two sweeps
creating it at once both end up using one whole store.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from simrl.config import ConfigError
from simrl.outputs import create_exclusive
from simrl.sweep import SCHEMA_VERSION

#: Older schema versions that can still be read (export, plot); sweeps need SCHEMA_VERSION.
READABLE_VERSIONS = (2, SCHEMA_VERSION)

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
            for attempt in range(OPEN_RETRIES + 1):  # another process may be switching it
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if not _busy(exc) or attempt == OPEN_RETRIES:
                        raise
                    _pause(attempt)
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.OperationalError as exc:
            conn.close()
            raise ConfigError(f"{path}: cannot write ({exc})") from None
    return conn


#: Further tries of :func:`open_store` to enter WAL mode while the file is busy (about 2.5 s).
OPEN_RETRIES = 50
#: Further tries of :func:`close_store` to leave WAL mode (about 0.15 s).
CLOSE_RETRIES = 3


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite failed because another connection holds the file (SQLITE_BUSY)."""
    return getattr(exc, "sqlite_errorname", "") == "SQLITE_BUSY"


def _pause(attempt: int) -> None:
    """Wait 20-80 ms before another try, the pause differing between processes and tries
    so that two processes retrying together fall out of step."""
    time.sleep(0.02 * (1 + (os.getpid() + attempt) % 4))


def close_store(conn: sqlite3.Connection) -> None:
    """Close a writer, leaving the file in rollback-journal mode when no one else has it
    open, so later read-only opens need (and create) no ``-wal``/``-shm`` files.

    Leaving WAL mode fails at once while another connection is open, so two writers closing
    at the same moment would each see the other and both leave it on. After a failure the
    connection is closed and the switch tried again on a fresh one after a pause (at most
    ``CLOSE_RETRIES`` times), so the last of them finds the file free. A store that
    stays open elsewhere (another sweep) stays in WAL mode, which is as safe. After
    overlapping writers SQLite may leave its ``-wal`` and ``-shm`` files beside a store that
    is back in rollback mode; it ignores them there.
    """
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    conn.execute("PRAGMA busy_timeout = 0")  # a busy file fails the switch, never waits
    for attempt in range(CLOSE_RETRIES + 1):
        if attempt > 0:
            _pause(attempt)
            conn = sqlite3.connect(path, isolation_level=None, timeout=0.0)  # fail, not wait
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
            return
        except sqlite3.OperationalError:
            continue
        finally:
            conn.close()
