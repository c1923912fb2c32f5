"""simrl: a laptop-sized laboratory for reward-model over-optimization.

Importing the package is cheap: the heavy modules (NumPy kernels, Numba, matplotlib) load
only when used. Numba's on-disk cache goes next to the sources when that directory is
writable (an editable install or a fresh clone); otherwise, unless ``NUMBA_CACHE_DIR`` is
already set, into ``$XDG_CACHE_HOME/simrl/numba`` (default ``~/.cache/simrl/numba``), so a
read-only site-packages still gets a warm cache.
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"


def _configure_numba_cache() -> None:
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    if os.access(Path(__file__).parent / "kernels", os.W_OK):
        return
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(base, "simrl", "numba")


_configure_numba_cache()

from simrl.envs import register_envs  # noqa: E402  (Gymnasium ids; entry points load lazily)

register_envs()

__all__ = ["__version__"]
