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

The measures and their correlations are in :mod:`simrl.reports._accuracy_measures`, the
rows of the tables in :mod:`simrl.reports._accuracy_tables`; their public names are
re-exported here for existing callers (``N_RESAMPLES`` is read where it is defined: change
it in :mod:`simrl.reports._accuracy_measures`). This module writes the figure and the
report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simrl import effects as fx
from simrl.reports._accuracy_measures import (
    DENOISED,
    MEASURES,
    METHODS,
    N_RESAMPLES,
    PAIR_KEY,
    TAU_KEY,
    denoised,
    effect_cell,
    measure,
    measure_correlations,
    optimizer,
    pair_vs_multi,
    regularizer,
    short_optimizer,
)
from simrl.reports._accuracy_tables import (
    BIN_WIDTH,
    budget_rows,
    correlation_rows,
    factor_rows,
    spread_rows,
    within_noise_rows,
)
from simrl.reports._common import BUDGETS, Run, grouped, md_table, ok_runs
from simrl.reports._protocol import write_effects

__all__ = [
    "BIN_WIDTH",
    "DENOISED",
    "MARKERS",
    "MEASURES",
    "METHODS",
    "N_RESAMPLES",
    "PAIR_KEY",
    "PREDICTED",
    "TAU_KEY",
    "budget_rows",
    "correlation_rows",
    "denoised",
    "factor_rows",
    "measure",
    "measure_correlations",
    "optimizer",
    "pair_vs_multi",
    "regularizer",
    "report",
    "scatter_figure",
    "short_optimizer",
    "spread_rows",
    "within_noise_rows",
]

MARKERS = "os^Dvp*"


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
                title = f"{g}: Spearman within worlds {effect_cell(c['spearman'])}"
                ax.set_title(title, fontsize=8)
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
