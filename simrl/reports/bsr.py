"""BT against BSR, centering, hinge, LogitNorm and DR (Hong et al. 2025): robustness in the
four scenarios, hidden-norm dispersion, and the gold curve of an RLOO policy on each proxy."""

from __future__ import annotations

from pathlib import Path

from simrl.reports._common import (
    Run,
    bars_figure,
    curves_figure,
    fmt,
    grouped,
    md_table,
    ok_runs,
    summary_stat,
)


def method(run: Run) -> str:
    """The proxy's loss and regularizer, as a short label."""
    rm = run["config"]["rm"]
    if rm["bsr_lambda"] > 0:
        return f"BSR {rm['bsr_lambda']:g}"
    if rm["center_rewards_coefficient"] > 0:
        return f"centering {rm['center_rewards_coefficient']:g}"
    return {
        "bt": "BT",
        "margin": "margin-BT",
        "hinge": "hinge",
        "logitnorm": "LogitNorm",
        "dr": "DR",
    }[rm["loss"]]


COLUMNS = [
    ("rm_acc_in_domain", "in-domain acc."),
    ("rm_tau_prompt_ood", "prompt-OOD τ"),
    ("rm_tau_response_ood", "response-OOD τ"),
    ("rm_tau_mutual_ood", "mutual-OOD τ"),
    ("rm_hnorm_cv", "‖h‖ CV"),
    ("peak_gold", "gold peak"),
    ("final_gold", "final gold"),
    ("overoptimization", "over-opt."),
    ("final_length", "final length"),
]


def report(runs: list[Run], out: Path) -> str:
    """Table per method (mean ± SE over seeds), curves.png and robustness.png."""
    runs = ok_runs(runs)
    groups = grouped(runs, method)
    rows = [
        [
            g,
            len(rs),
            *(fmt(summary_stat(rs, k), 2 if k.endswith("length") else 3) for k, _ in COLUMNS),
        ]
        for g, rs in groups.items()
    ]
    curves_figure(runs, method, out / "curves.png")
    bars_figure(
        groups,
        [
            ("rm_tau_mutual_ood", "mutual-OOD Kendall τ"),
            ("rm_hnorm_cv", "hidden-norm CV (dispersion)"),
            ("final_gold", "final gold of RLOO"),
        ],
        out / "robustness.png",
        "mean ± SE over seeds",
    )
    return "\n".join(
        [
            "# BSR and the baselines: robustness, hidden norms, downstream gold",
            "",
            md_table(["proxy", "seeds", *(c for _, c in COLUMNS)], rows),
            "",
            "![curves](curves.png)",
            "",
            "![robustness](robustness.png)",
            "",
        ]
    )
