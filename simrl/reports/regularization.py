"""Regularization against reward underdetermination (source 000; Eisenstein et al. 2023).

Bradley-Terry depends on reward differences only, so the offset of the rewards is free and
can drift during training; the per-pair centering term c mean (r_w + r_l)^2 pins it. The
report follows the mean and the spread of every reward the proxy produced, epoch by epoch
(``rm_history``, first member), and compares accuracies at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simrl.reports._common import Run, grouped, ok_runs
from simrl.reports._protocol import Comparison, Metric, protocol_page, summary_metric


def method(run: Run) -> str:
    """BT, centering c or BSR lambda."""
    rm = run["config"]["rm"]
    if rm["center_rewards_coefficient"] > 0:
        return f"centering {rm['center_rewards_coefficient']:g}"
    if rm["bsr_lambda"] > 0:
        return f"BSR {rm['bsr_lambda']:g}"
    return "BT"


def method_epochs(run: Run) -> str:
    """The method and the length of the fit."""
    return f"{method(run)}, {run['config']['rm']['epochs']} epochs"


def history(runs: list[Run], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and standard error over runs of ``rm_history[key]`` (first member)."""
    arr = np.array([r["extras"]["rm_history"][key][0] for r in runs], float)
    se = arr.std(axis=0, ddof=1) / np.sqrt(len(arr)) if len(arr) > 1 else np.zeros(arr.shape[1])
    return arr.mean(axis=0), se


def figure(groups: dict[str, list[Run]], path: Path) -> Path:
    """Reward mean and spread over training epochs, mean ± SE over seeds, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simrl.plots import _save

    fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8), dpi=120)
    for i, (name, rs) in enumerate(groups.items()):
        for ax, key in zip(axes, ("reward_mean", "reward_std"), strict=True):
            m, se = history(rs, key)
            epochs = np.arange(1, m.size + 1)
            ax.plot(epochs, m, color=f"C{i}", label=f"{name} (n={len(rs)})")
            ax.fill_between(epochs, m - se, m + se, color=f"C{i}", alpha=0.2, lw=0)
    axes[0].set_title("mean of the proxy's rewards during training", fontsize=9)
    axes[1].set_title("standard deviation of the proxy's rewards", fontsize=9)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].axhline(0.0, color="grey", lw=0.8)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _last(key: str, absolute: bool = False) -> Metric:
    label = {"reward_mean": "reward mean", "reward_std": "reward SD"}[key]

    def get(run: Run) -> float | None:
        v = run["extras"]["rm_history"][key][0][-1]
        return abs(v) if absolute else v

    return Metric(
        f"{'abs_' if absolute else ''}last_{key}",
        ("abs. reward mean" if absolute else label),
        get,
        2,
    )


ABS_MEAN = _last("reward_mean", absolute=True)
METRICS = (
    _last("reward_mean"),
    ABS_MEAN,
    _last("reward_std"),
    summary_metric("rm_train_acc", "train acc."),
    summary_metric("rm_test_acc", "test acc."),
    summary_metric("rm_bayes_acc", "best possible"),
)
#: Source 000 / Eisenstein et al.: a regularizer on the reward's size keeps the scores from
#: drifting (smaller |mean| than BT at the same fit length).
PREDICTED = {ABS_MEAN.key: (-1, 0.0)}


def report(runs: list[Run], out: Path) -> str:
    """Tables of the reward scale at the end of the fit and the accuracies per method and fit
    length, paired effects against BT at the same fit length; rewards.png follows the
    longest fits epoch by epoch."""
    runs = ok_runs(runs)
    longest = max(r["config"]["rm"]["epochs"] for r in runs)
    groups = dict(
        sorted(
            grouped(runs, method_epochs).items(),
            key=lambda kv: (kv[1][0]["config"]["rm"]["epochs"], kv[0] != "BT", kv[0]),
        )
    )
    comps = []
    for epochs in sorted({r["config"]["rm"]["epochs"] for r in runs}):
        base = f"BT, {epochs} epochs"
        arms = [
            g for g, rs in groups.items() if g != base and rs[0]["config"]["rm"]["epochs"] == epochs
        ]
        comps.append(Comparison(f"{epochs}-epoch fits", base, arms, METRICS[:-1], PREDICTED))
    lines, _ = protocol_page(
        "Regularization against underdetermination",
        "regularization",
        runs,
        method_epochs,
        groups,
        METRICS,
        comps,
        out,
        what="proxy",
        intro=[
            "Baseline: **BT** at the same fit length. Reward mean and SD: over every reward the "
            "proxy gave during its last training epoch (first ensemble member). This page "
            "measures the proxy, not a policy: the policy part of these runs is shortened and "
            "not compared, so there are no matched-√KL comparisons here.",
            "",
        ],
        frontier=False,
    )
    figure(
        grouped([r for r in runs if r["config"]["rm"]["epochs"] == longest], method),
        out / "rewards.png",
    )
    return "\n".join([*lines, "![rewards](rewards.png)", ""])
