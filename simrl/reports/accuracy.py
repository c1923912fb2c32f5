"""Is accuracy enough? How well a proxy's accuracy, measured several ways, predicts the
normalized drop ratio (NDR) of a policy optimized against it, under RL and best-of-n.

Sources: Wen, X., Lou, J., Lu, Y., Lin, H., Yu, X., Lu, X., He, B., Han, X., Zhang, D. and
Sun, L. (2025). "Rethinking Reward Model Evaluation: Are We Barking up the Wrong Tree?"
ICLR 2025, arXiv:2410.05584: in a synthetic setting, accuracy correlates only weakly
(positively) with the NDR of the optimized policy, policies from equally accurate reward
models differ a lot, and how accuracy is measured (e.g. several responses per prompt)
changes how well it predicts. Kim, S., Kang, D., Kwon, T., Chae, H., Lee, D. and Yeo, J.
(2025). "Rethinking Reward Model Evaluation Through the Lens of Reward Overoptimization".
ACL 2025, arXiv:2505.12763: benchmarks predict better with multiple comparisons per prompt
and responses from several models.

Accuracy measures (run summaries): pair accuracy on the training pairs, on fresh in-domain
pairs, on held-out prompts and on another reference policy's responses (also corrected for
the label noise of the test pairs, :func:`denoised`), and the mean per-prompt Kendall tau
between proxy and gold over ``eval.kendall_k`` responses per prompt in the four robustness
scenarios. Runs need ``eval.ndr = true`` (and ``eval.diagnostics``, the default, for the
scenario measures).

Worlds are the clustering unit: every correlation is computed within one world (over the
proxies of that world) and summarized across worlds
(:func:`simrl.stats.within_world_correlation`), so differences between worlds neither
create nor hide a relation, and the runs of a world are not counted as independent evidence.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from simrl import effects as fx
from simrl.reports._common import BUDGETS, Run, fmt, gold_at, grouped, md_table, ok_runs
from simrl.reports._protocol import write_effects
from simrl.stats import (
    mean_se,
    spearman_difference,
    within_world_correlation,
    within_world_statistic,
)

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
BIN_WIDTH = 0.02  # in-domain pair accuracy bins for the spread of NDR
MARKERS = "os^Dvp*"


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


#: Wen et al. 2025: accuracy on data the proxy was not trained on correlates (weakly)
#: positively with NDR; the training accuracy carries no such prediction.
PREDICTED = {k: (1, 0.0) for k, _, kind in MEASURES if kind != "other" and k != "rm_train_acc"}


def _entry(arm: str, key: str, label: str, e: fx.Effect, pred: tuple[int, float] | None):
    direction, margin = pred if pred else (None, None)
    return {
        "comparison": "correlation within worlds",
        "arm": arm,
        "baseline": None,
        "metric": key,
        "label": label,
        "digits": 2,
        **e.to_dict(),
        "direction": direction,
        "margin": margin,
        "verdict": None if direction is None else fx.verdict(e, direction, margin),
    }


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


def _stat(runs: list[Run], key: str) -> tuple[float, float, int]:
    return mean_se(measure(r, key) for r in runs)


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


def _cell(c: fx.Effect | None) -> str:
    if c is None or not math.isfinite(c.mean):
        return "n/a"
    if not (math.isfinite(c.low) and math.isfinite(c.high)):
        return f"{c.mean:+.2f} [n/a]"
    return f"{c.mean:+.2f} [{c.low:+.2f}, {c.high:+.2f}]"


def _per_world(c: fx.Effect | None) -> str:
    if c is None:
        return "n/a"
    return " ".join(f"{v:+.2f}" for _, v in sorted(c.per_world.items(), key=lambda kv: int(kv[0])))


def correlation_rows(runs: list[Run]) -> tuple[list[list[Any]], dict[str, Any]]:
    """Table rows (measure, runs, mean, Pearson and Spearman within worlds, worlds with a
    positive Spearman, per-world Spearman) and the correlations by summary key."""
    rows, corr = [], {}
    for key, label, _ in MEASURES:
        c = measure_correlations(runs, key)
        corr[key] = c
        s = c["spearman"] if c else None
        rows.append(
            [
                label,
                s.n_pairs if s else 0,
                fmt(_stat(runs, key)),
                *(_cell(c[m] if c else None) for m in METHODS),
                f"{sum(v > 0 for v in s.per_world.values())}/{s.n_worlds}" if s else "n/a",
                _per_world(s),
            ]
        )
    return rows, corr


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
        f"worlds: {_cell(e)} ({e.agree}/{e.n_worlds} worlds agree in sign; Wilcoxon p "
        f"{e.p:.3g}; per world {_per_world(e)}).",
        e,
    )


def budget_rows(groups: dict[str, list[Run]]) -> list[list[Any]]:
    """Within-world Spearman of de-noised in-domain pair accuracy and in-domain τ with the
    gold at each matched sqrt(KL) budget, per optimizer: does a more accurate proxy give
    more gold at the same distance from the reference?"""
    rows = []
    for g, rs in groups.items():
        for key in (PAIR_KEY, TAU_KEY):
            label = next(lb for k, lb, _ in MEASURES if k == key)
            cells = []
            for d in BUDGETS:
                c = measure_correlations(rs, key, f"gold@{d:g}")
                cells.append(_cell(c["spearman"] if c else None))
            rows.append([g, label, *cells])
    return rows


def spread_rows(groups: dict[str, list[Run]], key: str = PAIR_KEY) -> list[list[Any]]:
    """NDR among proxies of similar accuracy: per ``BIN_WIDTH`` bin of ``key`` holding at
    least two runs of some optimizer, the number of runs and, per optimizer, the min and max
    of NDR and their difference."""
    bins: dict[int, dict[str, list[float]]] = {}
    for g, rs in groups.items():
        pairs = [p for xs, ys in _paired(rs, key).values() for p in zip(xs, ys, strict=True)]
        for a, d in pairs:
            bins.setdefault(math.floor(a / BIN_WIDTH + 1e-9), {}).setdefault(g, []).append(d)
    rows = []
    for b in sorted(bins):
        if max(len(v) for v in bins[b].values()) < 2:
            continue
        row: list[Any] = [f"[{b * BIN_WIDTH:.2f}, {(b + 1) * BIN_WIDTH:.2f})"]
        row.append(max(len(v) for v in bins[b].values()))
        for g in groups:
            v = bins[b].get(g, [])
            row += (
                [f"{min(v):+.2f} … {max(v):+.2f}", f"{max(v) - min(v):.2f}"]
                if v
                else ["n/a", "n/a"]
            )
        rows.append(row)
    return rows


def _factor_values(runs: list[Run]) -> list[tuple[str, list[Run]]]:
    """(label, runs) per value of each proxy factor: label noise and data size in increasing
    order, then the regularizers in order of appearance."""
    out = []
    for name, get in (
        ("label noise", lambda r: r["config"]["gold"]["label_noise"]),
        ("pairs", lambda r: r["config"]["data"]["n_pairs"]),
    ):
        for v in sorted({get(r) for r in runs}):
            out.append((f"{name} {v:g}", [r for r in runs if get(r) == v]))
    out += [(f"regularizer {g}", rs) for g, rs in grouped(runs, regularizer).items()]
    return out


def factor_rows(groups: dict[str, list[Run]]) -> list[list[Any]]:
    """Mean ± SE of de-noised in-domain accuracy, in-domain τ and each optimizer's NDR per
    value of each proxy factor (label noise, data size, regularizer), over everything else."""
    every = [r for rs in groups.values() for r in rs]
    return [
        [
            label,
            fmt(_stat(rs, PAIR_KEY)),
            fmt(_stat(rs, TAU_KEY)),
            *(fmt(_stat([r for r in rs if optimizer(r) == g], "ndr")) for g in groups),
        ]
        for label, rs in _factor_values(every)
    ]


def within_noise_rows(groups: dict[str, list[Run]]) -> list[list[Any]]:
    """Spearman correlation (95% CI) of NDR with in-domain pair accuracy and with in-domain
    τ among the proxies of one label-noise level (the same test labels for all of them),
    per optimizer."""
    rows = []
    noises = sorted({r["config"]["gold"]["label_noise"] for rs in groups.values() for r in rs})
    for eps in noises:
        row: list[Any] = [f"{eps:g}"]
        for rs in groups.values():
            sub = [r for r in rs if r["config"]["gold"]["label_noise"] == eps]
            for key in ("rm_test_acc", TAU_KEY):
                c = measure_correlations(sub, key)
                row.append(_cell(c["spearman"] if c else None))
        rows.append(row)
    return rows


def scatter_figure(groups: dict[str, list[Run]], path: Path) -> Path:
    """NDR against in-domain pair accuracy and in-domain τ, one row per optimizer; color is
    the label noise, marker the number of training pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from simrl.plots import _save

    every = [r for rs in groups.values() for r in rs]
    noises = sorted({r["config"]["gold"]["label_noise"] for r in every})
    sizes = sorted({r["config"]["data"]["n_pairs"] for r in every})
    cmap = plt.get_cmap("viridis")
    color = {v: cmap(i / max(1, len(noises) - 1)) for i, v in enumerate(noises)}
    marker = {n: MARKERS[i % len(MARKERS)] for i, n in enumerate(sizes)}
    cols = [(PAIR_KEY, "de-noised pair accuracy, in-domain"), (TAU_KEY, "Kendall τ, in-domain")]
    fig, axes = plt.subplots(
        len(groups),
        len(cols),
        figsize=(4.2 * len(cols), 3.3 * len(groups)),
        dpi=120,
        squeeze=False,
    )
    for row, (g, rs) in zip(axes, groups.items(), strict=True):
        for ax, (key, xlabel) in zip(row, cols, strict=True):
            for r in rs:
                x, y = measure(r, key), measure(r, "ndr")
                if x is None or y is None:
                    continue
                ax.scatter(
                    x,
                    y,
                    s=22,
                    color=color[r["config"]["gold"]["label_noise"]],
                    marker=marker[r["config"]["data"]["n_pairs"]],
                    alpha=0.8,
                    edgecolors="none",
                )
            c = measure_correlations(rs, key)
            if c is not None:
                ax.set_title(f"{g}: Spearman within worlds {_cell(c['spearman'])}", fontsize=8)
            else:
                ax.set_title(g, fontsize=8)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_ylabel("NDR", fontsize=8)
            ax.axhline(0, color="0.6", lw=0.7)
            ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], ls="", marker="o", color=color[v], label=f"noise {v:g}") for v in noises
    ] + [Line2D([], [], ls="", marker=marker[n], color="0.4", label=f"{n} pairs") for n in sizes]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path)


def report(runs: list[Run], out: Path) -> str:
    """Correlations of NDR with every accuracy measure per optimizer, the spread of NDR
    within accuracy bins, marginal means per proxy factor, and scatter.png."""
    done = ok_runs(runs)
    groups = grouped([r for r in done if measure(r, "ndr") is not None], optimizer)
    lines = [
        "# Accuracy is not enough: proxy accuracy against NDR",
        "",
        f"{len(done)} of {len(runs)} runs finished; "
        + ", ".join(f"{g}: {len(rs)} with an NDR" for g, rs in groups.items())
        + f", in {len({fx.world_of(r) for r in done})} worlds.",
        "",
        "Worlds are the clustering unit: each correlation is computed over the proxies of one "
        "world, then summarized across worlds (mean [95% CI: bootstrap over worlds, then runs "
        "within each world, the correlation recomputed each time]), with the number of worlds "
        "where it is positive and the per-world values. With 4 worlds the interval is coarse "
        "and a Wilcoxon p cannot go below 0.125; no verdict is drawn from fewer than 4 worlds.",
        "",
    ]
    entries: list[dict[str, Any]] = []
    for g, rs in groups.items():
        rows, corr = correlation_rows(rs)
        sentence, diff = pair_vs_multi(rs)
        name = short_optimizer(rs[0])
        for key, label, _ in MEASURES:
            if corr[key]:
                entries.append(
                    _entry(
                        name,
                        f"spearman:{key}:ndr",
                        f"Spearman({label}, NDR)",
                        corr[key]["spearman"],
                        PREDICTED.get(key),
                    )
                )
        if diff is not None:
            entries.append(
                _entry(
                    name,
                    "spearman:tau-minus-pair:ndr",
                    "Spearman with NDR: in-domain τ − de-noised pair acc.",
                    diff,
                    (1, 0.0),
                )
            )
        lines += [
            f"## {g}: correlation of NDR with each measure, within worlds (95% CI)",
            "",
            md_table(
                [
                    "measure",
                    "runs",
                    "mean",
                    "Pearson",
                    "Spearman",
                    "worlds with Spearman > 0",
                    "Spearman per world",
                ],
                rows,
            ),
            "",
            sentence,
            "",
        ]
    lines += [
        "## At matched sqrt(KL): Spearman of gold with accuracy and τ, within worlds",
        "",
        "Gold at a fixed distance from the reference, so a proxy's reward scale (which sets "
        "how far a fixed number of RL steps goes) does not enter; n/a where too few runs "
        "reach the budget.",
        "",
        md_table(
            ["optimizer", "measure", *(f"gold at √KL={d:g}" for d in BUDGETS)],
            budget_rows(groups),
        ),
        "",
    ]
    lines += [
        "## Spread of NDR among proxies of similar de-noised in-domain pair accuracy",
        "",
        md_table(
            [
                "de-noised acc.",
                "proxies",
                *(c for g in groups for c in (f"NDR {g}: min … max", "range")),
            ],
            spread_rows(groups),
        ),
        "",
        "## Within one label-noise level: Spearman of NDR with in-domain pair acc. and τ",
        "",
        md_table(
            ["label noise", *(c for g in groups for c in (f"{g}: pair acc.", f"{g}: τ"))],
            within_noise_rows(groups),
        ),
        "",
        "## Means per proxy factor (± SE, over everything else)",
        "",
        md_table(
            [
                "proxies",
                "de-noised in-domain acc.",
                "in-domain τ",
                *(f"NDR {g}" for g in groups),
            ],
            factor_rows(groups),
        ),
        "",
    ]
    write_effects(out, "accuracy", entries)
    if groups:
        scatter_figure(groups, out / "scatter.png")
        lines += ["![scatter](scatter.png)", ""]
    return "\n".join(lines)
