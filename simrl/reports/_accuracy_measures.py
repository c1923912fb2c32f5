"""The measures of the accuracy report (:mod:`simrl.reports.accuracy`): which accuracy
measures there are and how a run's value of one is read (:func:`measure`, with the label
noise undone by :func:`denoised`), the labels of a run's optimizer and regularizer, and the
correlations of a measure with NDR (or gold at a budget) within worlds, summarized across
worlds (:func:`measure_correlations`, :func:`pair_vs_multi`).
"""

from __future__ import annotations

import math
from typing import Any

from simrl import effects as fx
from simrl.reports._common import Run, gold_at
from simrl.stats import spearman_difference, within_world_correlation, within_world_statistic

# (key, label, kind): kind "pair", "multi" (several responses per prompt) or "other" (the
# proxy's reward scale, for contrast: not an accuracy). A key ending in DENOISED is the pair
# accuracy of that summary key corrected for the label noise of its test pairs (``denoised``).
DENOISED = ":denoised"
MEASURES = [
    ("rm_train_acc", "pair acc., training pairs", "pair"),
    ("rm_test_acc", "pair acc., in-domain", "pair"),
    ("rm_heldout_acc", "pair acc., held-out prompts", "pair"),
    ("rm_acc_response_ood", "pair acc., other policy's responses", "pair"),
    ("rm_acc_mutual_ood", "pair acc., held-out prompts × other policy", "pair"),
    ("rm_test_acc" + DENOISED, "de-noised pair acc., in-domain", "pair"),
    ("rm_heldout_acc" + DENOISED, "de-noised pair acc., held-out prompts", "pair"),
    ("rm_acc_response_ood" + DENOISED, "de-noised pair acc., other policy's responses", "pair"),
    ("rm_acc_mutual_ood" + DENOISED, "de-noised pair acc., held-out × other policy", "pair"),
    ("rm_tau_in_domain", "τ, in-domain", "multi"),
    ("rm_tau_prompt_ood", "τ, held-out prompts", "multi"),
    ("rm_tau_response_ood", "τ, other policy's responses", "multi"),
    ("rm_tau_mutual_ood", "τ, held-out prompts × other policy", "multi"),
    ("proxy_ref_std", "not accuracy: proxy reward std under the reference", "other"),
]
PAIR_KEY = "rm_test_acc" + DENOISED  # the accuracy of the bins and the scatter plot
TAU_KEY = "rm_tau_in_domain"
N_RESAMPLES = 2000  # bootstrap resamples of every interval
METHODS = ("pearson", "spearman")


def optimizer(run: Run) -> str:
    """The optimizer of a run and the point NDR is measured at, as a short label."""
    p = run["config"]["policy"]
    if p["optimizer"] == "bon":
        return f"best-of-n (n = {p['bon_n_max']})"
    name = {"rloo": "RLOO", "ppo": "PPO", "reinforce": "REINFORCE"}.get(
        p["optimizer"], p["optimizer"]
    )
    return f"{name} ({p['steps']} steps)"


def regularizer(run: Run) -> str:
    """The proxy's regularizer: plain Bradley–Terry, centering or BSR."""
    rm = run["config"]["rm"]
    if rm.get("bsr_lambda", 0) > 0:
        return f"BSR {rm['bsr_lambda']:g}"
    if rm["center_rewards_coefficient"] > 0:
        return f"centering {rm['center_rewards_coefficient']:g}"
    if rm.get("weight_decay", 0) > 0:
        return f"weight decay {rm['weight_decay']:g}"
    return "BT"


def short_optimizer(run: Run) -> str:
    """``RLOO``, ``best-of-n``: the optimizer without its budget (the key in effects.json)."""
    return optimizer(run).split(" (")[0]


def denoised(accuracy: float, label_noise: float) -> float:
    """Accuracy against the labels before flipping, from accuracy against flipped labels.

    Test pairs carry the run's own label noise: each label is flipped with probability
    epsilon independently of everything else, so the expected measured accuracy is
    (1 - eps) a + eps (1 - a) and a = (measured - eps) / (1 - 2 eps). That puts proxies
    trained (and hence tested) at different noise levels on one scale.
    """
    return (accuracy - label_noise) / (1.0 - 2.0 * label_noise)


def measure(run: Run, key: str) -> float | None:
    """The value of a measure (a summary key, or one with ``DENOISED``) for a run; None if
    missing or not finite."""
    base = key.removesuffix(DENOISED)
    v = run["summary"].get(base)
    if v is None or not math.isfinite(v):
        return None
    if key.endswith(DENOISED):
        eps = run["config"]["gold"]["label_noise"]
        return denoised(v, eps) if eps < 0.5 else None
    return float(v)


def _target(key: str) -> Any:
    """A y variable: ``"ndr"`` or ``"gold@d"`` (gold at sqrt(KL) = d)."""
    if key.startswith("gold@"):
        d = float(key.removeprefix("gold@"))
        return lambda r: gold_at(r, d)
    return lambda r: measure(r, key)


def _paired(runs: list[Run], key: str, y: str = "ndr") -> dict[int, tuple[list, list]]:
    """Per world, the (measure, y) values of the runs that have both."""
    get = _target(y)
    out: dict[int, tuple[list, list]] = {}
    for r in runs:
        a, b = measure(r, key), get(r)
        if a is not None and b is not None:
            xs, ys = out.setdefault(fx.world_of(r), ([], []))
            xs.append(a)
            ys.append(b)
    return out


def measure_correlations(runs: list[Run], key: str, y: str = "ndr") -> dict[str, fx.Effect] | None:
    """Pearson and Spearman correlations of ``key`` with ``y`` (NDR by default) within each
    world, summarized across worlds; None when no world has three usable runs."""
    xy = _paired(runs, key, y)
    out = {m: within_world_correlation(xy, m, N_RESAMPLES) for m in METHODS}
    return out if out["spearman"].n_worlds else None


def effect_cell(c: fx.Effect | None) -> str:
    """An effect as ``mean [low, high]`` for a table cell, ``n/a`` where undefined."""
    if c is None or not math.isfinite(c.mean):
        return "n/a"
    if not (math.isfinite(c.low) and math.isfinite(c.high)):
        return f"{c.mean:+.2f} [n/a]"
    return f"{c.mean:+.2f} [{c.low:+.2f}, {c.high:+.2f}]"


def per_world_cell(c: fx.Effect | None) -> str:
    """An effect's value in each world, in world order, for a table cell."""
    if c is None:
        return "n/a"
    return " ".join(f"{v:+.2f}" for _, v in sorted(c.per_world.items(), key=lambda kv: int(kv[0])))


def pair_vs_multi(runs: list[Run]) -> tuple[str, fx.Effect | None]:
    """Does in-domain τ (several responses per prompt) rank NDR better than de-noised
    in-domain pair accuracy? Spearman(τ, NDR) − Spearman(acc., NDR) within each world,
    summarized across worlds (Kim et al. 2025 predict > 0)."""
    get = _target("ndr")
    groups: dict[int, tuple[list, list, list]] = {}
    for r in runs:
        a, t, y = measure(r, PAIR_KEY), measure(r, TAU_KEY), get(r)
        if a is not None and t is not None and y is not None:
            for v, x in zip(
                groups.setdefault(fx.world_of(r), ([], [], [])), (a, t, y), strict=True
            ):
                v.append(x)
    e = within_world_statistic(groups, spearman_difference, N_RESAMPLES)
    if not e.n_worlds:
        return "Not enough runs to compare pair accuracy with multi-response τ.", None
    return (
        f"Spearman with NDR, in-domain τ minus de-noised in-domain pair accuracy, within "
        f"worlds: {effect_cell(e)} ({e.agree}/{e.n_worlds} worlds agree in sign; Wilcoxon p "
        f"{e.p:.3g}; per world {per_world_cell(e)}).",
        e,
    )
