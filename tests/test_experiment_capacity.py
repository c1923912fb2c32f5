"""The capacity experiment (docs/experiments/capacity.md): the within-world trends recover a
slope planted in synthetic runs (and a null), the report writes well-formed effects, and a
reduced re-run checks the report on real runs (marked slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_spec

from simrl import store
from simrl.config import Config
from simrl.reports._protocol import Metric, summary_metric
from simrl.reports.capacity import report, trend

SLOPE = -0.05  # planted: beta falls by 0.05 per doubling of width, in every world

FIGURES = ("coefficients.png", "width_rl.png", "width_bon.png", "data_rl.png", "data_bon.png")


def synthetic_run(optimizer: str, hidden: int, n_pairs: int, seed: int, world: int = 0) -> dict:
    """A run dict shaped like read_store's output, its curve from Gao et al.'s form. beta
    has a world offset (large: worlds differ), falls by SLOPE per doubling of width and does
    not depend on the data size (a planted null)."""
    cfg = Config().replace(
        **{
            "seed": seed,
            "world.seed": world,
            "policy.optimizer": optimizer,
            "rm.hidden": hidden,
            "data.n_pairs": n_pairs,
        }
    )
    config = cfg.to_dict()
    rng = np.random.default_rng([seed, world, hidden, n_pairs])
    alpha = 0.8 + 0.05 * rng.standard_normal()
    beta = 0.6 + 0.1 * world + SLOPE * np.log2(hidden) + 0.02 * rng.standard_normal()
    d = np.linspace(0.0, 3.0, 11)
    second = d if optimizer == "bon" else np.log(np.where(d > 0, d, 1.0))
    gold = d * (alpha - beta * second)
    curve = [
        {
            "step": 100 * i,
            "kl": float(x * x),
            "sqrt_kl": float(x),
            "proxy": float(x),
            "proxy_se": 0.01,
            "gold": float(g),
            "gold_se": 0.01,
            "length": 5.0,
            "n_samples": 1000,
        }
        for i, (x, g) in enumerate(zip(d, gold, strict=True))
    ]
    i = int(np.argmax(gold))
    summary = {
        "fit_alpha": alpha,
        "fit_beta": beta,
        "fit_r2": 1.0,
        "fit_peak_sqrt_kl": alpha / (2 * beta) if optimizer == "bon" else float("nan"),
        "fit_peak_gold": 1.0,
        "peak_gold": float(gold[i]),
        "peak_sqrt_kl": float(d[i]),
        "final_gold": float(gold[-1]),
        "rm_train_acc": 0.9,
        "rm_test_acc": 0.7,
        "rm_heldout_acc": 0.65,
        "rm_bayes_acc": 0.75,
    }
    return {
        "id": f"{optimizer}-{hidden}-{n_pairs}-{seed}-{world}",
        "config": config,
        "status": "ok",
        "summary": summary,
        "curve": curve,
        "extras": {},
        "flat": dict(store.flatten(config)),
    }


def grid(worlds: int = 5, seeds: int = 4) -> list[dict]:
    return [
        synthetic_run(opt, hidden, n_pairs, seed, world)
        for opt in ("rloo", "bon")
        for world in range(worlds)
        for seed in range(seeds)
        for hidden, n_pairs in (
            (4, 2000),
            (16, 2000),
            (32, 2000),
            (256, 2000),
            (32, 500),
            (32, 8000),
            (32, 64000),
        )
    ]


def test_trend_recovers_a_planted_slope_and_a_null():
    runs = [r for r in grid() if r["config"]["policy"]["optimizer"] == "rloo"]
    beta = summary_metric("fit_beta", "β")
    width = trend(runs, "width", beta)
    assert width.n_worlds == 5 and width.agree == 5
    assert width.low < SLOPE < width.high and width.high < 0
    assert width.mean == pytest.approx(SLOPE, abs=0.01)
    data = trend(runs, "data", beta)
    assert data.low < 0 < data.high


def test_report_on_synthetic_runs(tmp_path):
    text = report(grid(worlds=2, seeds=2), tmp_path)
    for fig in (*FIGURES, "effects.png"):
        assert (tmp_path / fig).stat().st_size > 0
        assert f"({fig})" in text
    assert "| width | 256 | 4 |" in text and "| data | 64000 | 4 |" in text
    effects = json.loads((tmp_path / "effects.json").read_text())["effects"]
    by = {(e["arm"], e["metric"]): e for e in effects}
    e = by[("RL (RLOO), width", "slope:fit_beta")]
    assert e["n_worlds"] == 2 and e["verdict"] == "n/a"  # two worlds: no verdict
    assert e["mean"] == pytest.approx(SLOPE, abs=0.02)
    assert by[("RL (RLOO), data", "slope:fit_beta")]["direction"] is None


@pytest.mark.slow
def test_report_runs_on_a_reduced_spec(tmp_path):
    """Real runs in two worlds, three widths and two data sizes: the report runs and every
    trend in effects.json is a well-formed summary of two per-world slopes."""
    base = {"eval": {"diagnostics": False}, "policy": {"steps": 300, "bon_n_max": 64}}
    runs = run_spec(
        {
            "base": base,
            "grid": [
                {"seed": [0], "world.seed": [0, 2], "rm.hidden": [4, 32, 128]},
                {"seed": [0], "world.seed": [0, 2], "data.n_pairs": [500, 8000]},
            ],
        }
    )
    report(runs, tmp_path)
    effects = json.loads((tmp_path / "effects.json").read_text())["effects"]
    assert {e["arm"] for e in effects} == {"RL (RLOO), width", "RL (RLOO), data"}
    assert any(e["metric"] == "slope:fit_beta" and e["mean"] is not None for e in effects)
    for e in effects:
        assert e["verdict"] in (None, "n/a")  # two worlds: no verdict
        if e["mean"] is not None:  # (gold at a budget no run reached has none)
            assert set(e["per_world"]) <= {"0", "2"} and e["n_worlds"] == len(e["per_world"])
            assert e["mean"] == pytest.approx(np.mean(list(e["per_world"].values())))
    # Direction (docs/experiments/capacity.md, 4 worlds of 10 seeds; slopes per doubling within
    # worlds, computed from the store, command on the page), properties of the proxy, which
    # 300 policy steps leave as in the full runs: more data, better in-domain accuracy,
    # +0.0111 [+0.0101, +0.0119], 4/4 worlds; more width at 2000 pairs, a wider gap between
    # training and in-domain accuracy (overfitting), +0.0264 [+0.0208, +0.0320], 4/4. Here the
    # per-world slopes are +0.006 and +0.018, and +0.027 and +0.023.
    test_acc = Metric("test", "in-domain accuracy", lambda r: r["summary"]["rm_test_acc"])
    gap = Metric(
        "gap",
        "training - in-domain accuracy",
        lambda r: r["summary"]["rm_train_acc"] - r["summary"]["rm_test_acc"],
    )
    for axis, metric in (("data", test_acc), ("width", gap)):
        assert all(v > 0 for v in trend(runs, axis, metric).per_world.values())
