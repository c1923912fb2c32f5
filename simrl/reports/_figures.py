"""Figures of the reporting protocol: effects per world with their mean and CI, and gold
compared at matched sqrt(KL)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simrl import effects as fx
from simrl.reports._common import BUDGETS, Run, gold_at


def effects_figure(entries: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    """Per metric a panel, per arm a row: every world's effect (grey), the mean over worlds
    with its 95% CI (black). None if there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simrl.plots import _save

    metrics = list(dict.fromkeys(e["label"] for e in entries if e["mean"] is not None))
    arms = list(dict.fromkeys(e["arm"] for e in entries))
    if not metrics:
        return None
    ncols = min(4, len(metrics))
    nrows = -(-len(metrics) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.8 * ncols + 1.4, (0.4 * len(arms) + 1.0) * nrows + 0.4),
        dpi=120,
        sharey=True,
        squeeze=False,
    )
    flat = list(axes.flat)
    for ax in flat[len(metrics) :]:
        ax.set_visible(False)
    for ax, label in zip(flat, metrics, strict=False):
        for e in (e for e in entries if e["label"] == label):
            y = arms.index(e["arm"])
            xs = [v for v in e["per_world"].values() if v is not None]
            ax.scatter(xs, [y] * len(xs), s=12, color="0.6", zorder=2)
            if e["mean"] is not None:
                lo = e["low"] if e["low"] is not None else e["mean"]
                hi = e["high"] if e["high"] is not None else e["mean"]
                ax.errorbar(
                    e["mean"],
                    y,
                    xerr=[[e["mean"] - lo], [hi - e["mean"]]],
                    fmt="o",
                    color="k",
                    ms=4,
                    capsize=3,
                    zorder=3,
                )
        ax.axvline(0, color="tab:red", lw=0.8)
        ax.set_title(label, fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.tick_params(labelsize=7)
    axes[0][0].set_yticks(range(len(arms)), arms, fontsize=7)
    axes[0][0].set_ylim(len(arms) - 0.5, -0.5)  # first arm on top
    fig.suptitle(title + " (grey: per world; black: mean over worlds, 95% CI)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def frontier_figure(
    groups: Mapping[str, list[Run]], path: Path, step: float = 0.25, title: str = ""
) -> Path:
    """Gold against sqrt(KL) compared at matched sqrt(KL): each run's curve interpolated on a
    grid of budgets (:func:`gold_at`); per arm and budget the mean of per-world means ± SE over
    worlds, drawn where at least half of the arm's runs reach the budget (past the point some
    runs stop, the line averages the runs that went further)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simrl.plots import _save

    fig, ax = plt.subplots(figsize=(7.2, 4.4), dpi=120)
    for i, (g, rs) in enumerate(groups.items()):
        top = max((p["sqrt_kl"] for r in rs for p in r["curve"]), default=0.0)
        grid = np.arange(0.0, top + 1e-9, step)
        mean, se = [], []
        for d in grid:
            by_world: dict[int, list[float]] = {}
            reached = 0
            for r in rs:
                v = gold_at(r, float(d))
                if v is not None:
                    reached += 1
                    by_world.setdefault(fx.world_of(r), []).append(v)
            per = [float(np.mean(v)) for v in by_world.values()]
            ok = 2 * reached >= len(rs) and per
            mean.append(float(np.mean(per)) if ok else np.nan)
            se.append(float(np.std(per, ddof=1) / np.sqrt(len(per))) if ok and len(per) > 1 else 0)
        m, s = np.array(mean), np.array(se)
        ax.plot(grid, m, "-", color=f"C{i % 10}", lw=1.3, label=f"{g} (n={len(rs)})")
        ax.fill_between(grid, m - s, m + s, color=f"C{i % 10}", alpha=0.15, lw=0)
    for d in BUDGETS:
        ax.axvline(d, color="0.8", lw=0.6, zorder=0)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("sqrt(KL(pi || pi_ref))  [nats^1/2]")
    ax.set_ylabel("gold (pi_ref = 0, 1 = one pi_ref std)")
    ax.set_title(
        (title + ": " if title else "")
        + "gold at matched sqrt(KL), mean ± SE over worlds (where ≥ half the runs reach it)",
        fontsize=9,
    )
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)
