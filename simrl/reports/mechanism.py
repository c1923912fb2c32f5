"""The BSR paper's mechanism (Hong et al. 2025) under a learned, unbounded, pretrained proxy
(docs/experiments/mechanism.md): BT against BSR on the dispersion of the centered hidden
norm, and within-world correlations across runs of that dispersion with out-of-domain
Kendall tau and with over-optimization at matched sqrt(KL).

Over-optimization at a matched budget d is the proxy - gold gap at sqrt(KL) = d (both
normalized: reference policy 0, reference SD 1), interpolated along the curve: what the
proxy promises beyond what the gold delivers. Correlations are Spearman's, computed within
each world over its runs (both arms) and summarized across worlds
(:func:`simrl.stats.within_world_correlation`), so differences between worlds do not pass
for a relation between dispersion and outcome.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from simrl import effects as fx
from simrl.reports._common import BUDGETS, Run, bars_figure, grouped, ok_runs
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Comparison,
    Metric,
    effects_table,
    gold_at_metric,
    protocol_page,
    summary_metric,
    write_effects,
)
from simrl.stats import within_world_correlation

BASELINE = "BT"
BSR = "BSR 0.001"
DISPERSION = summary_metric("rm_hnorm_centered_cv", "‖h − h̄‖ CV (reference)")


def arm(run: Run) -> str:
    """BT, or BSR with its strength."""
    lam = run["config"]["rm"]["bsr_lambda"]
    return f"BSR {lam:g}" if lam > 0 else BASELINE


def gap_at(run: Run, d: float) -> float | None:
    """Proxy - gold at sqrt(KL) = d, interpolated along the curve's first pass through d;
    None if the run never reaches d."""
    for a, b in itertools.pairwise(run["curve"]):
        if a["sqrt_kl"] <= d <= b["sqrt_kl"] and b["sqrt_kl"] > a["sqrt_kl"]:
            w = (d - a["sqrt_kl"]) / (b["sqrt_kl"] - a["sqrt_kl"])
            return (1 - w) * (a["proxy"] - a["gold"]) + w * (b["proxy"] - b["gold"])
    return None


def gap_metric(d: float) -> Metric:
    """Over-optimization at sqrt(KL) = d (:func:`gap_at`)."""
    return Metric(f"gap_at_sqrt_kl={d:g}", f"proxy − gold at √KL={d:g}", lambda r: gap_at(r, d))


GAPS = tuple(gap_metric(d) for d in BUDGETS)
PROXY = (
    summary_metric("rm_acc_in_domain", "in-domain acc."),
    DISPERSION,
    summary_metric("rm_response_ood_hnorm_centered_cv", "‖h − h̄‖ CV (response-OOD)"),
    summary_metric("rm_final_hnorm_centered_cv", "‖h − h̄‖ CV (final policy)"),
    summary_metric("rm_fit_hnorm_centered_cv_last", "‖h − h̄‖ CV (last epoch)"),
    summary_metric("rm_hr_corr", "corr(‖h‖, |r − r̄|)"),
    summary_metric("rm_erank", "effective rank", 2),
    summary_metric("rm_tau_response_ood", "response-OOD τ"),
    summary_metric("rm_tau_mutual_ood", "mutual-OOD τ"),
    summary_metric("rm_trunk_rel_change", "trunk moved (rel.)"),
    summary_metric("rm_pretrain_gold_corr", "pretraining gold corr."),
)
POLICY = (
    summary_metric("final_sqrt_kl", "final √KL", 2),
    summary_metric("overoptimization", "over-opt. (peak − end)"),
    *GOLD_END_AND_MATCHED,
    *GAPS,
)
#: Prediction 1 (BSR - BT): less dispersion on every response set.
PREDICTED = {
    (BSR, m): (-1, 0.0)
    for m in (
        "rm_hnorm_centered_cv",
        "rm_response_ood_hnorm_centered_cv",
        "rm_final_hnorm_centered_cv",
        "rm_fit_hnorm_centered_cv_last",
    )
}
#: Predictions 2 and 3: the sign of Spearman(dispersion, outcome) within worlds.
OUTCOMES = (
    (summary_metric("rm_tau_response_ood", "response-OOD τ"), -1),
    (summary_metric("rm_tau_mutual_ood", "mutual-OOD τ"), -1),
    *((g, 1) for g in GAPS),
    *((gold_at_metric(d), -1) for d in BUDGETS),
)
CORR_ARM = "Spearman with ‖h − h̄‖ CV"


def correlation_entries(runs: list[Run]) -> list[dict[str, Any]]:
    """effects.json entries: per outcome, the within-world Spearman correlation of the
    dispersion with it across runs (both arms), with the predicted sign."""
    entries = []
    for m, direction in OUTCOMES:
        xy: dict[int, tuple[list[float], list[float]]] = {}
        for r in runs:
            x, y = DISPERSION.get(r), m.get(r)
            if x is not None and y is not None:
                xs, ys = xy.setdefault(fx.world_of(r), ([], []))
                xs.append(x)
                ys.append(y)
        e = within_world_correlation(xy, "spearman")
        entries.append(
            {
                "comparison": "Spearman correlation across runs, within worlds",
                "arm": CORR_ARM,
                "baseline": None,
                "metric": f"spearman:{m.key}",
                "label": m.label,
                "digits": 3,
                **e.to_dict(),
                "direction": direction,
                "margin": 0.0,
                "verdict": fx.verdict(e, direction, 0.0),
            }
        )
    return entries


def report(runs: list[Run], out: Path) -> str:
    """Per-arm tables, paired effects of BSR against BT, the within-world correlations,
    frontier.png, effects.png, dispersion.png; effects.json."""
    runs = ok_runs(runs)
    groups = grouped(runs, arm, first=BASELINE)
    arms = [g for g in groups if g != BASELINE]
    lines, entries = protocol_page(
        "The BSR mechanism under a learned, unbounded, pretrained proxy",
        "mechanism",
        runs,
        arm,
        groups,
        (*PROXY, *POLICY),
        [
            Comparison("the proxy", BASELINE, arms, PROXY, PREDICTED),
            Comparison("the RLOO policy", BASELINE, arms, POLICY, PREDICTED),
        ],
        out,
        intro=[
            f"Baseline: **{BASELINE}**. Prediction 1: {BSR} − BT < 0 for every ‖h − h̄‖ CV. "
            "Predictions 2 and 3: within-world Spearman correlations of ‖h − h̄‖ CV "
            "(reference responses) with OOD τ (< 0), with proxy − gold at matched √KL (> 0) "
            "and with gold at matched √KL (< 0).",
            "",
        ],
    )
    corr = correlation_entries(runs)
    write_effects(out, "mechanism", entries + corr)
    lines += [
        "Within-world Spearman correlations across runs (both arms) of ‖h − h̄‖ CV with:",
        "",
        effects_table(corr),
        "",
    ]
    bars_figure(
        groups,
        [
            ("rm_hnorm_centered_cv", "‖h − h̄‖ CV (reference)"),
            ("rm_final_hnorm_centered_cv", "‖h − h̄‖ CV (final policy)"),
            ("rm_tau_response_ood", "response-OOD τ"),
            ("final_gold", "final gold of RLOO"),
        ],
        out / "dispersion.png",
        "mean ± SE over runs",
    )
    return "\n".join([*lines, "![dispersion](dispersion.png)", ""])
