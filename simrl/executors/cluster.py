"""A Dask cluster as the executor of a sweep: checking the scheduler's address, and
connecting to it within a bounded time (a scheduler that accepts but never answers, or has
no worker, fails with one line instead of hanging)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

#: Seconds to reach a Dask scheduler (and to wait for its first worker) before giving up.
CONNECT_TIMEOUT = 20.0
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def check_scheduler(address: str) -> str:
    """``address`` if it looks like a Dask scheduler address (``tcp://HOST:PORT``).

    Raises:
        ConfigError: another form, or a port outside 1..65535.
    """
    from simrl.config import ConfigError

    bad = ConfigError(f"--scheduler {address[:80]!r}: expected tcp://HOST:PORT (port 1-65535)")
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in SCHEMES:
        raise bad
    if scheme == "inproc":
        return address
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise bad
    return address


class SchedulerError(RuntimeError):
    """The Dask scheduler could not be reached, or has no workers."""


def connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address`` with at least one worker, within
    :data:`CONNECT_TIMEOUT` seconds each.

    Raises:
        ConfigError: Dask is not installed.
        SchedulerError: the scheduler cannot be reached, does not answer, or has no worker.
    """
    import logging

    try:
        from distributed import Client
    except ImportError:
        from simrl.config import ConfigError

        raise ConfigError("--scheduler needs Dask: pip install 'simrl[dask]'") from None
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.CRITICAL)  # the reason goes into the one-line error instead
    client = None
    try:
        if address.startswith("tcp://"):
            _probe(address)
        client = _bounded(lambda: Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False))
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        return client
    except Exception as exc:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=2)
        what = "no worker joined" if client is not None else "cannot connect"
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise SchedulerError(
            f"--scheduler {address}: {what} within {CONNECT_TIMEOUT:g} s ({reason})"
        ) from None
    finally:
        log.setLevel(level)


def _probe(address: str) -> None:
    """Connect to a ``tcp://`` scheduler and wait for the first bytes of its handshake (a
    Dask server speaks first), so a port that accepts but never answers fails in time."""
    import socket

    host, _, port = address[len("tcp://") :].rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT) as sock:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            first = sock.recv(1)
        except TimeoutError:
            raise TimeoutError("connected, but it sent nothing") from None
        if not first:
            raise ConnectionError("connected, but it closed the connection")


def _bounded(make: Callable[[], Any]) -> Any:
    """``make()`` in a daemon thread, given up after twice :data:`CONNECT_TIMEOUT`."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = make()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(2 * CONNECT_TIMEOUT)
    if t.is_alive():
        raise TimeoutError("no answer")
    if "error" in box:
        raise box["error"]
    return box["value"]
