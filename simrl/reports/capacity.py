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

The swept axes and the trends along them are in :mod:`simrl.reports._capacity_trends`, the
rows of the tables in :mod:`simrl.reports._capacity_tables`; their public names are
re-exported here for existing callers. This module draws the coefficients figure and writes
the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from simrl import effects as fx
from simrl.reports._capacity_tables import fit_rows, median, proxy_rows
from simrl.reports._capacity_trends import (
    AXES,
    AXIS_LABEL,
    COEFFICIENTS,
    DEFAULT_PAIRS,
    DEFAULT_WIDTH,
    OPTIMIZERS,
    PREDICTED,
    TREND_METRICS,
    on_axis,
    optimizer,
    slope,
    trend,
    trend_entries,
)
from simrl.reports._common import Run, grouped, md_table, ok_runs, summary_stat
from simrl.reports._figures import effects_figure, frontier_figure
from simrl.reports._protocol import (
    arm_tables,
    effects_table,
    saturation_note,
    summary_metric,
    write_effects,
)

__all__ = [
    "AXES",
    "AXIS_LABEL",
    "COEFFICIENTS",
    "DEFAULT_PAIRS",
    "DEFAULT_WIDTH",
    "OPTIMIZERS",
    "PREDICTED",
    "TREND_METRICS",
    "arm",
    "coefficients_figure",
    "curve_label",
    "fit_rows",
    "median",
    "on_axis",
    "optimizer",
    "proxy_rows",
    "report",
    "slope",
    "trend",
    "trend_entries",
]


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
