"""Figures. matplotlib is imported here only, so the CLI starts fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
