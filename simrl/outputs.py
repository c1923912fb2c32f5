"""Output files: checked before any work, written whole or not at all, never through a link.

Every file simrl writes goes through :func:`write_atomic`: the bytes go to a fresh file of
a unique name in the target's directory (``tempfile.mkstemp``: ``O_CREAT | O_EXCL``, so a
planted file or symbolic link of that name makes the creation fail instead of being
followed), which is then renamed over the target. A rename replaces a link at the target
itself, never the file it points to. On any failure the temporary file is removed.

The ``check_*`` functions run before a command starts its work, so a bad ``--out`` costs
nothing and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from simrl.config import ConfigError


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_in(directory: Path, name: str) -> tuple[int, str]:
    """A new, empty file of a unique name beside ``name`` (mode as ``open`` would give)."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make outputs private
    return fd, tmp


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write ``path`` by calling ``write`` on a binary file at a unique temporary name in
    the same directory, then renaming it into place."""
    path = Path(path)
    fd, tmp = _temp_in(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """:func:`write_atomic` of UTF-8 text."""
    return write_atomic(path, lambda fh: fh.write(text.encode()))


def create_exclusive(path: str | Path, build: Callable[[Path], None]) -> bool:
    """Create ``path`` whole: ``build`` fills a unique temporary file, which is then hard
    linked to ``path`` only if nothing is there yet (the link fails, it never replaces).

    Returns:
        True if this call created ``path``; False if another process created it first.
    """
    path = Path(path)
    fd, tmp = _temp_in(path.parent, path.name)
    os.close(fd)
    try:
        build(Path(tmp))
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: rename if still absent
            if os.path.lexists(path):
                return False
            os.rename(tmp, path)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _nearest_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _writable_dir(directory: Path, flag: str, shown: Path) -> None:
    if not directory.is_dir():
        raise ConfigError(f"{flag} {shown}: {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {shown}: directory {directory} is not writable")


def check_out_dir(path: str | Path, flag: str = "--out", files: Iterable[str] = ()) -> Path:
    """Check that ``path`` is, or can be made, a writable directory in which ``files`` can
    be replaced (none of them is a directory). Creates nothing.

    Raises:
        ConfigError: naming ``flag``, the path and the problem.
    """
    path = Path(path)
    if os.path.lexists(path):
        if not path.is_dir():
            raise ConfigError(f"{flag} {path}: exists and is not a directory")
        _writable_dir(path, flag, path)
        for name in files:
            target = path / name
            if target.is_dir() or (target.exists() and not target.is_file()):
                raise ConfigError(f"{flag} {path}: {target} is in the way (not a regular file)")
    else:
        _writable_dir(_nearest_existing(path.parent), flag, path)
    return path


def check_out_file(path: str | Path, flag: str = "--out", keep: Iterable[Path] = ()) -> Path:
    """Check that ``path`` can be replaced by a new file: its directory exists and is
    writable, it is not a directory, and it is none of ``keep`` (e.g. the input store, its
    ``-wal`` or ``-shm`` files). Creates nothing.

    Raises:
        ConfigError: naming ``flag``, the path and the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory (give a file name)")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {path}: exists and is not a regular file")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{flag} {path}: no such directory {parent}")
    _writable_dir(parent, flag, path)
    for k in keep:
        for other in (k, Path(f"{k}-wal"), Path(f"{k}-shm"), Path(f"{k}-journal")):
            same = path.exists() and other.exists() and os.path.samefile(path, other)
            if same or path.resolve() == other.resolve():
                raise ConfigError(f"{flag} {path}: is the input {k} itself; choose another file")
    return path
