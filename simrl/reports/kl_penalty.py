"""The KL penalty (source 002): how far the policy drifts for each ``kl_coef``, whether the
penalty changes the gold-vs-sqrt(KL) frontier or only where on it the run stops (Gao et al.
2023 report the latter), and how the estimators k1, k2 and k3 compare at one coefficient
(Liu et al. 2025: k1 in the reward and k2 as a sequence loss give the gradient of
KL(pi || pi_ref); k3 as a per-token loss gives that of KL(pi_ref || pi)).

Baselines: ``kl_coef = 0`` for the coefficient sweep (k1), and k1 at the coefficient of the
estimator arms for the estimators.
"""

from __future__ import annotations

from pathlib import Path

from simrl.reports._common import Run, grouped, ok_runs
from simrl.reports._figures import frontier_figure
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Comparison,
    protocol_page,
    summary_metric,
)

BASELINE = "kl_coef=0"
ESTIMATOR_COEF = 0.3  # kl_coef of the k1/k2/k3 comparison
FRONTIER_MARGIN = 0.1  # gold units: "the same frontier" means within ±0.1 at matched sqrt(KL)
K2_MARGIN = 0.5  # sqrt(KL) units: "k2 ends where k1 ends" means within ±0.5

DRIFT = summary_metric("final_sqrt_kl", "final √KL", 2)
TABLE_METRICS = (
    DRIFT,
    summary_metric("peak_gold", "gold peak"),
    summary_metric("peak_sqrt_kl", "peak at √KL", 2),
    *GOLD_END_AND_MATCHED,
    summary_metric("final_proxy", "final proxy", 2),
)


def arm(run: Run) -> str:
    """``kl_coef=0.3`` (k1), ``kl_coef=0.3, k3`` (another estimator)."""
    p = run["config"]["policy"]
    est = "k1" if p["kl_estimator"] == "auto" else p["kl_estimator"]  # auto is k1 for rloo
    return f"kl_coef={p['kl_coef']:g}" + ("" if est == "k1" else f", {est}")


def _coef(rs: list[Run]) -> tuple[float, str]:
    p = rs[0]["config"]["policy"]
    return p["kl_coef"], "k1" if p["kl_estimator"] == "auto" else p["kl_estimator"]


def report(runs: list[Run], out: Path) -> str:
    """Per-arm tables; paired effects of every coefficient against kl_coef = 0 and of k2 and
    k3 against k1; frontier figures and the per-world effects; effects.json."""
    runs = ok_runs(runs)
    groups = dict(sorted(grouped(runs, arm).items(), key=lambda kv: _coef(kv[1])))
    k1 = {g: rs for g, rs in groups.items() if _coef(rs)[1] == "k1"}
    est_base = f"kl_coef={ESTIMATOR_COEF:g}"
    estimators = [g for g, rs in groups.items() if _coef(rs)[1] != "k1"]
    comps = [
        Comparison(
            "every kl_coef (k1)",
            BASELINE,
            [g for g in k1 if g != BASELINE],
            (DRIFT, *GOLD_END_AND_MATCHED),
            {
                "final_sqrt_kl": (-1, 0.0),
                **{m.key: (0, FRONTIER_MARGIN) for m in GOLD_END_AND_MATCHED[1:]},
            },
        ),
        Comparison(
            f"estimators at kl_coef={ESTIMATOR_COEF:g}",
            est_base,
            estimators,
            (DRIFT, *GOLD_END_AND_MATCHED),
            {(f"{est_base}, k2", "final_sqrt_kl"): (0, K2_MARGIN)},  # none for k3
        ),
    ]
    lines, _ = protocol_page(
        "The KL penalty: drift, the frontier, and the estimators",
        "kl_penalty",
        runs,
        arm,
        groups,
        TABLE_METRICS,
        comps,
        out,
        what="penalty",
        intro=[
            f"Baselines: **{BASELINE}** for the coefficients (k1), **{est_base}** (k1) for "
            f"the estimators. 'Paper predicts ≈ 0 (±m)': gold at matched √KL within "
            f"±{FRONTIER_MARGIN:g} of no penalty (Gao et al.: the penalty moves where the run "
            f"stops, not the frontier); final √KL of k2 within ±{K2_MARGIN:g} of k1 (Liu et "
            "al.: the same gradient on-policy).",
            "",
        ],
        frontier=False,
    )
    frontier_figure(k1, out / "frontier.png", title="kl_coef (k1)")
    lines += ["![frontier](frontier.png)", ""]
    if estimators:
        chosen = {g: groups[g] for g in (BASELINE, est_base, *estimators) if g in groups}
        frontier_figure(chosen, out / "estimators.png", title="estimators")
        lines += ["![estimators](estimators.png)", ""]
    return "\n".join(lines)
