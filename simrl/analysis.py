"""Curve analysis: best-of-n estimators and exact KL, Gao et al.'s functional forms, NDR,
run summaries."""

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


def bon_exact_kl(logp_ref: np.ndarray, scores: np.ndarray, n: int) -> float:
    """Exact KL(best-of-n || pi_ref) for one prompt, from every possible response.

    With responses grouped by score s and F(s) = pi_ref(score <= s), the best of n draws has
    a score in group s with probability F(s)^n - F(s-)^n, shared among the group's
    responses in proportion to pi_ref (ties broken at random). Beirami et al. (2024) show
    that log n - (n - 1)/n (:func:`bon_kl_bound`) bounds this from above.

    Args:
        logp_ref: log pi_ref(y) of every response of the prompt (they sum to one).
        scores: The selection score of each response.
        n: The n of best-of-n.
    """
    p = np.exp(logp_ref - logp_ref.max())
    p /= p.sum()
    order = np.argsort(scores, kind="stable")
    s, p_sorted = scores[order], p[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first index of each score group
    group_mass = np.add.reduceat(p_sorted, starts)
    cdf = np.cumsum(group_mass)
    below = np.r_[0.0, cdf[:-1]]
    win = np.clip(cdf, 0.0, 1.0) ** n - below**n  # P(best lies in the group)
    ratio = win / group_mass  # q(y) / p(y), the same for every y in a group
    mask = win > 0
    return float(np.sum(win[mask] * np.log(ratio[mask])))


GAO_FORMS = ("bon", "rl")


def fit_gao(d: np.ndarray, gold: np.ndarray, form: str) -> dict:
    """Least-squares fit of Gao, Schulman & Hilton (2023)'s forms to a gold curve.

    best-of-n: R(d) = d (alpha - beta d); RL: R(d) = d (alpha - beta ln d), d = sqrt(KL).
    Both are linear in (alpha, beta). Predicted peaks: best-of-n at d* = alpha / (2 beta),
    RL at d* = exp(alpha / beta - 1) (where dR/dd = alpha - beta (ln d + 1) = 0).

    Returns:
        ``alpha, beta, r2`` and the predicted ``peak_sqrt_kl`` and ``peak_gold`` (NaN when
        beta <= 0: no peak; inf when the RL peak exp(alpha / beta - 1) exceeds a double).
    """
    if form not in GAO_FORMS:
        raise ValueError(f"form must be one of {GAO_FORMS}, got {form!r}")
    d = np.asarray(d, float)
    y = np.asarray(gold, float)
    second = -d * d if form == "bon" else -d * np.log(np.where(d > 0, d, 1.0))
    X = np.column_stack([d, second])
    (alpha, beta), *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ np.array([alpha, beta])
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    if beta > 0 and form == "bon":
        d_star = alpha / (2 * beta)
        r_star = d_star * (alpha - beta * d_star)
    elif beta > 0 and alpha / beta - 1.0 < 700.0:  # beyond, exp overflows a double
        d_star = math.exp(alpha / beta - 1.0)
        r_star = beta * d_star  # R(d*) = d* (alpha - beta (alpha/beta - 1)) = beta d*
    elif beta > 0:
        d_star = r_star = float("inf")  # a peak too far to represent: no turn in sight
    else:
        d_star = r_star = float("nan")
    return {
        "alpha": float(alpha),
        "beta": float(beta),
        "r2": r2,
        "peak_sqrt_kl": float(d_star),
        "peak_gold": float(r_star),
    }


def ndr(gold_proxy_run: float, gold_gold_run: float) -> float:
    """Normalized drop ratio (Wen et al. 2025) in reference-normalized gold units:
    ``(E_{pi_proxy} r* - E_{pi_ref} r*) / (E_{pi_gold} r* - E_{pi_ref} r*)``, where the reference
    scores 0. NaN if optimizing the gold itself did not improve on the reference."""
    return gold_proxy_run / gold_gold_run if gold_gold_run > 0 else float("nan")


def budget_key(budget: float) -> str:
    """The key of a sqrt(KL) budget in ``summary["gold_at_sqrt_kl"]``: ``1.0 -> "1"``."""
    return f"{budget:g}"


def value_at_sqrt_kl(curve: list[dict], budget: float, key: str = "gold") -> float | None:
    """``key`` (gold by default) where the curve first reaches sqrt(KL) = ``budget``.

    Linear interpolation between the last checkpoint below the budget and the first at or
    above it, so arms are compared at the same distance from the reference policy (Gao et
    al. 2023 plot every result against sqrt(KL)). The first crossing is used because KL need
    not grow monotonically (an adaptive penalty can pull it back). None when the run never
    reaches the budget: a shorter run must not be extrapolated.
    """
    d = [q["sqrt_kl"] for q in curve]
    for i, di in enumerate(d):
        if di >= budget:
            if i == 0 or di == d[i - 1]:
                return float(curve[i][key])
            w = (budget - d[i - 1]) / (di - d[i - 1])
            return float((1.0 - w) * curve[i - 1][key] + w * curve[i][key])
    return None


def gold_auc(curve: list[dict], budgets: tuple[float, ...]) -> float | None:
    """Mean gold over sqrt(KL) from 0 to the largest budget the run reaches.

    (1/D) * integral_0^D gold(d) dd by the trapezoid rule along the curve up to its first
    crossing of D: a single number that rewards gold earned early, not only at one budget.
    None when no budget is reached.
    """
    reached = [b for b in budgets if value_at_sqrt_kl(curve, b) is not None]
    if not reached or max(reached) <= 0:
        return None
    top = max(reached)
    d = [q["sqrt_kl"] for q in curve]
    g = [q["gold"] for q in curve]
    end = next(i for i, di in enumerate(d) if di >= top)
    xs = [*d[:end], top]
    ys = [*g[:end], value_at_sqrt_kl(curve, top)]
    if xs[0] > 0:  # the curve starts at the reference policy: d = 0, gold = 0 by definition
        xs, ys = [0.0, *xs], [0.0, *ys]
    area = sum(0.5 * (ys[i] + ys[i + 1]) * (xs[i + 1] - xs[i]) for i in range(len(xs) - 1))
    return float(area / top)


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


def matched_summary(
    curve: list[dict], budgets: tuple[float, ...], saturation_ratio: float, form: str
) -> dict:
    """Summary values for comparisons at matched KL and for the regime a run ended in.

    * ``gold_at_sqrt_kl``: ``{"1": gold or None, ...}`` (:func:`value_at_sqrt_kl`);
    * ``gold_auc``: :func:`gold_auc`;
    * ``entropy_ref``, ``entropy_final`` (nats per response) and ``entropy_ref_per_token``,
      ``entropy_final_per_token``, exact, from the first and last checkpoints (None for
      best-of-n, whose curve has no policy table);
    * ``saturated``: the final per-token entropy is below ``saturation_ratio`` times the
      reference's (None without entropies);
    * ``fit_r2_presat``: R^2 of Gao et al.'s ``form`` fitted to the checkpoints before the
      first saturated one (None with fewer than three such points or no entropies).
    """
    out: dict = {
        "gold_at_sqrt_kl": {budget_key(b): value_at_sqrt_kl(curve, b) for b in budgets},
        "gold_auc": gold_auc(curve, budgets),
    }
    first, last = curve[0], curve[-1]
    if "entropy_per_token" not in first:
        out.update(
            dict.fromkeys(
                (
                    "entropy_ref",
                    "entropy_final",
                    "entropy_ref_per_token",
                    "entropy_final_per_token",
                    "saturated",
                    "fit_r2_presat",
                )
            )
        )
        return out
    floor = saturation_ratio * first["entropy_per_token"]
    out.update(
        {
            "entropy_ref": float(first["entropy"]),
            "entropy_final": float(last["entropy"]),
            "entropy_ref_per_token": float(first["entropy_per_token"]),
            "entropy_final_per_token": float(last["entropy_per_token"]),
            "saturated": bool(last["entropy_per_token"] < floor),
        }
    )
    pre = []
    for q in curve:
        if q["entropy_per_token"] < floor:
            break
        pre.append(q)
    out["fit_r2_presat"] = (
        fit_gao([q["sqrt_kl"] for q in pre], [q["gold"] for q in pre], form)["r2"]
        if len(pre) >= 3
        else None
    )
    return out
