"""BT against BSR, centering, hinge, LogitNorm and DR (Hong et al. 2025, "On the Robustness of
Reward Models for Language Model Alignment"): robustness in the four scenarios, the dispersion
of hidden-state norms, and the gold of an RLOO policy trained on each proxy, at the end and at
matched sqrt(KL). Baseline: BT.

Hidden-norm dispersion is shown two ways. ``rm_hnorm_cv`` is the coefficient of variation of
‖h‖ over in-domain responses. Under BT the output bias gets no gradient, so the reward's
drifting offset is stored as a constant vector in h: that raises mean ‖h‖ and lowers the CV
without any input being represented differently. ``rm_hnorm_centered_cv``, the CV of
‖h − mean h‖, removes that vector; the paper's claim (BT's excessive dispersion of hidden-state
norms drives over-optimization, BSR reduces it) is about how representations spread across
inputs, so the centered statistic is the one it concerns.
"""

from __future__ import annotations

from pathlib import Path

from simrl.reports._common import Run, bars_figure, grouped, ok_runs
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Comparison,
    protocol_page,
    summary_metric,
)

BASELINE = "BT"
BSR = "BSR 0.001"  # the paper's default strength, the arm its claims are about
ACC_MARGIN = 0.01  # "keeps in-domain accuracy": within ±0.01


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


PROXY = (
    summary_metric("rm_acc_in_domain", "in-domain acc."),
    summary_metric("rm_tau_prompt_ood", "prompt-OOD τ"),
    summary_metric("rm_tau_response_ood", "response-OOD τ"),
    summary_metric("rm_tau_mutual_ood", "mutual-OOD τ"),
    summary_metric("rm_hnorm_cv", "‖h‖ CV"),
    summary_metric("rm_hnorm_centered_cv", "‖h − h̄‖ CV"),
    summary_metric("proxy_ref_std", "proxy SD on π_ref", 2),
)
POLICY = (
    summary_metric("final_sqrt_kl", "final √KL", 2),
    summary_metric("peak_gold", "gold peak"),
    *GOLD_END_AND_MATCHED,
    summary_metric("final_length", "final length", 2),
)
#: What Hong et al. predict for BSR against BT: (direction, margin).
PREDICTED = {
    (BSR, "rm_acc_in_domain"): (0, ACC_MARGIN),
    (BSR, "rm_tau_prompt_ood"): (1, 0.0),
    (BSR, "rm_tau_response_ood"): (1, 0.0),
    (BSR, "rm_tau_mutual_ood"): (1, 0.0),
    (BSR, "rm_hnorm_centered_cv"): (-1, 0.0),
    (BSR, "final_length"): (-1, 0.0),
    **{(BSR, m.key): (1, 0.0) for m in GOLD_END_AND_MATCHED},
}


def report(runs: list[Run], out: Path) -> str:
    """Per-proxy tables, paired effects against BT on the proxy and on the policy,
    frontier.png, effects.png, robustness.png; effects.json."""
    runs = ok_runs(runs)
    groups = grouped(runs, method, first=BASELINE)
    arms = [g for g in groups if g != BASELINE]
    lines, _ = protocol_page(
        "BSR and the baselines: robustness, hidden norms, downstream gold",
        "bsr",
        runs,
        method,
        groups,
        (*PROXY, *POLICY),
        [
            Comparison("the proxy", BASELINE, arms, PROXY, PREDICTED),
            Comparison("the RLOO policy", BASELINE, arms, POLICY, PREDICTED),
        ],
        out,
        what="proxy",
        intro=[
            f"Baseline: **{BASELINE}**. Predictions are Hong et al.'s for {BSR} against BT. "
            "‖h‖ CV: CV of hidden-state norms on in-domain responses; ‖h − h̄‖ CV: the same "
            "after removing the mean hidden vector, which under BT holds the reward's "
            "constant offset (the output bias gets no gradient) and inflates ‖h‖. The paper's "
            "claim is about how hidden states spread across inputs, so ‖h − h̄‖ CV is the "
            "statistic it concerns (n/a: runs made before it was recorded). 'proxy SD on π_ref' "
            "is the proxy's reward spread on reference responses, which sets the policy's "
            "step size unless rewards are normalized.",
            "",
        ],
    )
    bars_figure(
        groups,
        [
            ("rm_tau_mutual_ood", "mutual-OOD Kendall τ"),
            ("rm_hnorm_cv", "‖h‖ CV"),
            ("rm_hnorm_centered_cv", "‖h − h̄‖ CV"),
            ("final_gold", "final gold of RLOO"),
        ],
        out / "robustness.png",
        "mean ± SE over runs",
    )
    return "\n".join([*lines, "![robustness](robustness.png)", ""])
