"""The published findings docs/findings.md tests, :data:`FINDINGS`: each :class:`Finding`
maps a claim to (page, arm, metrics, predicted direction). A finding checked at several
metrics (e.g. gold at the end and at matched sqrt(KL) budgets) gets one verdict per metric
(:func:`simrl.effects.verdict`) and one overall (:func:`simrl.effects.combine`). Later
experiments add rows here.
"""

from __future__ import annotations

from dataclasses import dataclass

from simrl.reports._common import BUDGETS

MATCHED = tuple(f"gold_at_sqrt_kl={d:g}" for d in BUDGETS)


@dataclass(frozen=True)
class Finding:
    """A published claim and where simrl tests it.

    Attributes:
        paper: Short citation.
        claim: The claim, in a sentence.
        reported: What the paper reports (a number where it gives one).
        page: The experiment page (docs/experiments/<page>.md and its effects.json).
        arm: The arm of the page's effects (``effects.json`` ``arm``).
        metrics: Metric keys of that arm; the first is shown, all get a verdict.
        direction: Predicted sign of arm - baseline (0: no effect, within ``margin``).
        margin: For ``direction = 0``, the half-width of "no effect"; for a one-sided
            statistic (a run's peak minus final gold, never negative), the size a claimed
            effect must exceed. Gold margins are 0.1 reference SD throughout.
    """

    paper: str
    claim: str
    reported: str
    page: str
    arm: str
    metrics: tuple[str, ...]
    direction: int
    margin: float = 0.0


GAO = "Gao, Schulman & Hilton 2023"
HONG = "Hong et al. 2025 (BSR)"
RAFAILOV = "Rafailov et al. 2024 (DAA over-optimization)"
HUANG = "Huang et al. 2024 (χPO)"
FINDINGS: tuple[Finding, ...] = (
    Finding(
        GAO,
        "The KL penalty acts like early stopping: it does not change gold at a given KL",
        "qualitative: penalized and unpenalized RL runs share one gold-vs-KL frontier",
        "kl_penalty",
        "kl_coef=0.3",
        MATCHED,
        0,
        0.1,
    ),
    Finding(
        "Liu et al. 2025 (KL regularization)",
        "k2 as a sequence-level loss has the gradient of k1 in the reward, on-policy",
        "exact (derivation); simrl: final √KL of k2 within ±0.5 of k1 at kl_coef 0.3",
        "kl_penalty",
        "kl_coef=0.3, k2",
        ("final_sqrt_kl",),
        0,
        0.5,
    ),
    Finding(
        GAO,
        "More preference data: a higher gold peak and more gold at a given KL",
        "qualitative (the RM data-size sweep)",
        "scaling",
        "RL, 8000 pairs",
        ("peak_gold", *MATCHED),
        1,
    ),
    Finding(
        GAO,
        "β of the RL form falls as the proxy grows",
        "qualitative: β falls smoothly with RM size; α_RL roughly constant",
        "capacity",
        "RL (RLOO), width",
        ("slope:fit_beta",),
        -1,
    ),
    Finding(
        GAO,
        "β of the best-of-n form falls as the proxy grows",
        "qualitative: β falls smoothly with RM size",
        "capacity",
        "best-of-n, width",
        ("slope:fit_beta",),
        -1,
    ),
    Finding(
        GAO,
        "A larger proxy gives more gold at a given KL (RL)",
        "qualitative",
        "capacity",
        "RL (RLOO), width",
        tuple(f"slope:{m}" for m in MATCHED),
        1,
    ),
    Finding(
        HONG,
        "BSR keeps in-domain accuracy",
        "comparable in-domain accuracy to BT",
        "bsr",
        "BSR 0.001",
        ("rm_acc_in_domain",),
        0,
        0.01,
    ),
    Finding(
        HONG,
        "BSR ranks better out of domain than BT (prompt-, response-, mutual-OOD)",
        "improves robustness in all four over-optimization scenarios",
        "bsr",
        "BSR 0.001",
        ("rm_tau_mutual_ood", "rm_tau_prompt_ood", "rm_tau_response_ood"),
        1,
    ),
    Finding(
        HONG,
        "BT's hidden-state norms are excessively dispersed; BSR reduces the dispersion",
        "dispersion of hidden-state norms named as the main source of over-optimization",
        "bsr",
        "BSR 0.001",
        ("rm_hnorm_centered_cv",),
        -1,
    ),
    Finding(
        HONG,
        "A policy optimized against the BSR proxy keeps more gold than against BT",
        "better downstream alignment with BSR",
        "bsr",
        "BSR 0.001",
        ("final_gold", *MATCHED),
        1,
    ),
    Finding(
        HONG,
        "Under a learned, unbounded, pretrained proxy BT's centered hidden norms are more "
        "dispersed than BSR's",
        "dispersion of hidden-state norms named as the main source of over-optimization",
        "mechanism",
        "BSR 0.001",
        ("rm_hnorm_centered_cv", "rm_response_ood_hnorm_centered_cv", "rm_final_hnorm_centered_cv"),
        -1,
    ),
    Finding(
        HONG,
        "Proxies whose hidden norms are more dispersed rank worse out of domain (within worlds)",
        "qualitative: dispersion goes with lower OOD Kendall τ",
        "mechanism",
        "Spearman with ‖h − h̄‖ CV",
        ("spearman:rm_tau_response_ood", "spearman:rm_tau_mutual_ood"),
        -1,
    ),
    Finding(
        HONG,
        "Proxies whose hidden norms are more dispersed over-optimize more at matched KL",
        "qualitative: dispersion drives over-optimization",
        "mechanism",
        "Spearman with ‖h − h̄‖ CV",
        tuple(f"spearman:gap_at_sqrt_kl={d:g}" for d in BUDGETS),
        1,
    ),
    Finding(
        "Source 000 (regularization against underdetermination)",
        "A penalty on (r_w + r_l)² keeps the reward scores from drifting",
        "qualitative",
        "regularization",
        "centering 0.01, 30 epochs",
        ("abs_last_reward_mean",),
        -1,
    ),
    Finding(
        "Source 003 (the reward model as environment)",
        "RL against a proxy that favours length writes longer responses",
        "qualitative",
        "verbosity",
        "verbosity preset",
        ("final_length-ref_length",),
        1,
    ),
    Finding(
        "Source 003 (the reward model as environment)",
        "... and the gold falls past its peak",
        "qualitative",
        "verbosity",
        "verbosity preset",
        ("overoptimization",),
        1,
        0.1,
    ),
    Finding(
        "Wen et al. 2025",
        "Proxy accuracy correlates weakly positively with the NDR of the RL policy",
        "'a weak positive correlation between accuracy and downstream performance'",
        "accuracy",
        "RLOO",
        ("spearman:rm_test_acc:denoised:ndr",),
        1,
    ),
    Finding(
        "Kim et al. 2025",
        "Several responses per prompt predict the policy better than pair accuracy",
        "qualitative",
        "accuracy",
        "RLOO",
        ("spearman:tau-minus-pair:ndr",),
        1,
    ),
    Finding(
        RAFAILOV,
        "DPO over-optimizes: the gold falls from its peak as training goes on",
        "direct alignment degrades at larger KL budgets (TL;DR, several β and model sizes)",
        "direct_alignment",
        "DPO β=0.1",
        ("peak_gold-final_gold",),
        1,
        0.1,
    ),
    Finding(
        RAFAILOV,
        "... and the gold peaks before the first epoch is over",
        "'often before even a single epoch of the dataset is completed'",
        "direct_alignment",
        "DPO β=0.1",
        ("peak_epoch-1",),
        -1,
    ),
    Finding(
        RAFAILOV,
        "IPO over-optimizes too",
        "as DPO",
        "direct_alignment",
        "IPO τ=0.1",
        ("peak_gold-final_gold",),
        1,
        0.1,
    ),
    Finding(
        RAFAILOV,
        "SLiC over-optimizes too",
        "as DPO",
        "direct_alignment",
        "SLiC β=0.1",
        ("peak_gold-final_gold",),
        1,
        0.1,
    ),
    Finding(
        RAFAILOV,
        "A smaller β goes further from π_ref and over-optimizes more",
        "degradation grows with the KL budget",
        "direct_alignment",
        "DPO β=0.03",
        ("final_sqrt_kl", "overoptimization"),
        1,
    ),
    Finding(
        HUANG,
        "χPO over-optimizes less than DPO at the same β",
        "provably robust to over-optimization; more stable than DPO (TL;DR)",
        "direct_alignment",
        "χPO β=0.1",
        ("overoptimization",),
        -1,
    ),
    Finding(
        HUANG,
        "χPO ends with more gold than DPO at the same β",
        "higher win rates than DPO (TL;DR)",
        "direct_alignment",
        "χPO β=0.1",
        ("final_gold",),
        1,
    ),
    Finding(
        "Laidlaw et al. 2025 (correlated proxies)",
        "Occupancy-measure χ² regularization keeps more gold at a given KL",
        "prevents reward hacking better than action-distribution KL",
        "direct_alignment",
        "RLOO + χ² 0.3",
        ("final_gold", *MATCHED),
        1,
    ),
    Finding(
        "Liu et al. 2025 (Dr. GRPO)",
        "GRPO's per-response length normalization lengthens responses",
        "response length grows under GRPO; Dr. GRPO removes the bias",
        "direct_alignment",
        "GRPO",
        ("final_length",),
        1,
    ),
)
