"""The shape of over-optimization (Gao, Schulman & Hilton 2023): gold rises then falls
against d = sqrt(KL) for best-of-n and for RL, their forms d(alpha - beta d) and
d(alpha - beta ln d) fit, and more preference data and less label noise should move the
peak up and to the right."""

from __future__ import annotations

from pathlib import Path

from simrl.analysis import fit_gao
from simrl.plots import mean_curve
from simrl.reports._common import Run, curves_figure, fmt, grouped, md_table, ok_runs, summary_stat

DEFAULT_PAIRS, DEFAULT_NOISE = 2000, 0.1


def optimizer(run: Run) -> str:
    """RL (RLOO) or best-of-n."""
    return "best-of-n" if run["config"]["policy"]["optimizer"] == "bon" else "RL (RLOO)"


def fit_rows(runs: list[Run]) -> list[list[str]]:
    """Per optimizer: the form fitted to each seed (mean ± SE of alpha, beta, R^2 and the
    predicted peak) and to the seed-mean curve, beside the measured peak."""
    rows = []
    for name, rs in grouped(runs, optimizer).items():
        form = "bon" if name == "best-of-n" else "rl"
        m = mean_curve([r["curve"] for r in rs])
        pooled = fit_gao(m["sqrt_kl"], m["gold"], form)
        rows.append(
            [
                name,
                len(rs),
                fmt(summary_stat(rs, "fit_alpha")),
                fmt(summary_stat(rs, "fit_beta")),
                fmt(summary_stat(rs, "fit_r2")),
                f"{pooled['r2']:.3f}",
                fmt(summary_stat(rs, "fit_peak_sqrt_kl"), 2),
                fmt(summary_stat(rs, "peak_sqrt_kl"), 2),
                fmt(summary_stat(rs, "fit_peak_gold")),
                fmt(summary_stat(rs, "peak_gold")),
            ]
        )
    return rows


def axis_rows(
    runs: list[Run], section: str, key: str, other: tuple[str, str, object]
) -> list[list[str]]:
    """Peak and end of the RL curve for each value of ``section.key`` (the other axis at its
    default)."""
    osec, okey, oval = other
    rs = [r for r in runs if optimizer(r) == "RL (RLOO)" and r["config"][osec][okey] == oval]
    groups = sorted(grouped(rs, lambda r: r["config"][section][key]).items())
    return [
        [
            v,
            len(g),
            fmt(summary_stat(g, "peak_gold")),
            fmt(summary_stat(g, "peak_sqrt_kl"), 2),
            fmt(summary_stat(g, "final_gold")),
            fmt(summary_stat(g, "rm_test_acc")),
        ]
        for v, g in groups
    ]


def report(runs: list[Run], out: Path) -> str:
    """Fit table, data and noise tables; curves by optimizer, by data size, by label noise."""
    runs = ok_runs(runs)
    default = [
        r
        for r in runs
        if r["config"]["data"]["n_pairs"] == DEFAULT_PAIRS
        and r["config"]["gold"]["label_noise"] == DEFAULT_NOISE
    ]
    curves_figure(default, optimizer, out / "curves.png")
    rl = [r for r in runs if optimizer(r) == "RL (RLOO)"]
    curves_figure(
        [r for r in rl if r["config"]["gold"]["label_noise"] == DEFAULT_NOISE],
        lambda r: f"n_pairs={r['config']['data']['n_pairs']}",
        out / "data.png",
    )
    curves_figure(
        [r for r in rl if r["config"]["data"]["n_pairs"] == DEFAULT_PAIRS],
        lambda r: f"label_noise={r['config']['gold']['label_noise']:g}",
        out / "noise.png",
    )
    head = ["", "runs", "peak gold", "peak at sqrt(KL)", "final gold", "proxy test acc."]
    return "\n".join(
        [
            "# The shape of over-optimization (Gao et al. 2023)",
            "",
            "Fits of d(α − β d) (best-of-n) and d(α − β ln d) (RL) to the gold curve; α, β, R² "
            "and the predicted peak are per seed (mean ± SE); 'R² of mean' fits the seed-mean "
            "curve.",
            "",
            md_table(
                [
                    "optimizer",
                    "seeds",
                    "α",
                    "β",
                    "R²",
                    "R² of mean",
                    "predicted peak d*",
                    "measured peak d",
                    "predicted peak gold",
                    "measured peak gold",
                ],
                fit_rows(default),
            ),
            "",
            "![curves](curves.png)",
            "",
            "More preference data (label noise 0.1):",
            "",
            md_table(
                ["n_pairs", *head[1:]],
                axis_rows(runs, "data", "n_pairs", ("gold", "label_noise", DEFAULT_NOISE)),
            ),
            "",
            "![data](data.png)",
            "",
            "Less label noise (2000 pairs):",
            "",
            md_table(
                ["label_noise", *head[1:]],
                axis_rows(runs, "gold", "label_noise", ("data", "n_pairs", DEFAULT_PAIRS)),
            ),
            "",
            "![noise](noise.png)",
            "",
        ]
    )
