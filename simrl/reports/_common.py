"""Helpers shared by the experiment reports: statistics over seeds, gold at a sqrt(KL)
budget, tables, figures."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simrl.stats import mean_se

Run = dict[str, Any]

#: sqrt(KL) budgets at which arms are compared (``eval.sqrt_kl_budgets``' default).
BUDGETS = (1.0, 2.0, 3.0, 4.0)


def gold_at(run: Run, d: float) -> float | None:
    """Gold of a run at sqrt(KL) = d: ``summary["gold_at_sqrt_kl"]`` where the run has it,
    else linear interpolation along the curve's first pass through d. None if the run never
    reaches d."""
    stored = run["summary"].get("gold_at_sqrt_kl")
    if isinstance(stored, dict) and f"{d:g}" in stored:
        v = stored[f"{d:g}"]
        return None if v is None or not math.isfinite(v) else float(v)
    for a, b in itertools.pairwise(run["curve"]):
        if a["sqrt_kl"] <= d <= b["sqrt_kl"] and b["sqrt_kl"] > a["sqrt_kl"]:
            w = (d - a["sqrt_kl"]) / (b["sqrt_kl"] - a["sqrt_kl"])
            return (1 - w) * a["gold"] + w * b["gold"]
    return None


def ok_runs(runs: list[Run]) -> list[Run]:
    """The runs that finished (failed and diverged runs are listed by the sweep itself)."""
    return [r for r in runs if r["status"] == "ok"]


def grouped(
    runs: list[Run], label: Callable[[Run], str], first: str | None = None
) -> dict[str, list[Run]]:
    """Runs grouped by ``label(run)``, in order of first appearance, except that the group
    ``first`` (a page's baseline), if present, comes first."""
    out: dict[str, list[Run]] = {}
    for r in runs:
        out.setdefault(label(r), []).append(r)
    if first in out:
        out = {first: out[first], **out}
    return out


def summary_stat(runs: list[Run], key: str) -> tuple[float, float, int]:
    """Mean, standard error and count of a summary value over runs (normally seeds)."""
    return mean_se(r["summary"].get(key) for r in runs)


def fmt(stat: tuple[float, float, int], digits: int = 3) -> str:
    """``mean ± se`` for a table cell."""
    m, se, n = stat
    if n == 0:
        return "n/a"
    return f"{m:.{digits}f} ± {se:.{digits}f}" if n > 1 else f"{m:.{digits}f}"


def md_table(header: Sequence[str], rows: list[Sequence[Any]]) -> str:
    """A Markdown table (a ``|`` inside a cell is escaped)."""

    def cell(c: Any) -> str:
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def bars_figure(
    groups: dict[str, list[Run]], metrics: list[tuple[str, str]], path: Path, title: str
) -> Path:
    """One panel per ``(summary key, title)``: mean ± SE per group as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simrl.plots import _save

    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), dpi=120)
    axes = [axes] if len(metrics) == 1 else list(axes)
    names = list(groups)
    for ax, (key, panel) in zip(axes, metrics, strict=True):
        stats = [summary_stat(groups[g], key) for g in names]
        ax.bar(
            range(len(names)),
            [s[0] for s in stats],
            yerr=[s[1] for s in stats],
            color=[f"C{i % 10}" for i in range(len(names))],
            capsize=3,
        )
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=7)
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
