"""The capacity experiment (docs/experiments/capacity.md): the report on synthetic runs, and a
reduced re-run of its robust findings (marked slow)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_spec

from simrl import store
from simrl.config import Config
from simrl.reports.capacity import report

FIGURES = ("coefficients.png", "width_rl.png", "width_bon.png", "data_rl.png", "data_bon.png")


def synthetic_run(optimizer: str, hidden: int, n_pairs: int, seed: int) -> dict:
    """A run dict shaped like read_store's output, its curve from Gao et al.'s form."""
    cfg = Config().replace(
        **{
            "seed": seed,
            "policy.optimizer": optimizer,
            "rm.hidden": hidden,
            "data.n_pairs": n_pairs,
        }
    )
    config = cfg.to_dict()
    rng = np.random.default_rng(seed)
    alpha = 0.8 + 0.05 * rng.standard_normal()
    beta = 0.5 / np.log2(n_pairs) + 0.01 * np.log2(hidden) + 0.01 * rng.standard_normal()
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
        "id": f"{optimizer}-{hidden}-{n_pairs}-{seed}",
        "config": config,
        "status": "ok",
        "summary": summary,
        "curve": curve,
        "extras": {},
        "flat": dict(store.flatten(config)),
    }


def test_report_on_synthetic_runs(tmp_path):
    runs = [
        synthetic_run(opt, hidden, n_pairs, seed)
        for opt in ("rloo", "bon")
        for seed in (0, 1)
        for hidden, n_pairs in ((4, 2000), (32, 2000), (256, 2000), (32, 500), (32, 64000))
    ]
    text = report(runs, tmp_path)
    for fig in FIGURES:
        assert (tmp_path / fig).stat().st_size > 0
        assert f"({fig})" in text
    assert "| width | 256 | 2 |" in text and "| data | 64000 | 2 |" in text
    # the synthetic beta falls with data: the trend row says so
    rows = [line for line in text.splitlines() if line.startswith("| RL (RLOO) | data | β |")]
    assert len(rows) == 1 and "| -" in rows[0]


@pytest.mark.slow
def test_capacity_more_data_helps_and_width_overfits(tmp_path):
    base = {"eval": {"diagnostics": False}}
    runs = run_spec(
        {
            "base": base,
            "grid": [
                {"seed": [0, 1], "policy.optimizer": ["rloo", "bon"], "data.n_pairs": [500, 8000]},
                {"seed": [0, 1], "policy.optimizer": ["bon"], "rm.hidden": [4, 128]},
            ],
        }
    )
    report(runs, tmp_path)
    assert (tmp_path / "coefficients.png").exists()

    def pick(opt: str, hidden: int, n_pairs: int) -> list[dict]:
        rs = [
            r
            for r in runs
            if r["config"]["policy"]["optimizer"] == opt
            and r["config"]["rm"]["hidden"] == hidden
            and r["config"]["data"]["n_pairs"] == n_pairs
        ]
        return sorted(rs, key=lambda r: r["config"]["seed"])

    def s(rs: list[dict], key: str) -> np.ndarray:
        return np.array([r["summary"][key] for r in rs])

    # More data: RL ends higher on every seed, its beta falls, best-of-n's alpha rises.
    rl_small, rl_large = pick("rloo", 32, 500), pick("rloo", 32, 8000)
    assert np.all(s(rl_large, "final_gold") > s(rl_small, "final_gold"))
    assert s(rl_small, "fit_beta").mean() > s(rl_large, "fit_beta").mean() + 0.2
    bon_small, bon_large = pick("bon", 32, 500), pick("bon", 32, 8000)
    assert np.all(s(bon_large, "fit_alpha") > s(bon_small, "fit_alpha"))
    # More width at 2000 pairs: the proxy fits its pairs better and fresh pairs worse.
    narrow, wide = pick("bon", 4, 2000), pick("bon", 128, 2000)
    assert np.all(s(wide, "rm_train_acc") > s(narrow, "rm_train_acc") + 0.08)
    assert np.all(s(wide, "rm_test_acc") < s(narrow, "rm_test_acc"))
