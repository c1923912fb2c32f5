"""The rows of the accuracy report's tables (:mod:`simrl.reports.accuracy`): correlations
of NDR with every measure, gold at matched sqrt(KL) budgets, the spread of NDR within
accuracy bins, correlations within one label-noise level, and means per proxy factor.
"""

from __future__ import annotations

import math
from typing import Any

from simrl.reports._accuracy_measures import (
    MEASURES,
    METHODS,
    PAIR_KEY,
    TAU_KEY,
    _paired,
    effect_cell,
    measure,
    measure_correlations,
    optimizer,
    per_world_cell,
    regularizer,
)
from simrl.reports._common import BUDGETS, Run, fmt, grouped
from simrl.stats import mean_se

BIN_WIDTH = 0.02  # in-domain pair accuracy bins for the spread of NDR


def _stat(runs: list[Run], key: str) -> tuple[float, float, int]:
    return mean_se(measure(r, key) for r in runs)


def correlation_rows(runs: list[Run]) -> tuple[list[list[Any]], dict[str, Any]]:
    """Table rows (measure, runs, mean, Pearson and Spearman within worlds, worlds with a
    positive Spearman, per-world Spearman) and the correlations by summary key."""
    rows, corr = [], {}
    for key, label, _ in MEASURES:
        c = measure_correlations(runs, key)
        corr[key] = c
        s = c["spearman"] if c else None
        rows.append(
            [
                label,
                s.n_pairs if s else 0,
                fmt(_stat(runs, key)),
                *(effect_cell(c[m] if c else None) for m in METHODS),
                f"{sum(v > 0 for v in s.per_world.values())}/{s.n_worlds}" if s else "n/a",
                per_world_cell(s),
            ]
        )
    return rows, corr


def budget_rows(groups: dict[str, list[Run]]) -> list[list[Any]]:
    """Within-world Spearman of de-noised in-domain pair accuracy and in-domain τ with the
    gold at each matched sqrt(KL) budget, per optimizer: does a more accurate proxy give
    more gold at the same distance from the reference?"""
    rows = []
    for g, rs in groups.items():
        for key in (PAIR_KEY, TAU_KEY):
            label = next(lb for k, lb, _ in MEASURES if k == key)
            cells = []
            for d in BUDGETS:
                c = measure_correlations(rs, key, f"gold@{d:g}")
                cells.append(effect_cell(c["spearman"] if c else None))
            rows.append([g, label, *cells])
    return rows


def spread_rows(groups: dict[str, list[Run]], key: str = PAIR_KEY) -> list[list[Any]]:
    """NDR among proxies of similar accuracy: per ``BIN_WIDTH`` bin of ``key`` holding at
    least two runs of some optimizer, the number of runs and, per optimizer, the min and max
    of NDR and their difference."""
    bins: dict[int, dict[str, list[float]]] = {}
    for g, rs in groups.items():
        pairs = [p for xs, ys in _paired(rs, key).values() for p in zip(xs, ys, strict=True)]
        for a, d in pairs:
            bins.setdefault(math.floor(a / BIN_WIDTH + 1e-9), {}).setdefault(g, []).append(d)
    rows = []
    for b in sorted(bins):
        if max(len(v) for v in bins[b].values()) < 2:
            continue
        row: list[Any] = [f"[{b * BIN_WIDTH:.2f}, {(b + 1) * BIN_WIDTH:.2f})"]
        row.append(max(len(v) for v in bins[b].values()))
        for g in groups:
            v = bins[b].get(g, [])
            row += (
                [f"{min(v):+.2f} … {max(v):+.2f}", f"{max(v) - min(v):.2f}"]
                if v
                else ["n/a", "n/a"]
            )
        rows.append(row)
    return rows


def _factor_values(runs: list[Run]) -> list[tuple[str, list[Run]]]:
    """(label, runs) per value of each proxy factor: label noise and data size in increasing
    order, then the regularizers in order of appearance."""
    out = []
    for name, get in (
        ("label noise", lambda r: r["config"]["gold"]["label_noise"]),
        ("pairs", lambda r: r["config"]["data"]["n_pairs"]),
    ):
        for v in sorted({get(r) for r in runs}):
            out.append((f"{name} {v:g}", [r for r in runs if get(r) == v]))
    out += [(f"regularizer {g}", rs) for g, rs in grouped(runs, regularizer).items()]
    return out


def factor_rows(groups: dict[str, list[Run]]) -> list[list[Any]]:
    """Mean ± SE of de-noised in-domain accuracy, in-domain τ and each optimizer's NDR per
    value of each proxy factor (label noise, data size, regularizer), over everything else."""
    every = [r for rs in groups.values() for r in rs]
    return [
        [
            label,
            fmt(_stat(rs, PAIR_KEY)),
            fmt(_stat(rs, TAU_KEY)),
            *(fmt(_stat([r for r in rs if optimizer(r) == g], "ndr")) for g in groups),
        ]
        for label, rs in _factor_values(every)
    ]


def within_noise_rows(groups: dict[str, list[Run]]) -> list[list[Any]]:
    """Spearman correlation (95% CI) of NDR with in-domain pair accuracy and with in-domain
    τ among the proxies of one label-noise level (the same test labels for all of them),
    per optimizer."""
    rows = []
    noises = sorted({r["config"]["gold"]["label_noise"] for rs in groups.values() for r in rs})
    for eps in noises:
        row: list[Any] = [f"{eps:g}"]
        for rs in groups.values():
            sub = [r for r in rs if r["config"]["gold"]["label_noise"] == eps]
            for key in ("rm_test_acc", TAU_KEY):
                c = measure_correlations(sub, key)
                row.append(effect_cell(c["spearman"] if c else None))
        rows.append(row)
    return rows
