"""Sweep specs: parsing, expansion into resolved configs, and run ids.

A spec is a TOML file with a base config and the axes to vary (``docs/sweeps.md``)::

    base = "configs/small.toml"      # or inline tables: [base.rm], [base.policy], ...

    [grid]                           # the product of every axis, by dotted field name
    seed = [0, 1, 2]
    "rm.bsr_lambda" = [0.0, 1e-3]

    [random]                         # n draws, each combined with every grid point
    n = 20
    seed = 0
    "rm.lr" = { loguniform = [1e-4, 1e-1] }

``[[grid]]`` (an array of tables) makes the sweep the union of several products. Every
resolved config is built and validated by :func:`simrl.config.from_dict` before anything
runs, so a bad spec fails with one line and nothing is written.

A run is a pure function of its resolved config (which includes ``seed``); its id is the
sha256 of the canonical JSON of ``Config.to_dict()`` together with the store schema version.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simrl.config import Config, ConfigError, from_dict, read_toml

#: Version of the stored run layout; part of every run id (``simrl.store`` checks it).
# 3: claims of concurrent sweeps; -0.0 spelled 0.0; gold exact (gold_se 0), curves with
# entropy, summaries with gold at matched sqrt(KL)
SCHEMA_VERSION = 3
DISTRIBUTIONS = ("uniform", "loguniform", "choice")
#: Most runs one spec may expand to. Every run is validated and listed before any work,
#: about 0.2 ms each: 100,000 runs take seconds and some MB; a million would take minutes.
MAX_RUNS = 100_000
# ``report`` names the report of ``simrl experiment`` (simrl/reports/); sweeps ignore it.
_SPEC_KEYS = ("base", "grid", "random", "report")


@dataclass(frozen=True)
class Run:
    """One resolved run of a sweep.

    Attributes:
        id: :func:`run_id` of the config.
        config: The validated config.
        point: The swept values that produced it, by dotted name.
    """

    id: str
    config: Config
    point: dict[str, Any]


def canonical_json(cfg: Config) -> str:
    """Canonical JSON of a config: sorted keys, no spaces, shortest round-trip floats."""
    return json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_id(cfg: Config) -> str:
    """The id of a run: sha256 (hex) of the schema version and the canonical config JSON."""
    text = f"simrl-run/{SCHEMA_VERSION}\n{canonical_json(cfg)}"
    return hashlib.sha256(text.encode()).hexdigest()


def _flatten_axes(table: dict[str, Any], where: str, prefix: str = "") -> dict[str, list]:
    """``{"rm": {"lr": [..]}, "seed": [..]}`` -> ``{"rm.lr": [..], "seed": [..]}``."""
    axes: dict[str, list] = {}
    for key, value in table.items():
        name = prefix + key
        if isinstance(value, dict):
            axes.update(_flatten_axes(value, where, name + "."))
        elif not isinstance(value, list):
            raise ConfigError(f"{where}.{name} = {value!r}: must be a list of values")
        elif not value:
            raise ConfigError(f"{where}.{name}: empty axis (give at least one value)")
        else:
            axes[name] = value
    return axes


def _grids(spec: dict[str, Any]) -> list[dict[str, list]]:
    """The grid tables of a spec as flat axes (one empty grid if only [random] is given)."""
    if "grid" not in spec:
        if "random" not in spec:
            raise ConfigError("no [grid] and no [random]: nothing to sweep")
        return [{}]
    raw = spec["grid"]
    tables = raw if isinstance(raw, list) else [raw]
    grids = []
    for i, table in enumerate(tables):
        where = "grid" if isinstance(raw, dict) else f"grid[{i}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table of axes")
        axes = _flatten_axes(table, where)
        if not axes:
            raise ConfigError(f"{where}: empty grid (give at least one axis, e.g. seed = [0, 1])")
        grids.append(axes)
    if not grids:
        raise ConfigError("grid: empty list of grids")
    return grids


def _draw(name: str, dist: Any, rng: random.Random) -> Any:
    """One value of ``{uniform|loguniform = [lo, hi]}`` or ``{choice = [...]}``.

    Only ``rng.random()`` is used, whose sequence Python keeps stable across versions.
    Integer bounds give integer draws (inclusive).
    """
    where = f"random.{name}"
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise ConfigError(
            f"{where} = {dist!r}: must be one of {{uniform = [lo, hi]}}, "
            "{loguniform = [lo, hi]}, {choice = [values]}"
        )
    kind, args = next(iter(dist.items()))
    if kind == "choice":
        if not isinstance(args, list) or not args:
            raise ConfigError(f"{where}.choice: must be a non-empty list of values")
        return args[min(int(rng.random() * len(args)), len(args) - 1)]
    ok = isinstance(args, list) and len(args) == 2
    ok = ok and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if not ok or not args[0] <= args[1] or (kind == "loguniform" and args[0] <= 0):
        low = "0 < lo" if kind == "loguniform" else "lo"
        raise ConfigError(f"{where}.{kind} = {args!r}: must be [lo, hi] with {low} <= hi")
    lo, hi = args
    integer = isinstance(lo, int) and isinstance(hi, int)
    u = rng.random()
    if kind == "uniform":
        return min(lo + int(u * (hi - lo + 1)), hi) if integer else lo + u * (hi - lo)
    x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    return min(max(round(x), lo), hi) if integer else x


def _random_n(table: Any) -> int:
    if not isinstance(table, dict):
        raise ConfigError("random: must be a table (n, seed and distributions)")
    n = table.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"random.n = {str(n)[:40]}: must be an integer >= 1")
    return n


def _random_points(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``n`` draws of a ``[random]`` table, in order."""
    n, seed = _random_n(table), table.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"random.seed = {seed!r}: must be an integer")
    dists: dict[str, Any] = {}

    def collect(t: dict[str, Any], prefix: str) -> None:
        for key, value in t.items():
            if isinstance(value, dict) and not (set(value) & set(DISTRIBUTIONS)):
                collect(value, prefix + key + ".")
            else:
                dists[prefix + key] = value

    collect({k: v for k, v in table.items() if k not in ("n", "seed")}, "")
    if not dists:
        raise ConfigError('random: no distributions (add e.g. "rm.lr" = {loguniform = [..]})')
    rng = random.Random(seed)
    return [{name: _draw(name, d, rng) for name, d in dists.items()} for _ in range(n)]


def _points(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every swept point (dotted name -> value): grid products, each times the draws."""
    grids = _grids(spec)
    n_draws = _random_n(spec["random"]) if "random" in spec else 1
    total = n_draws * sum(math.prod(len(a) for a in axes.values()) for axes in grids)
    if total > MAX_RUNS:  # counted before anything is expanded
        raise ConfigError(
            f"grid and random: {total:,} runs, more than the {MAX_RUNS:,} one sweep may "
            "have (split the spec into several)"
        )
    draws = _random_points(spec["random"]) if "random" in spec else [{}]
    points = []
    for axes in grids:
        for combo in itertools.product(*axes.values()):
            grid_point = dict(zip(axes, combo, strict=True))
            points += [{**grid_point, **draw} for draw in draws]
    return points


def _base(spec: dict[str, Any], spec_dir: Path) -> dict[str, Any]:
    base = spec.get("base", {})
    if isinstance(base, str):
        return read_toml(spec_dir / base, "base = ")
    if not isinstance(base, dict):
        raise ConfigError(f"base = {base!r}: must be a table of config sections or a path")
    return base


def expand(spec: dict[str, Any], spec_dir: str | Path = ".") -> list[Run]:
    """Resolve a parsed spec into validated runs, in spec order, without duplicates.

    Args:
        spec: The parsed TOML of a spec.
        spec_dir: Directory a ``base = "path.toml"`` is relative to.

    Raises:
        ConfigError: an unknown key or field, an empty axis, a bad distribution, or a
            resolved config that does not validate (the message names the swept point).
    """
    for key in spec:
        if key not in _SPEC_KEYS:
            raise ConfigError(f"{key}: unknown spec key (known: {', '.join(_SPEC_KEYS)})")
    base = Config() if not spec.get("base") else from_dict(_base(spec, Path(spec_dir)))
    runs: dict[str, Run] = {}
    for point in _points(spec):
        try:
            cfg = base.replace(**point)
        except ConfigError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ConfigError(f"{exc} (at {where})" if where else str(exc)) from None
        rid = run_id(cfg)
        runs.setdefault(rid, Run(rid, cfg, point))
    return list(runs.values())


def read_spec(path: str | Path) -> dict[str, Any]:
    """The parsed TOML of a spec file."""
    return read_toml(path)


def load_spec(path: str | Path) -> list[Run]:
    """Read a spec file and :func:`expand` it (``base`` paths are relative to the spec)."""
    return expand(read_spec(path), Path(path).parent)


def varying_fields(runs: list[Run]) -> list[str]:
    """Dotted names of the swept fields whose value differs between runs, in spec order."""
    names: dict[str, set[str]] = {}
    for r in runs:
        for k, v in r.point.items():
            names.setdefault(k, set()).add(json.dumps(v))
    return [k for k, vals in names.items() if len(vals) > 1]
