"""The SQLite results store of ``simrl sweep``: schema, claims, one-transaction writes,
reads, export.

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

Modules: ``schema`` (the file: checks, creation, opening), ``claims`` (sharing a store
between sweeps), ``runs`` (writing and reading runs) and ``tables`` (a row per run, as CSV
or Parquet). Import from ``simrl.store`` itself.
"""

from simrl.store.claims import CLAIM_TTL, Claims, live_claims
from simrl.store.runs import read_curves, read_runs, stored_ids, write_run
from simrl.store.schema import (
    APPLICATION_ID,
    CURVE_FIELDS,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    STATUSES,
    SUMMARY_COLUMNS,
    VERSION_FIELDS,
    check_file,
    close_store,
    open_store,
)
from simrl.store.tables import export, flatten, table

__all__ = [
    "APPLICATION_ID",
    "CLAIM_TTL",
    "CURVE_FIELDS",
    "READABLE_VERSIONS",
    "SCHEMA_VERSION",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "VERSION_FIELDS",
    "Claims",
    "check_file",
    "close_store",
    "export",
    "flatten",
    "live_claims",
    "open_store",
    "read_curves",
    "read_runs",
    "stored_ids",
    "table",
    "write_run",
]
