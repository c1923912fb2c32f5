"""The reward model as the environment (source 003): a proxy that learned "longer and more
polite is better" from data where that held near the reference policy drives RL to long,
over-polite responses that the proxy scores high and the gold low."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simrl.reports._common import Run, curves_figure, fmt, md_table, ok_runs, summary_stat


def lengths_figure(runs: list[Run], path: Path) -> Path:
    """Exact response-length distributions, reference vs optimized, mean ± SE over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simrl.plots import _save

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    width = 0.4
    for shift, key, color, label in (
        (-1, "reference", "tab:grey", "reference policy"),
        (1, "final", "tab:orange", "after RLOO on the proxy"),
    ):
        arr = np.array([r["extras"]["length_dist"][key] for r in runs], float)
        se = arr.std(axis=0, ddof=1) / np.sqrt(len(arr)) if len(arr) > 1 else None
        x = np.arange(arr.shape[1])
        ax.bar(
            x + shift * width / 2,
            arr.mean(axis=0),
            width,
            yerr=se,
            color=color,
            label=label,
            capsize=2,
        )
    ax.set_xticks(np.arange(arr.shape[1]))
    ax.set_xlabel("response length (tokens)")
    ax.set_ylabel("probability (exact), mean over seeds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)


def report(runs: list[Run], out: Path) -> str:
    """Before/after length and politeness, gold and proxy; lengths.png and curves.png."""
    runs = ok_runs(runs)
    keys = [
        ("ref_length", "final_length", "mean length"),
        ("ref_polite", "final_polite", "polite tokens per response"),
    ]
    rows = [
        [label, fmt(summary_stat(runs, a), 2), fmt(summary_stat(runs, b), 2)]
        for a, b, label in keys
    ]
    rows += [
        ["gold", "0 (by normalization)", fmt(summary_stat(runs, "final_gold"), 2)],
        ["proxy", "0 (by normalization)", fmt(summary_stat(runs, "final_proxy"), 2)],
    ]
    peak = md_table(
        ["gold peak", "at sqrt(KL)", "over-optimization", "proxy test acc."],
        [
            [
                fmt(summary_stat(runs, "peak_gold")),
                fmt(summary_stat(runs, "peak_sqrt_kl"), 2),
                fmt(summary_stat(runs, "overoptimization")),
                fmt(summary_stat(runs, "rm_test_acc")),
            ]
        ],
    )
    per_seed = md_table(
        ["seed", "final length", "polite tokens", "final gold", "final proxy", "gold peak"],
        [
            [
                r["config"]["seed"],
                f"{r['summary']['final_length']:.2f}",
                f"{r['summary']['final_polite']:.2f}",
                f"{r['summary']['final_gold']:.2f}",
                f"{r['summary']['final_proxy']:.2f}",
                f"{r['summary']['peak_gold']:.2f}",
            ]
            for r in sorted(runs, key=lambda r: r["config"]["seed"])
        ],
    )
    lengths_figure(runs, out / "lengths.png")
    curves_figure(runs, lambda r: "verbosity preset", out / "curves.png")
    return "\n".join(
        [
            "# Verbosity: longer, more polite, worse",
            "",
            f"{len(runs)} seeds; mean ± SE over seeds; length and politeness are exact "
            "expectations under each policy.",
            "",
            md_table(["", "reference policy", "after RLOO on the proxy"], rows),
            "",
            peak,
            "",
            "Per seed:",
            "",
            per_seed,
            "",
            "![lengths](lengths.png)",
            "",
            "![curves](curves.png)",
            "",
        ]
    )
