"""Direct alignment and the policy-gradient family (examples/experiments/direct_alignment.toml).

Direct family: DPO, IPO, SLiC and chiPO at four betas, fitted to the proxy's own preference
pairs. Do they over-optimize (gold falls from its peak within the run; Rafailov et al. 2024),
how early (the peak's position in epochs), and does chiPO's link remove it (Huang et al.
2024)? Baseline: DPO at beta = 0.1; chiPO is also paired with DPO at its own beta.

Policy-gradient family: RLOO, PPO, GRPO and Dr. GRPO, each with and without the occupancy
chi^2 regularizer (Laidlaw et al. 2025), compared at matched sqrt(KL). Baseline: RLOO; each
chi^2 arm is paired with its method without it; GRPO with Dr. GRPO on length (Liu et al. 2025:
GRPO's per-response length normalization lengthens responses).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from simrl.reports._common import Run, grouped, ok_runs
from simrl.reports._figures import frontier_figure
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Comparison,
    Metric,
    protocol_page,
    summary_metric,
)

BASELINE_DIRECT = "DPO β=0.1"
BASELINE_PG = "RLOO"
DIRECT = {"dpo": "DPO", "ipo": "IPO", "slic": "SLiC", "chipo": "χPO"}
PG = ("RLOO", "PPO", "GRPO", "Dr. GRPO")
LENGTH_BUDGET = 2.0  # sqrt(KL) at which GRPO's and Dr. GRPO's lengths are compared


def arm(run: Run) -> str:
    """``DPO β=0.1``, ``IPO τ=0.3``; ``RLOO``, ``Dr. GRPO + χ² 0.3``."""
    p = run["config"]["policy"]
    opt = p["optimizer"]
    if opt in DIRECT:
        return f"{DIRECT[opt]} {'τ' if opt == 'ipo' else 'β'}={p['beta']:g}"
    name = {"rloo": "RLOO", "ppo": "PPO", "reinforce": "REINFORCE"}.get(opt)
    if opt == "grpo":
        name = "GRPO" if p.get("grpo_std_norm", True) else "Dr. GRPO"
    lam = p.get("occupancy_chi2", 0.0)
    return name + (f" + χ² {lam:g}" if lam > 0 else "")


def is_direct(run: Run) -> bool:
    return run["config"]["policy"]["optimizer"] in DIRECT


def steps_per_epoch(run: Run) -> int:
    """SGD steps in one pass over the training pairs (full batches only)."""
    n, b = run["config"]["data"]["n_pairs"], run["config"]["policy"]["dpo_batch_size"]
    return n // min(b, n)


def peak_epoch(run: Run) -> float | None:
    """Where gold peaks, in epochs (step / steps per epoch); None for policy gradient."""
    if not is_direct(run):
        return None
    return run["summary"]["peak_step"] / steps_per_epoch(run)


def curve_value_at(run: Run, key: str, d: float) -> float | None:
    """``key`` of the curve interpolated at sqrt(KL) = d along its first pass (None if the
    run never reaches d), as :func:`simrl.reports._common.gold_at` does for gold."""
    for a, b in itertools.pairwise(run["curve"]):
        if a["sqrt_kl"] <= d <= b["sqrt_kl"] and b["sqrt_kl"] > a["sqrt_kl"]:
            w = (d - a["sqrt_kl"]) / (b["sqrt_kl"] - a["sqrt_kl"])
            v = (1 - w) * a[key] + w * b[key]
            return v if math.isfinite(v) else None
    return None


DROP = Metric(
    "peak_gold-final_gold",
    "peak − final gold",
    lambda r: r["summary"]["peak_gold"] - r["summary"]["final_gold"],
)
EARLY = Metric(
    "peak_epoch-1",
    "peak epoch − 1",
    lambda r: None if peak_epoch(r) is None else peak_epoch(r) - 1.0,
    2,
)
DRIFT = summary_metric("final_sqrt_kl", "final √KL", 2)
PEAK = summary_metric("peak_gold", "gold peak")
OVEROPT = summary_metric("overoptimization", "peak − final gold")
CHI2 = summary_metric("final_occupancy_chi2", "final occupancy χ²", 2)
LENGTH = summary_metric("final_length", "final length", 2)
LENGTH_AT = Metric(
    f"length_at_sqrt_kl={LENGTH_BUDGET:g}",
    f"length at √KL={LENGTH_BUDGET:g}",
    lambda r: curve_value_at(r, "length", LENGTH_BUDGET),
    2,
)
TABLE_METRICS = (
    DRIFT,
    PEAK,
    summary_metric("peak_sqrt_kl", "peak at √KL", 2),
    Metric("peak_epoch", "peak epoch", peak_epoch, 2),
    *GOLD_END_AND_MATCHED,
    summary_metric("final_implicit_acc", "implicit acc. (held-out)"),
    CHI2,
    LENGTH,
)
EFFECTS = (DRIFT, PEAK, *GOLD_END_AND_MATCHED)


def _order(groups: dict[str, list[Run]]) -> dict[str, list[Run]]:
    """Direct arms by method then beta, then the policy-gradient arms, each without then with
    chi^2."""

    def key(g: str) -> tuple:
        p = groups[g][0]["config"]["policy"]
        if p["optimizer"] in DIRECT:
            return (0, list(DIRECT).index(p["optimizer"]), p["beta"])
        base = g.split(" + ")[0]
        return (1, PG.index(base) if base in PG else len(PG), p.get("occupancy_chi2", 0.0))

    return {g: groups[g] for g in sorted(groups, key=key)}


def comparisons(groups: dict[str, list[Run]]) -> list[Comparison]:
    """Every comparison of the page, with the predictions the papers make."""
    direct = [g for g in groups if is_direct(groups[g][0])]
    non_chipo = [g for g in direct if not g.startswith("χPO")]
    # Rafailov et al. 2024: DPO, IPO and SLiC degrade, often before one epoch is over
    # peak - final gold is never negative: a claimed drop must exceed the 0.1 SD gold margin
    drop_pred = {(g, DROP.key): (1, 0.1) for g in non_chipo}
    drop_pred |= {(g, EARLY.key): (-1, 0.0) for g in non_chipo}
    comps = [
        Comparison(
            "over-optimization within each run (direct)", None, direct, (DROP, EARLY), drop_pred
        ),
        Comparison(
            "the direct arms",
            BASELINE_DIRECT,
            [g for g in non_chipo if g != BASELINE_DIRECT],
            (*EFFECTS, OVEROPT),
            # Rafailov et al. 2024: a smaller beta goes further and degrades more
            {("DPO β=0.03", DRIFT.key): (1, 0.0), ("DPO β=0.03", OVEROPT.key): (1, 0.0)},
        ),
    ]
    for g in (g for g in direct if g.startswith("χPO")):
        dpo = "DPO β=" + g.split("=")[1]
        # Huang et al. 2024: chiPO's link is provably robust to over-optimization
        pred = {OVEROPT.key: (-1, 0.0), "final_gold": (1, 0.0)}
        comps.append(
            Comparison(f"χPO against DPO at {g.split()[1]}", dpo, [g], (*EFFECTS, OVEROPT), pred)
        )
    pg = [g for g in groups if not is_direct(groups[g][0])]
    plain = [g for g in pg if "χ²" not in g]
    comps.append(
        Comparison(
            "the policy-gradient methods",
            BASELINE_PG,
            [g for g in plain if g != BASELINE_PG],
            (*EFFECTS, OVEROPT),
        )
    )
    for g in (g for g in pg if "χ²" in g):
        base = g.split(" + ")[0]
        # Laidlaw et al. 2025: occupancy chi^2 prevents reward hacking
        pred = {m.key: (1, 0.0) for m in GOLD_END_AND_MATCHED} | {CHI2.key: (-1, 0.0)}
        comps.append(
            Comparison(f"occupancy χ² on {base}", base, [g], (*EFFECTS, OVEROPT, CHI2), pred)
        )
    if "GRPO" in groups and "Dr. GRPO" in groups:
        # Liu et al. 2025: GRPO's 1/|o| lengthens responses (Dr. GRPO removes it)
        comps.append(
            Comparison(
                "GRPO against Dr. GRPO (length)",
                "Dr. GRPO",
                ["GRPO"],
                (LENGTH, LENGTH_AT),
                {LENGTH.key: (1, 0.0)},
            )
        )
    return comps


def report(runs: list[Run], out: Path) -> str:
    """Per-arm tables; over-optimization within each direct run; paired effects against DPO
    β=0.1, of χPO against DPO at each β, against RLOO, of χ² against its method and of GRPO
    against Dr. GRPO; frontier figures per family and gold along training for the direct
    family; effects.json."""
    runs = ok_runs(runs)
    groups = _order(grouped(runs, arm))
    lines, _ = protocol_page(
        "Direct alignment and GRPO: over-optimization, χPO, occupancy χ²",
        "direct_alignment",
        runs,
        arm,
        groups,
        TABLE_METRICS,
        comparisons(groups),
        out,
        intro=[
            f"Baselines: **{BASELINE_DIRECT}** for the direct family (χPO also against DPO "
            f"at its own β), **{BASELINE_PG}** for the policy-gradient family (each χ² arm "
            "against its method without χ²). 'peak epoch': the checkpoint of highest gold, in "
            "passes over the training pairs; 'implicit acc.': the implicit reward's accuracy "
            "on fresh in-domain pairs at the end; 'final occupancy χ²': χ²(μ_π ‖ μ_ref) of "
            "the final policy.",
            "",
        ],
        frontier=False,
    )
    figs = []
    for method in DIRECT.values():
        chosen = {g: rs for g, rs in groups.items() if g.startswith(method + " ")}
        if chosen:
            name = f"frontier_{method.lower().replace('χ', 'chi')}.png"
            frontier_figure(chosen, out / name, title=method)
            figs.append(name)
    pg = {g: rs for g, rs in groups.items() if not is_direct(rs[0])}
    if pg:
        frontier_figure(pg, out / "frontier_pg.png", title="policy gradient")
        figs.append("frontier_pg.png")
    direct = {g: rs for g, rs in groups.items() if is_direct(rs[0])}
    if direct:
        epochs_figure(direct, out / "epochs.png")
        figs.append("epochs.png")
    lines += [f"![{f[:-4]}]({f})" for f in figs] + [""]
    return "\n".join(lines)


def epochs_figure(groups: dict[str, list[Run]], path: Path) -> Path:
    """Gold along training in epochs, one panel per direct method, one line per beta: per
    checkpoint the mean over worlds of the per-world mean (every run has every step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simrl import effects as fx
    from simrl.plots import _save

    methods = [m for m in DIRECT.values() if any(g.startswith(m + " ") for g in groups)]
    fig, axes = plt.subplots(
        1, len(methods), figsize=(3.4 * len(methods), 3.4), dpi=120, sharey=True, squeeze=False
    )
    for ax, m in zip(axes[0], methods, strict=True):
        for i, (g, rs) in enumerate(g_rs for g_rs in groups.items() if g_rs[0].startswith(m)):
            steps = [q["step"] for q in rs[0]["curve"]]
            per_world: dict[int, list[list[float]]] = {}
            for r in rs:
                if [q["step"] for q in r["curve"]] == steps:
                    per_world.setdefault(fx.world_of(r), []).append([q["gold"] for q in r["curve"]])
            mean = np.mean([np.mean(v, axis=0) for v in per_world.values()], axis=0)
            x = np.array(steps) / steps_per_epoch(rs[0])
            ax.plot(x, mean, "-", color=f"C{i}", lw=1.3, label=g.split(" ", 1)[1])
        ax.axvline(1.0, color="0.7", lw=0.8)
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("epochs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("gold (mean over worlds)")
    fig.tight_layout()
    return _save(fig, path)
