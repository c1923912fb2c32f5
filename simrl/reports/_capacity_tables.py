"""The rows of the capacity report's tables (:mod:`simrl.reports.capacity`): per optimizer,
axis and value, Gao et al.'s fitted coefficients beside the measured peak and final gold
(:func:`fit_rows`), and the proxy's label accuracies (:func:`proxy_rows`).
"""

from __future__ import annotations

import math

import numpy as np

from simrl.reports._capacity_trends import AXES, OPTIMIZERS, on_axis, optimizer
from simrl.reports._common import Run, fmt, summary_stat


def median(runs: list[Run], key: str) -> str:
    """Median over runs of a summary value (NaN and None left out), for the predicted peaks:
    exp(alpha / beta - 1) explodes as beta goes to 0, so their means say little."""
    v = [r["summary"].get(key) for r in runs]
    v = [x for x in v if x is not None and math.isfinite(x)]
    return f"{float(np.median(v)):.2f}" if v else "n/a"


def fit_rows(runs: list[Run], opt: str) -> list[list[object]]:
    """For one optimizer, per axis and value: alpha, beta and R^2 (mean ± SE over runs of the
    per-run fits), the predicted peak (median) beside the measured one, and the final gold."""
    rows: list[list[object]] = []
    for axis, *_ in AXES:
        for v, rs in on_axis([r for r in runs if optimizer(r) == opt], axis).items():
            rows.append(
                [
                    axis,
                    v,
                    len(rs),
                    fmt(summary_stat(rs, "fit_alpha")),
                    fmt(summary_stat(rs, "fit_beta")),
                    fmt(summary_stat(rs, "fit_r2"), 2),
                    median(rs, "fit_peak_sqrt_kl"),
                    fmt(summary_stat(rs, "peak_sqrt_kl"), 2),
                    median(rs, "fit_peak_gold"),
                    fmt(summary_stat(rs, "peak_gold"), 2),
                    fmt(summary_stat(rs, "final_gold"), 2),
                ]
            )
    return rows


def proxy_rows(runs: list[Run]) -> list[list[object]]:
    """Per axis and value: the proxy's label accuracy on its training pairs, on fresh in-domain
    pairs and on held-out prompts, beside the Bayes accuracy (the proxy of a seed is the same
    for both optimizers; the RL runs are used, or the best-of-n runs if there are none)."""
    rl = [r for r in runs if optimizer(r) == OPTIMIZERS[0]]
    rs_all = rl or runs
    return [
        [
            axis,
            v,
            len(rs),
            *(
                fmt(summary_stat(rs, k))
                for k in ("rm_train_acc", "rm_test_acc", "rm_heldout_acc", "rm_bayes_acc")
            ),
        ]
        for axis, *_ in AXES
        for v, rs in on_axis(rs_all, axis).items()
    ]
