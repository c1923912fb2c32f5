"""Figures. matplotlib is imported here only, so the CLI starts fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simrl.experiment import RunResult


def plot_curve(result: RunResult, path: str | Path) -> Path:
    """Gold and proxy (normalized) against sqrt(KL), gold with a +-2 SE band; peak marked.

    The file is written to a temporary name and renamed, so no partial PNG is left behind.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    c = result.curve
    d = np.array([p["sqrt_kl"] for p in c])
    gold = np.array([p["gold"] for p in c])
    gse = np.array([p["gold_se"] for p in c])
    proxy = np.array([p["proxy"] for p in c])
    s = result.summary
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.plot(d, proxy, "o-", color="tab:orange", ms=3, label="proxy (optimized)")
    ax.plot(d, gold, "o-", color="tab:blue", ms=3, label="gold (hidden)")
    ax.fill_between(d, gold - 2 * gse, gold + 2 * gse, color="tab:blue", alpha=0.2, lw=0)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axvline(s["peak_sqrt_kl"], color="tab:blue", ls=":", lw=1)
    ax.annotate(
        f"gold peak {s['peak_gold']:.2f}",
        (s["peak_sqrt_kl"], s["peak_gold"]),
        textcoords="offset points",
        xytext=(6, 6),
        fontsize=8,
        color="tab:blue",
    )
    kind = "best-of-n (KL bound)" if s.get("kl_kind") == "bound" else "RLOO (exact KL)"
    ax.set_xlabel("sqrt(KL(pi || pi_ref))  [nats^1/2]")
    ax.set_ylabel("reward (pi_ref = 0, 1 = one pi_ref std)")
    ax.set_title(f"simrl: over-optimization, {kind}, seed {result.config.seed}", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, Path(path))


def _save(fig, path: Path) -> Path:
    """Write a figure as PNG through a unique temporary name (:mod:`simrl.outputs`), then
    close it."""
    import matplotlib.pyplot as plt

    from simrl.outputs import write_atomic

    try:
        return write_atomic(path, lambda fh: fig.savefig(fh, format="png"))
    finally:
        plt.close(fig)


def _label(by: list[str], values: tuple) -> str:
    """``bsr_lambda=0.001, loss='bt'``: last name component where that is unambiguous."""
    short = [b.rsplit(".", 1)[-1] for b in by]
    names = short if len(set(short)) == len(short) else by
    shown = [
        repr(v) if isinstance(v, str) else f"{v:.3g}" if isinstance(v, float) else v for v in values
    ]
    return ", ".join(f"{n}={v}" for n, v in zip(names, shown, strict=True))


def mean_curve(curves: list[list[dict]]) -> dict[str, Any]:
    """Mean over runs of curves aligned by checkpoint step (steps every run has).

    Returns:
        ``step, sqrt_kl, gold, gold_se, proxy`` arrays and ``n`` runs; ``gold_se`` is the
        standard error over runs (the run's own Monte Carlo SE when there is one run).
    """
    import numpy as np

    steps = sorted(set.intersection(*({p["step"] for p in c} for c in curves)))
    at = [{p["step"]: p for p in c} for c in curves]
    arr = {k: np.array([[a[s][k] for s in steps] for a in at], float) for k in CURVE_KEYS}
    n = len(curves)
    se = arr["gold"].std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else arr["gold_se"][0]
    out = {k: arr[k].mean(axis=0) for k in ("sqrt_kl", "gold", "proxy")}
    return {"step": np.array(steps), **out, "gold_se": se, "n": n}


CURVE_KEYS = ("sqrt_kl", "gold", "gold_se", "proxy")


def _groups(runs: list[dict], fields: list[str]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = {}
    for r in runs:
        out.setdefault(tuple(r["flat"][f] for f in fields), []).append(r)
    return dict(sorted(out.items(), key=lambda kv: [str(type(v)) + repr(v) for v in kv[0]]))


def plot_sweep_curves(
    runs: list[dict], curves: dict[str, list[dict]], by: list[str], path: str | Path
) -> Path:
    """Gold against sqrt(KL), one line per value of the ``by`` fields: the mean over the
    group's runs (normally its seeds) with a +-1 SE band, and the Gao et al. form fitted to
    that mean curve (dashed; best-of-n form for best-of-n runs, RL form otherwise).

    Args:
        runs: Stored runs with ``status == "ok"``, each with ``flat`` (dotted config fields).
        curves: Curves by run id.
        by: Dotted config fields that define the groups (may be empty: one group).
        path: PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simrl.analysis import fit_gao

    groups = _groups(runs, by)
    fig, ax = plt.subplots(figsize=(7.2, 4.6), dpi=120)
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "viridis")
    for i, (key, members) in enumerate(groups.items()):
        color = cmap(i if len(groups) <= 10 else i / max(1, len(groups) - 1))
        m = mean_curve([curves[r["id"]] for r in members])
        d, g, se = m["sqrt_kl"], m["gold"], m["gold_se"]
        label = (_label(by, key) if by else "all runs") + f" (n={m['n']})"
        ax.plot(d, g, "o-", color=color, ms=3, lw=1.2, label=label)
        ax.fill_between(d, g - se, g + se, color=color, alpha=0.15, lw=0)
        form = "bon" if all(r["flat"]["policy.optimizer"] == "bon" for r in members) else "rl"
        if len(d) >= 3 and np.ptp(d) > 0:
            fit = fit_gao(d, g, form)
            x = np.linspace(max(d.min(), 1e-6), d.max(), 100)
            second = x if form == "bon" else np.log(x)
            ax.plot(x, x * (fit["alpha"] - fit["beta"] * second), "--", color=color, lw=0.9)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("sqrt(KL(pi || pi_ref))  [nats^1/2]")
    ax.set_ylabel("gold (pi_ref = 0, 1 = one pi_ref std)")
    ax.set_title("simrl sweep: gold, mean ± SE over seeds; dashed: Gao et al. fit", fontsize=10)
    ax.legend(loc="best", fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_sweep_summary(runs: list[dict], by: list[str], x: str | None, path: str | Path) -> Path:
    """Peak gold and over-optimization (mean +- SE over the runs of each point, normally the
    seeds) against the config field ``x``, one line per value of the other ``by`` fields.

    With ``x`` None the groups of ``by`` are placed side by side as categories.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series_by = [b for b in by if b != x] if x else []
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), dpi=120)
    xs_all: list[Any] = []
    for i, (key, members) in enumerate(_groups(runs, series_by).items()):
        points = _groups(members, [x] if x else by)
        xs = [k[0] if x else j for j, k in enumerate(points)]
        xs_all += xs
        for ax, metric in zip(axes, ("peak_gold", "overoptimization"), strict=True):
            vals = [np.array([r["summary"][metric] for r in p], float) for p in points.values()]
            mean = [v.mean() for v in vals]
            se = [v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0 for v in vals]
            label = _label(series_by, key) if series_by else None
            ax.errorbar(
                xs, mean, yerr=se, fmt="o-", ms=4, capsize=3, color=f"C{i % 10}", label=label
            )
            if not x:
                ax.set_xticks(
                    xs, [_label(by, k) for k in points], rotation=30, ha="right", fontsize=7
                )
    numeric = x and all(isinstance(v, (int, float)) for v in xs_all)
    for ax, title in zip(axes, ("peak gold", "over-optimization (peak - final gold)"), strict=True):
        if numeric:
            pos = [v for v in xs_all if v > 0]
            if pos and max(pos) / min(pos) >= 100 and min(xs_all) > 0:
                ax.set_xscale("log")
            elif pos and max(pos) / min(pos) >= 100:
                ax.set_xscale("symlog", linthresh=min(pos))
        ax.set_xlabel(x or "")
        ax.set_title(title + ", mean ± SE over seeds", fontsize=9)
        ax.grid(alpha=0.3)
        if series_by:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_lengths(result: RunResult, path: str | Path) -> Path | None:
    """Exact response-length distributions of the reference and the final policy (None if
    the run has no final policy, as for best-of-n)."""
    dist = result.length_dist
    if "final" not in dist:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ref, final = np.array(dist["reference"]), np.array(dist["final"])
    lengths = np.arange(ref.size)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    width = 0.4
    ax.bar(lengths - width / 2, ref, width, color="tab:grey", label="reference policy")
    ax.bar(lengths + width / 2, final, width, color="tab:orange", label="optimized policy")
    ax.set_xlabel("response length (tokens)")
    ax.set_ylabel("probability (exact)")
    ax.set_xticks(lengths)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, Path(path))
