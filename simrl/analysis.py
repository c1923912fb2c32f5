"""Curve analysis: best-of-n estimators and run summaries."""

from __future__ import annotations

import math

import numpy as np


def bon_kl_bound(n: int | np.ndarray) -> np.ndarray:
    """Analytic best-of-n KL: log n - (n - 1) / n (Stiennon et al. 2020).

    Beirami et al. (2024) show this is an upper bound on the true KL, not its value.
    """
    n = np.asarray(n, float)
    return np.log(n) - (n - 1.0) / n


def bon_weights(N: int, n: int) -> np.ndarray:
    """Weights of the unbiased best-of-n estimator from N >= n scored samples.

    With the N samples sorted by proxy in ascending order, the expected gold of the best of n
    drawn without replacement is sum_i C(i - 1, n - 1) / C(N, n) gold_(i) (Nakano et al.
    2021, appendix). Weights are computed in log space with lgamma.
    """
    if not 1 <= n <= N:
        raise ValueError(f"need 1 <= n <= N, got n={n}, N={N}")
    i = np.arange(1, N + 1, dtype=float)
    w = np.zeros(N)
    ok = i >= n
    lg = np.vectorize(math.lgamma)
    log_c = lg(i[ok]) - lg(n) - lg(i[ok] - n + 1)  # log C(i-1, n-1)
    log_total = math.lgamma(N + 1) - math.lgamma(n + 1) - math.lgamma(N - n + 1)
    w[ok] = np.exp(log_c - log_total)
    return w


def bon_estimate(proxy: np.ndarray, values: np.ndarray, n: int) -> tuple[float, float]:
    """Unbiased best-of-n mean of ``values`` over prompts, with an approximate standard error.

    Args:
        proxy: Scores used for selection, shape (P, N).
        values: What to average (gold, proxy, length), shape (P, N).
        n: The n of best-of-n.

    Returns:
        ``(mean, se)``; the standard error treats the weighted sum as a weighted mean of
        independent draws, sqrt(sum_i w_i^2 (v_i - m)^2) per prompt, averaged over prompts.
    """
    P, N = proxy.shape
    w = bon_weights(N, n)
    order = np.argsort(proxy, axis=1, kind="stable")
    v = np.take_along_axis(values, order, axis=1)
    m = v @ w
    var = ((v - m[:, None]) ** 2) @ (w**2)
    return float(m.mean()), float(math.sqrt(var.sum()) / P)


def summarize(curve: list[dict]) -> dict:
    """Peak and end of a gold curve: peak_gold, peak_sqrt_kl, final_gold, final_proxy and
    overoptimization = peak_gold - final_gold (Gao et al. 2023)."""
    gold = np.array([p["gold"] for p in curve])
    i = int(np.argmax(gold))
    return {
        "peak_gold": float(gold[i]),
        "peak_sqrt_kl": float(curve[i]["sqrt_kl"]),
        "peak_step": int(curve[i]["step"]),
        "final_gold": float(gold[-1]),
        "final_proxy": float(curve[-1]["proxy"]),
        "final_sqrt_kl": float(curve[-1]["sqrt_kl"]),
        "overoptimization": float(gold[i] - gold[-1]),
    }
