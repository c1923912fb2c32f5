"""The accuracy-vs-NDR experiment (docs/experiments/accuracy.md, Wen et al. 2025): the report
on synthetic runs, and a reduced re-run that checks the page's main effect (marked slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_spec

from simrl import store
from simrl.config import Config
from simrl.reports import accuracy, load_report
from simrl.reports.accuracy import DENOISED, MEASURES, measure_correlations, spread_rows


def synthetic_runs(n: int = 12) -> list[dict]:
    """Run dicts shaped like read_store's output, NDR rising with accuracy plus noise."""
    rng = np.random.default_rng(0)
    runs = []
    for i in range(n):
        for opt in ("rloo", "bon"):
            cfg = Config().to_dict()
            cfg["seed"] = i
            cfg["gold"]["label_noise"] = [0.0, 0.2][i % 2]
            cfg["data"]["n_pairs"] = [250, 4000][(i // 2) % 2]
            cfg["policy"]["optimizer"] = opt
            cfg["eval"]["ndr"] = True
            acc = 0.6 + 0.01 * i
            keys = {key.removesuffix(DENOISED) for key, _, _ in MEASURES}
            summary = {key: acc + 0.02 * rng.standard_normal() for key in sorted(keys)}
            summary["ndr"] = 5 * (acc - 0.6) + 0.1 * rng.standard_normal()
            runs.append(
                {
                    "id": f"{opt}{i}",
                    "config": cfg,
                    "status": "ok",
                    "summary": summary,
                    "curve": [],
                    "extras": {},
                    "flat": dict(store.flatten(cfg)),
                }
            )
    runs.append({**runs[0], "id": "failed", "status": "failed", "summary": None})
    return runs


def test_report_on_synthetic_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(accuracy, "N_RESAMPLES", 100)
    runs = synthetic_runs()
    text = load_report("accuracy")(runs, tmp_path)
    assert (tmp_path / "scatter.png").stat().st_size > 0
    assert "24 of 25 runs finished" in text
    assert "RLOO (2000 steps)" in text and "best-of-n (n = 1024)" in text
    for _, label, _ in MEASURES:
        assert label in text
    rloo = [r for r in runs if r["status"] == "ok" and r["config"]["policy"]["optimizer"] == "rloo"]
    assert measure_correlations(rloo, "rm_test_acc")["spearman"]["r"] > 0.5
    rows = spread_rows({"rloo": rloo})
    assert rows and sum(row[1] for row in rows) <= len(rloo)
    assert all(float(row[3]) >= 0 for row in rows)


def test_denoised_accuracy_undoes_label_flips():
    assert accuracy.denoised(0.5, 0.3) == pytest.approx(0.5)
    assert accuracy.denoised(0.3 + 0.4 * 0.8, 0.3) == pytest.approx(0.8)
    assert accuracy.denoised(0.7, 0.0) == 0.7


def test_correlation_needs_three_runs():
    runs = [r for r in synthetic_runs(2) if r["id"].startswith("rloo")]
    assert measure_correlations(runs, "rm_test_acc") is None


@pytest.mark.slow
def test_bon_ndr_rises_with_in_domain_accuracy(tmp_path):
    """Best-of-n from proxies of very different quality (label noise 0 or 0.3, 250 or 4000
    pairs): NDR correlates clearly with in-domain pair accuracy and with in-domain τ."""
    spec = {
        "base": {"policy": {"optimizer": "bon"}, "eval": {"ndr": True}},
        "grid": {
            "seed": [0, 1],
            "gold.label_noise": [0.0, 0.3],
            "data.n_pairs": [250, 4000],
        },
    }
    runs = run_spec(spec)
    text = load_report("accuracy")(runs, tmp_path)
    assert (tmp_path / "scatter.png").exists() and "best-of-n" in text
    for key in ("rm_test_acc", "rm_tau_in_domain"):
        assert measure_correlations(runs, key)["spearman"]["r"] > 0.5, key


def test_page_quotes_its_report():
    """docs/experiments/accuracy.md shows every table row its command wrote."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "experiments"
    page = (docs / "accuracy.md").read_text()
    report = (docs / "accuracy" / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    assert rows and all(row in page for row in rows)
    assert (docs / "accuracy" / "scatter.png").exists()
