"""The reward model as the environment (source 003): a proxy that learned "longer and more
polite is better" from data where that held near the reference policy drives RL to long,
over-polite responses that the proxy scores high and the gold low."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simrl.effects import metric_value
from simrl.reports._common import Run, ok_runs
from simrl.reports._protocol import (
    GOLD_END_AND_MATCHED,
    Comparison,
    Metric,
    protocol_page,
    summary_metric,
)


def lengths_figure(runs: list[Run], path: Path) -> Path:
    """Exact response-length distributions, reference vs optimized, mean ± SE over runs."""
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
    ax.set_ylabel("probability (exact), mean over runs")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, path)


def _change(final: str, ref: str, label: str) -> Metric:
    def get(run: Run) -> float | None:
        a, b = metric_value(run, final), metric_value(run, ref)
        return None if a is None or b is None else a - b

    return Metric(f"{final}-{ref}", label, get, 2)


ARM = "verbosity preset"
CHANGES = (
    _change("final_length", "ref_length", "Δ length"),
    _change("final_polite", "ref_polite", "Δ polite tokens"),
    summary_metric("final_proxy", "final proxy", 2),
    summary_metric("overoptimization", "gold peak − final gold", 2),
    *GOLD_END_AND_MATCHED,
)
TABLE = (
    summary_metric("ref_length", "reference length", 2),
    summary_metric("final_length", "final length", 2),
    summary_metric("ref_polite", "reference polite", 2),
    summary_metric("final_polite", "final polite", 2),
    summary_metric("peak_gold", "gold peak"),
    summary_metric("peak_sqrt_kl", "peak at √KL", 2),
    *CHANGES[2:],
    summary_metric("rm_test_acc", "proxy test acc."),
)
#: Source 003: RL against a proxy that learned "longer and more polite is better" writes
#: longer, more polite responses, which the proxy scores higher and the gold, past its peak,
#: lower.
# peak - final gold is never negative: a claimed fall must exceed the 0.1 SD gold margin
PREDICTED = {m.key: (1, 0.1 if m.key == "overoptimization" else 0.0) for m in CHANGES[:4]}


def report(runs: list[Run], out: Path) -> str:
    """Per-arm tables, the changes from the reference policy summarized over worlds,
    lengths.png, frontier.png; effects.json."""
    runs = ok_runs(runs)
    groups = {ARM: runs}
    lines, _ = protocol_page(
        "Verbosity: longer, more polite, worse",
        "verbosity",
        runs,
        lambda r: ARM,
        groups,
        TABLE,
        [
            Comparison(
                "the optimized policy against the reference policy", None, [ARM], CHANGES, PREDICTED
            )
        ],
        out,
        what="setting",
        intro=[
            "Length and politeness are exact expectations under each policy; gold and proxy "
            "are 0 for the reference policy by normalization, so final proxy and gold are "
            "changes from it. The effects below are per-run changes, summarized over worlds "
            "like a paired difference (the reference policy is each run's own baseline).",
            "",
        ],
    )
    lengths_figure(runs, out / "lengths.png")
    return "\n".join([*lines, "![lengths](lengths.png)", ""])
