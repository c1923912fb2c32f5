"""Statistics for experiment reports: means with standard errors, medians with quartiles,
grouping by config fields, rank/linear correlations with confidence intervals (scipy.stats
does the work), and statistics computed within each world and summarized across worlds.
Paired effects across worlds are in :mod:`simrl.effects`."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from simrl.effects import N_BOOT, Effect, summarize_worlds, two_stage_bootstrap


def mean_se(values: Iterable[float | None]) -> tuple[float, float, int]:
    """Mean, standard error of the mean (sample std / sqrt(n); 0 for n = 1) and n, ignoring
    None and NaN."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], float)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se, int(v.size)


def median_iqr(values: Iterable[float | None]) -> tuple[float, float, float, int]:
    """Median, first and third quartile (linear interpolation) and n, ignoring None and
    NaN."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], float)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return float(med), float(q1), float(q3), int(v.size)


def field(config: dict[str, Any], dotted: str) -> Any:
    """The value of a dotted config field (``"rm.bsr_lambda"``) in a nested config dict."""
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def group_by(
    runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> dict[Any, list[dict[str, Any]]]:
    """Runs grouped by ``key(run)``, groups in order of first appearance."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in runs:
        out.setdefault(key(r), []).append(r)
    return out


def correlations(
    x: Iterable[float],
    y: Iterable[float],
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Pearson, Spearman and Kendall correlations of paired samples with confidence intervals.

    Pearson's interval is the Fisher z interval (``scipy.stats.pearsonr``); Spearman's and
    Kendall's are percentile bootstrap intervals over pairs (``scipy.stats.bootstrap``,
    ``n_resamples`` resamples, seeded). Pairs with a missing value are dropped.

    Returns:
        ``{"pearson": {"r", "low", "high", "p"}, "spearman": {...}, "kendall": {...}}``.
    """
    from scipy import stats

    pairs = [
        (a, b)
        for a, b in zip(x, y, strict=True)
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
    ]
    xs, ys = (np.array(v, float) for v in zip(*pairs, strict=True))
    out: dict[str, dict[str, float]] = {}
    pr = stats.pearsonr(xs, ys)
    ci = pr.confidence_interval(confidence)
    out["pearson"] = {
        "r": float(pr.statistic),
        "low": float(ci.low),
        "high": float(ci.high),
        "p": float(pr.pvalue),
        "n": len(pairs),
    }
    for name, fn in (("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        res = fn(xs, ys)

        def statistic(a: np.ndarray, b: np.ndarray, fn: Any = fn) -> float:
            return fn(a, b).statistic

        boot = stats.bootstrap(
            (xs, ys),
            statistic,
            paired=True,
            vectorized=False,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        out[name] = {
            "r": float(res.statistic),
            "low": float(boot.confidence_interval.low),
            "high": float(boot.confidence_interval.high),
            "p": float(res.pvalue),
            "n": len(pairs),
        }
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(axis=-1) / den, np.nan)


def _spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return _pearson(rankdata(x, axis=-1), rankdata(y, axis=-1))


CORRELATIONS = {"pearson": _pearson, "spearman": _spearman}


def within_world_statistic(
    groups: Mapping[Hashable, tuple[Sequence[float], ...]],
    stat: Callable[..., np.ndarray],
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Effect:
    """A statistic computed within each world over its runs (e.g. a correlation) and
    summarized across worlds: mean ± SE over worlds, worlds agreeing in sign, a two-stage
    bootstrap interval (worlds, then runs within each drawn world, the statistic recomputed
    on every resample) and a Wilcoxon p over the per-world values.

    Worlds with fewer than 3 runs or a constant variable are left out (``dropped`` counts
    their runs).

    Args:
        groups: World -> equal-length arrays of its runs (e.g. ``(x, y)``), no missing values.
        stat: Vectorized over leading axes, as for :func:`two_stage_bootstrap`.
    """
    kept, dropped = {}, 0
    for k, arrays in groups.items():
        arrays = tuple(np.asarray(a, float) for a in arrays)
        if arrays[0].size >= 3 and all(np.ptp(a) > 0 for a in arrays):
            kept[k] = arrays
        else:
            dropped += arrays[0].size
    boot = two_stage_bootstrap(list(kept.values()), stat, n_boot, seed)
    return summarize_worlds(
        {k: float(stat(*a)) for k, a in kept.items()},
        boot,
        sum(a[0].size for a in kept.values()),
        dropped,
    )


def within_world_correlation(
    xy: Mapping[Hashable, tuple[Sequence[float], Sequence[float]]],
    method: str = "spearman",
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Effect:
    """A correlation computed within each world and summarized across worlds
    (:func:`within_world_statistic`).

    Pooling runs of different worlds mixes the within-world relation with differences
    between worlds, and treats runs of one world as independent; here each world gives one
    correlation over its own runs.

    Args:
        xy: World -> (x values, y values) of its runs, paired and without missing values.
        method: ``"pearson"`` or ``"spearman"`` (average ranks for ties, as scipy).
    """
    return within_world_statistic(xy, CORRELATIONS[method], n_boot, seed)


def spearman_difference(x1: np.ndarray, x2: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman(x2, y) - Spearman(x1, y), vectorized: which of two measures ranks y better."""
    return _spearman(x2, y) - _spearman(x1, y)
