"""The swept axes of the capacity report (:mod:`simrl.reports.capacity`) and the trends
along them: which runs lie on the width axis and which on the data axis (:func:`on_axis`),
a run's optimizer, and how a per-run value moves along an axis (:func:`trend`: within each
world, the least-squares slope per doubling over that world's runs; summarized across
worlds), with the effects.json entries of every trend (:func:`trend_entries`).
"""

from __future__ import annotations

import math

import numpy as np

from simrl import effects as fx
from simrl.reports._common import Run, grouped
from simrl.reports._protocol import GOLD_END_AND_MATCHED, Metric, summary_metric
from simrl.stats import within_world_statistic

DEFAULT_WIDTH, DEFAULT_PAIRS = 32, 2000

# (name, config section, field, the other axis held at its default)
AXES = (
    ("width", "rm", "hidden", ("data", "n_pairs", DEFAULT_PAIRS)),
    ("data", "data", "n_pairs", ("rm", "hidden", DEFAULT_WIDTH)),
)
AXIS_LABEL = {"width": "log2 hidden width (2000 pairs)", "data": "log2 preference pairs (width 32)"}
OPTIMIZERS = ("RL (RLOO)", "best-of-n")
COEFFICIENTS = (("fit_alpha", "α"), ("fit_beta", "β"))


def optimizer(run: Run) -> str:
    """RL (RLOO) or best-of-n."""
    return "best-of-n" if run["config"]["policy"]["optimizer"] == "bon" else "RL (RLOO)"


def on_axis(runs: list[Run], axis: str) -> dict[int, list[Run]]:
    """The runs of one swept axis (the other axis at its default), by the axis value, sorted."""
    for name, section, key, (osec, okey, oval) in AXES:
        if name == axis:
            rs = [r for r in runs if r["config"][osec][okey] == oval]
            by_value = grouped(rs, lambda r, s=section, k=key: r["config"][s][k])
            return dict(sorted(by_value.items()))
    raise ValueError(f"unknown axis {axis!r}")


def slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of y on x along the last axis (vectorized)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    den = (xc * xc).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            den > 0, (xc * (y - y.mean(axis=-1, keepdims=True))).sum(axis=-1) / den, np.nan
        )


TREND_METRICS = (
    *(summary_metric(k, s) for k, s in COEFFICIENTS),
    summary_metric("peak_gold", "gold peak"),
    *GOLD_END_AND_MATCHED,
)
#: Gao et al. (section 3, RM size): beta falls and gold at a given KL rises with the proxy's
#: size. No prediction for alpha or along the data axis.
PREDICTED = {
    "fit_beta": (-1, 0.0),
    **{m.key: (1, 0.0) for m in GOLD_END_AND_MATCHED[1:]},
}


def trend(runs: list[Run], axis: str, metric: Metric) -> fx.Effect:
    """How a per-run value moves along an axis: within each world, the least-squares slope
    per doubling of the axis over that world's runs; summarized across worlds."""
    xy: dict[int, tuple[list[float], list[float]]] = {}
    for v, rs in on_axis(runs, axis).items():
        for r in rs:
            y = metric.get(r)
            if y is not None:
                xs, ys = xy.setdefault(fx.world_of(r), ([], []))
                xs.append(math.log2(v))
                ys.append(y)
    return within_world_statistic(xy, slope)


def trend_entries(runs: list[Run]) -> list[dict[str, object]]:
    """effects.json entries: per optimizer, axis and metric, the within-world slope."""
    entries: list[dict[str, object]] = []
    for opt in OPTIMIZERS:
        rs = [r for r in runs if optimizer(r) == opt]
        for axis, *_ in AXES:
            if len(on_axis(rs, axis)) < 3:  # too few sizes for a trend
                continue
            for m in TREND_METRICS:
                e = trend(rs, axis, m)
                direction, margin = (
                    PREDICTED.get(m.key, (None, 0.0)) if axis == "width" else (None, 0.0)
                )
                entries.append(
                    {
                        "comparison": "slope per doubling, within worlds",
                        "arm": f"{opt}, {axis}",
                        "baseline": None,
                        "metric": f"slope:{m.key}",
                        "label": m.label,
                        "digits": 3,
                        **e.to_dict(),
                        "direction": direction,
                        "margin": margin if direction is not None else None,
                        "verdict": None if direction is None else fx.verdict(e, direction, margin),
                    }
                )
    return entries
