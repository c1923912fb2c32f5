"""The shape of over-optimization (Gao, Schulman & Hilton 2023): gold rises then falls
against d = sqrt(KL) for best-of-n and for RL, their forms d(alpha - beta d) and
d(alpha - beta ln d) fit, and more preference data and less label noise should move the
peak up and to the right. Baseline: RL on the default world (2000 pairs, label noise 0.1)."""

from __future__ import annotations

from pathlib import Path

from simrl.analysis import fit_gao
from simrl.plots import mean_curve
from simrl.reports._common import Run, fmt, grouped, md_table, ok_runs, summary_stat
from simrl.reports._figures import frontier_figure
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Comparison,
    protocol_page,
    summary_metric,
)
from simrl.stats import median_iqr

DEFAULT_PAIRS, DEFAULT_NOISE = 2000, 0.1
BASELINE = "RL, default"
PEAK = (summary_metric("peak_gold", "gold peak"), summary_metric("peak_sqrt_kl", "peak at √KL", 2))
METRICS = (*PEAK, *GOLD_END_AND_MATCHED)
TABLE = (
    *METRICS,
    summary_metric("final_sqrt_kl", "final √KL", 2),
    summary_metric("rm_test_acc", "proxy test acc."),
)


def optimizer(run: Run) -> str:
    """RL (RLOO) or best-of-n."""
    return "best-of-n" if run["config"]["policy"]["optimizer"] == "bon" else "RL (RLOO)"


def arm(run: Run) -> str:
    """``RL, default``, ``RL, 8000 pairs``, ``RL, noise 0``, ``best-of-n, default``."""
    opt = "best-of-n" if run["config"]["policy"]["optimizer"] == "bon" else "RL"
    n, eps = run["config"]["data"]["n_pairs"], run["config"]["gold"]["label_noise"]
    parts = [f"{n} pairs"] * (n != DEFAULT_PAIRS) + [f"noise {eps:g}"] * (eps != DEFAULT_NOISE)
    return f"{opt}, " + (", ".join(parts) or "default")


def predicted(better: bool) -> dict[str, tuple[int, float]]:
    """Gao et al.: a better proxy (more data, less noise) peaks higher and later and has more
    gold at every KL; a worse one the opposite. No prediction for the final gold."""
    s = 1 if better else -1
    return {m.key: (s, 0.0) for m in (*PEAK, *GOLD_END_AND_MATCHED[1:])}


def _median(runs: list[Run], key: str, digits: int) -> str:
    """Median [IQR] of a summary value: the predicted peak exp(alpha / beta - 1) of the RL
    form explodes as beta goes to 0, so its mean says little."""
    med, q1, q3, n = median_iqr(r["summary"].get(key) for r in runs)
    return f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]" if n else "n/a"


def fit_rows(runs: list[Run]) -> list[list[str]]:
    """Per optimizer: the form fitted to each run (mean ± SE of alpha, beta, R^2 on the whole
    curve and before saturation, and the predicted peak) and to the mean curve, beside the
    measured peak."""
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
                fmt(summary_stat(rs, "fit_r2_presat")),
                f"{pooled['r2']:.3f}",
                _median(rs, "fit_peak_sqrt_kl", 2),
                fmt(summary_stat(rs, "peak_sqrt_kl"), 2),
                _median(rs, "fit_peak_gold", 3),
                fmt(summary_stat(rs, "peak_gold")),
            ]
        )
    return rows


def _sorted(groups: dict[str, list[Run]], key: str, section: str) -> dict[str, list[Run]]:
    return dict(sorted(groups.items(), key=lambda kv: kv[1][0]["config"][section][key]))


def report(runs: list[Run], out: Path) -> str:
    """Per-arm tables, paired effects of data size and label noise against the default,
    the fit table; frontier figures by optimizer, data size and noise; effects.json."""
    runs = ok_runs(runs)
    groups = grouped(runs, arm, first=BASELINE)
    rl = {g: rs for g, rs in groups.items() if g.startswith("RL")}
    data = [g for g in rl if g.endswith("pairs")]
    noise = [g for g in rl if "noise" in g]

    def is_better(g: str) -> bool:
        rs = groups[g]
        return (
            rs[0]["config"]["data"]["n_pairs"] > DEFAULT_PAIRS
            or rs[0]["config"]["gold"]["label_noise"] < DEFAULT_NOISE
        )

    pred = {(g, k): v for g in (*data, *noise) for k, v in predicted(is_better(g)).items()}
    lines, _ = protocol_page(
        "The shape of over-optimization (Gao et al. 2023)",
        "scaling",
        runs,
        arm,
        groups,
        TABLE,
        [
            Comparison("preference data (RL)", BASELINE, data, METRICS, pred),
            Comparison("label noise (RL)", BASELINE, noise, METRICS, pred),
        ],
        out,
        intro=[
            f"Baseline: **{BASELINE}** ({DEFAULT_PAIRS} pairs, label noise {DEFAULT_NOISE:g}). "
            "Predictions: Gao et al.'s, a better proxy (more data, less noise) peaks higher "
            "and later and has more gold at a given KL.",
            "",
        ],
        frontier=False,
    )
    default = {g: rs for g, rs in groups.items() if g.endswith("default")}
    frontier_figure(default, out / "curves.png", title="default world")
    by_data = _sorted({g: groups[g] for g in (BASELINE, *data) if g in groups}, "n_pairs", "data")
    frontier_figure(by_data, out / "data.png", title="preference data")
    by_noise = _sorted(
        {g: groups[g] for g in (BASELINE, *noise) if g in groups}, "label_noise", "gold"
    )
    frontier_figure(by_noise, out / "noise.png", title="label noise")
    fits = [r for r in runs if arm(r).endswith("default")]
    return "\n".join(
        [
            *lines,
            "Fits of d(α − β d) (best-of-n) and d(α − β ln d) (RL) to the gold curve of the "
            "default arms; α, β and R² are per run (mean ± SE), the predicted peak per run "
            "(median [IQR]); 'R² before "
            "saturation' fits the curve up to the point the policy saturates (n/a: runs made "
            "before it was recorded); 'R² of mean' fits the step-wise mean curve.",
            "",
            md_table(
                [
                    "optimizer",
                    "runs",
                    "α",
                    "β",
                    "R²",
                    "R² before saturation",
                    "R² of mean",
                    "predicted peak d* (median)",
                    "measured peak d",
                    "predicted peak gold (median)",
                    "measured peak gold",
                ],
                fit_rows(fits),
            ),
            "",
            "![curves](curves.png)",
            "",
            "![data](data.png)",
            "",
            "![noise](noise.png)",
            "",
        ]
    )
