"""The per-token KL penalty (source 002): how far the policy drifts for each ``kl_coef``,
where gold peaks, and whether the penalty changes the gold-vs-KL frontier or only where on
it the run stops (Gao et al. 2023 report the latter)."""

from __future__ import annotations

import itertools
from pathlib import Path

from simrl.reports._common import (
    Run,
    curves_figure,
    fmt,
    grouped,
    md_table,
    ok_runs,
    summary_stat,
)
from simrl.stats import mean_se

#: sqrt(KL) at which the gold of every kl_coef is compared (interpolated along each curve).
PROBES = (1.0, 2.0, 3.0, 4.0)


def beta(run: Run) -> str:
    """The run's KL coefficient as a label."""
    return f"kl_coef={run['config']['policy']['kl_coef']:g}"


def gold_at(run: Run, d: float) -> float:
    """Gold of the run's curve at sqrt(KL) = d by linear interpolation along the curve's
    first pass through d (NaN if the run never reaches d)."""
    pts = run["curve"]
    for a, b in itertools.pairwise(pts):
        if a["sqrt_kl"] <= d <= b["sqrt_kl"] and b["sqrt_kl"] > a["sqrt_kl"]:
            w = (d - a["sqrt_kl"]) / (b["sqrt_kl"] - a["sqrt_kl"])
            return (1 - w) * a["gold"] + w * b["gold"]
    return float("nan")


def report(runs: list[Run], out: Path) -> str:
    """Drift, peak and final gold per kl_coef; gold at matched sqrt(KL); curves.png."""
    runs = ok_runs(runs)
    groups = dict(
        sorted(grouped(runs, beta).items(), key=lambda kv: kv[1][0]["config"]["policy"]["kl_coef"])
    )
    rows = [
        [
            g,
            len(rs),
            fmt(summary_stat(rs, "final_sqrt_kl"), 2),
            fmt(summary_stat(rs, "peak_gold")),
            fmt(summary_stat(rs, "peak_sqrt_kl"), 2),
            fmt(summary_stat(rs, "final_gold")),
            fmt(summary_stat(rs, "final_proxy"), 2),
        ]
        for g, rs in groups.items()
    ]
    frontier = [
        [g, *(fmt(mean_se(gold_at(r, d) for r in rs)) for d in PROBES)] for g, rs in groups.items()
    ]
    curves_figure(runs, beta, out / "curves.png")
    return "\n".join(
        [
            "# The KL penalty: drift, peak, and the frontier",
            "",
            md_table(
                [
                    "penalty",
                    "seeds",
                    "final sqrt(KL)",
                    "gold peak",
                    "peak at sqrt(KL)",
                    "final gold",
                    "final proxy",
                ],
                rows,
            ),
            "",
            "Gold at matched sqrt(KL) (mean ± SE over the seeds that reach it; n/a: none does):",
            "",
            md_table(["penalty", *(f"gold at sqrt(KL)={d:g}" for d in PROBES)], frontier),
            "",
            "![curves](curves.png)",
            "",
        ]
    )
