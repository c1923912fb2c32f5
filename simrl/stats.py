"""Statistics for experiment reports: means with standard errors, medians with quartiles,
grouping by config fields, and rank/linear correlations with confidence intervals
(scipy.stats does the work). Effects across worlds are in :mod:`simrl.effects`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


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
