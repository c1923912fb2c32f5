"""Scaling with reward-model size and data (Gao, Schulman & Hilton 2023, "Scaling Laws for
Reward Model Overoptimization", ICML, section 3): the coefficients alpha and beta of their
forms R(d) = d (alpha - beta d) (best-of-n) and R(d) = d (alpha - beta ln d) (RL),
d = sqrt(KL), against the proxy's hidden width and the number of preference pairs.

They found beta falling smoothly with the proxy's size (less over-optimization per unit of
KL) and alpha_RL roughly constant. Worlds are the clustering unit: how a quantity moves along
an axis is measured within each world (least-squares slope per doubling over that world's
runs) and summarized across worlds (:func:`simrl.stats.within_world_statistic`).

The coefficients are fitted per run (every summary has them, ``fit_alpha`` and ``fit_beta``,
for its own optimizer's form): RL checkpoints of different runs share a step, not a KL, so
a mean RL curve would average points at different d; for best-of-n, whose d depends on n
only, the fit of the mean curve is exactly the mean of the per-run fits (least squares is
linear in y).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simrl import effects as fx
from simrl.reports._common import Run, fmt, grouped, md_table, ok_runs, summary_stat
from simrl.reports._figures import effects_figure, frontier_figure
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Metric,
    arm_tables,
    effects_table,
    saturation_note,
    summary_metric,
    write_effects,
)
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


def median(runs: list[Run], key: str) -> str:
    """Median over runs of a summary value (NaN and None left out), for the predicted peaks:
    exp(alpha / beta - 1) explodes as beta goes to 0, so their means say little."""
    v = [r["summary"].get(key) for r in runs]
    v = [x for x in v if x is not None and math.isfinite(x)]
    return f"{float(np.median(v)):.2f}" if v else "n/a"


def fit_rows(runs: list[Run], opt: str) -> list[list[object]]:
    """For one optimizer, per axis and value: alpha, beta and R^2 (mean ± SE over runs of the
    per-run fits), the predicted peak (median) beside the measured one, and the final gold."""
    rows: list[list[object]] = []
    for axis, *_ in AXES:
        for v, rs in on_axis([r for r in runs if optimizer(r) == opt], axis).items():
            rows.append(
                [
                    axis,
                    v,
                    len(rs),
                    fmt(summary_stat(rs, "fit_alpha")),
                    fmt(summary_stat(rs, "fit_beta")),
                    fmt(summary_stat(rs, "fit_r2"), 2),
                    median(rs, "fit_peak_sqrt_kl"),
                    fmt(summary_stat(rs, "peak_sqrt_kl"), 2),
                    median(rs, "fit_peak_gold"),
                    fmt(summary_stat(rs, "peak_gold"), 2),
                    fmt(summary_stat(rs, "final_gold"), 2),
                ]
            )
    return rows


def proxy_rows(runs: list[Run]) -> list[list[object]]:
    """Per axis and value: the proxy's label accuracy on its training pairs, on fresh in-domain
    pairs and on held-out prompts, beside the Bayes accuracy (the proxy of a seed is the same
    for both optimizers; the RL runs are used, or the best-of-n runs if there are none)."""
    rl = [r for r in runs if optimizer(r) == OPTIMIZERS[0]]
    rs_all = rl or runs
    return [
        [
            axis,
            v,
            len(rs),
            *(
                fmt(summary_stat(rs, k))
                for k in ("rm_train_acc", "rm_test_acc", "rm_heldout_acc", "rm_bayes_acc")
            ),
        ]
        for axis, *_ in AXES
        for v, rs in on_axis(rs_all, axis).items()
    ]


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


def coefficients_figure(runs: list[Run], path: Path) -> Path:
    """alpha and beta (mean ± SE over runs) against log2 width and log2 data: one panel per
    (coefficient, axis), one line per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simrl.plots import _save

    fig, axes = plt.subplots(2, 2, figsize=(9.6, 6.8), dpi=120, squeeze=False)
    for row, (key, sym) in enumerate(COEFFICIENTS):
        for col, (axis, *_) in enumerate(AXES):
            ax = axes[row][col]
            for i, opt in enumerate(OPTIMIZERS):
                groups = on_axis([r for r in runs if optimizer(r) == opt], axis)
                if not groups:
                    continue
                stats = [summary_stat(rs, key) for rs in groups.values()]
                ax.errorbar(
                    [math.log2(v) for v in groups],
                    [s[0] for s in stats],
                    yerr=[s[1] for s in stats],
                    fmt="o-",
                    ms=4,
                    capsize=3,
                    color=f"C{i}",
                    label=opt,
                )
            ax.set_xlabel(AXIS_LABEL[axis])
            ax.set_title(f"{sym} against {axis}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(
        "Gao et al. coefficients fitted per run: mean ± SE over runs "
        "(best-of-n: d(α − β d), KL bound; RL: d(α − β ln d), exact KL)",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path)


def curve_label(axis: str) -> Callable[[Run], str]:
    """Legend label of a run on an axis; padded so that the groups sort by size."""
    if axis == "width":
        return lambda r: f"width {r['config']['rm']['hidden']:>3d}"
    return lambda r: f"{r['config']['data']['n_pairs']:>5d} pairs"


def arm(run: Run) -> str:
    """``RL (RLOO), width 64``, ``best-of-n, 8000 pairs``, ``RL (RLOO), default``."""
    h, n = run["config"]["rm"]["hidden"], run["config"]["data"]["n_pairs"]
    where = "default" if (h, n) == (DEFAULT_WIDTH, DEFAULT_PAIRS) else ""
    where = where or (f"width {h}" if n == DEFAULT_PAIRS else f"{n} pairs")
    return f"{optimizer(run)}, {where}"


def report(runs: list[Run], out: Path) -> str:
    """Per-arm tables, the fitted coefficients, the proxy's accuracies and the within-world
    trends; figures; effects.json.

    Args:
        runs: The stored runs of the spec (:func:`simrl.reports.read_store`); runs that did
            not finish are left out.
        out: Directory for coefficients.png, effects.png and the gold at matched sqrt(KL) by
            width and by data for each optimizer (``{width,data}_{rl,bon}.png``).

    Returns:
        The Markdown of the report.
    """
    runs = ok_runs(runs)
    coefficients_figure(runs, out / "coefficients.png")
    figures = []
    for axis, *_ in AXES:
        for opt, tag in zip(OPTIMIZERS, ("rl", "bon"), strict=True):
            groups = on_axis([r for r in runs if optimizer(r) == opt], axis)
            if groups:
                label = curve_label(axis)
                frontier_figure(
                    {label(g[0]): g for g in groups.values()},
                    out / f"{axis}_{tag}.png",
                    title=f"{opt}, {axis}",
                )
                figures.append(f"![{axis}, {opt}]({axis}_{tag}.png)")
    entries = trend_entries(runs)
    write_effects(out, "capacity", entries)
    if effects_figure(entries, out / "effects.png", "slope per doubling"):
        figures.append("![effects](effects.png)")
    by_arm = grouped(
        sorted(
            runs,
            key=lambda r: (
                optimizer(r),
                r["config"]["data"]["n_pairs"],
                r["config"]["rm"]["hidden"],
            ),
        ),
        arm,
    )
    fit_head = [
        "axis",
        "value",
        "runs",
        "α",
        "β",
        "R²",
        "predicted peak d* (median)",
        "measured peak d",
        "predicted peak gold (median)",
        "measured peak gold",
        "final gold",
    ]
    return "\n".join(
        [
            "# Scaling with reward-model width and data (Gao et al. 2023, §3)",
            "",
            f"{len(runs)} runs in {len({fx.world_of(r) for r in runs})} worlds. "
            "Width runs use 2000 pairs, data runs width 32.",
            "",
            arm_tables(
                by_arm,
                (*TREND_METRICS[:2], summary_metric("fit_r2", "R²", 2), *TREND_METRICS[2:]),
                "proxy",
            ),
            saturation_note(by_arm),
            "",
            "Trends, within worlds: per world the least-squares slope per doubling of the "
            "axis over that world's runs, then the mean over worlds ± SE, a bootstrap 95% CI "
            "(worlds, then runs within each world), a Wilcoxon p over the per-world slopes "
            "(with 4 worlds it cannot go below 0.125; no verdict below 4 worlds) and the "
            "worlds agreeing in sign. Predictions (width axis only): Gao et al.'s, β falls "
            "and gold at a given KL rises with the proxy's size.",
            "",
            effects_table(entries),
            "",
            "α, β and R² of Gao et al.'s form for the run's optimizer, fitted per run; mean ± SE "
            "over runs. Predicted peak: d* = α/(2β) (best-of-n) or exp(α/β − 1) (RL) and the "
            "form's value there, median over the runs with β > 0.",
            "",
            "RL (RLOO), d(α − β ln d), exact KL:",
            "",
            md_table(fit_head, fit_rows(runs, "RL (RLOO)")),
            "",
            "Best-of-n, d(α − β d), KL bound log n − (n − 1)/n, n ≤ "
            f"{max((r['config']['policy']['bon_n_max'] for r in runs), default=0)}:",
            "",
            md_table(fit_head, fit_rows(runs, "best-of-n")),
            "",
            "The proxy: label accuracy on its training pairs, fresh in-domain pairs, held-out "
            "prompts, and the Bayes accuracy of the in-domain pairs.",
            "",
            md_table(
                ["axis", "value", "runs", "train", "in-domain test", "held-out prompts", "Bayes"],
                proxy_rows(runs),
            ),
            "",
            "![coefficients](coefficients.png)",
            "",
            *(f + "\n" for f in figures),
        ]
    )
