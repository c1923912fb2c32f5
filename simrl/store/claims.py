"""Claims: how several sweeps share one store.

Each sweep claims the runs it is about to start (table ``claims``, one ``BEGIN IMMEDIATE``
transaction per claim), so they split the work; the claims of a sweep that died are
reclaimed (same host: its process is gone; another host: no sign of life for
:data:`CLAIM_TTL` seconds).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
import uuid

#: Seconds after which a claim of a sweep on another host, with no sign of life, lapses.
CLAIM_TTL = 3600.0


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
