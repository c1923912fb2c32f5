"""Reduced re-runs of the experiment pages (docs/experiments/): each asserts the direction
of the page's main effect, so a change that breaks a finding is caught. Marked slow."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_spec

from simrl.reports import load_report

DOCS = Path(__file__).resolve().parents[1] / "docs" / "experiments"
SHORT_POLICY = {"policy": {"steps": 100, "eval_every": 100}}


def mean(runs: list[dict], key: str) -> float:
    return float(np.mean([r["summary"][key] for r in runs]))


@pytest.mark.slow
def test_scaling_more_data_raises_the_peak(tmp_path):
    runs = run_spec({"report": "scaling", "grid": {"seed": [0, 1], "data.n_pairs": [500, 8000]}})
    small = [r for r in runs if r["config"]["data"]["n_pairs"] == 500]
    large = [r for r in runs if r["config"]["data"]["n_pairs"] == 8000]
    assert mean(large, "peak_gold") > mean(small, "peak_gold") + 0.2
    assert mean(large, "peak_sqrt_kl") > mean(small, "peak_sqrt_kl")


@pytest.mark.slow
def test_regularization_bt_drifts_and_centering_holds(tmp_path):
    runs = run_spec(
        {
            "base": {**SHORT_POLICY, "rm": {"epochs": 60}},
            "grid": [{"seed": [0, 1]}, {"seed": [0, 1], "rm.center_rewards_coefficient": [0.01]}],
        }
    )
    load_report("regularization")(runs, tmp_path)
    assert (tmp_path / "rewards.png").exists()

    def last_abs_mean(r):
        return abs(r["extras"]["rm_history"]["reward_mean"][0][-1])

    bt = [last_abs_mean(r) for r in runs if r["config"]["rm"]["center_rewards_coefficient"] == 0]
    centered = [
        last_abs_mean(r) for r in runs if r["config"]["rm"]["center_rewards_coefficient"] > 0
    ]
    assert min(bt) > 1.0 > 0.1 > max(centered)


@pytest.mark.slow
def test_bsr_disperses_hidden_norms_and_pinning_the_offset_keeps_gold(tmp_path):
    runs = run_spec(
        {
            "grid": [
                {"seed": [0, 1, 2, 3, 4], "rm.loss": ["bt", "dr"]},
                {"seed": [0, 1, 2, 3, 4], "rm.bsr_lambda": [0.001]},
            ]
        }
    )
    load_report("bsr")(runs, tmp_path)
    bt = [
        r
        for r in runs
        if r["config"]["rm"]["loss"] == "bt" and r["config"]["rm"]["bsr_lambda"] == 0
    ]
    bsr = [r for r in runs if r["config"]["rm"]["bsr_lambda"] > 0]
    dr = [r for r in runs if r["config"]["rm"]["loss"] == "dr"]
    assert mean(bsr, "rm_hnorm_cv") > 1.5 * mean(bt, "rm_hnorm_cv")  # opposite to the paper
    assert mean(bsr, "final_gold") > mean(bt, "final_gold")
    assert mean(dr, "final_gold") > mean(bt, "final_gold")


@pytest.mark.slow
def test_kl_penalty_limits_drift_not_the_frontier(tmp_path):
    from simrl.reports.kl_penalty import gold_at

    runs = run_spec({"grid": {"seed": [0, 1], "policy.kl_coef": [0.0, 0.3]}})
    free = [r for r in runs if r["config"]["policy"]["kl_coef"] == 0.0]
    tied = [r for r in runs if r["config"]["policy"]["kl_coef"] == 0.3]
    assert mean(tied, "final_sqrt_kl") < 0.7 * mean(free, "final_sqrt_kl")
    at_1 = [abs(gold_at(a, 1.0) - gold_at(b, 1.0)) for a, b in zip(free, tied, strict=True)]
    assert max(at_1) < 0.1  # the same gold at the same distance


@pytest.mark.slow
def test_verbosity_preset_lengthens_responses(tmp_path):
    spec = {"report": "verbosity", "base": "../presets/verbosity.toml", "grid": {"seed": [0, 1, 2]}}
    runs = run_spec(spec, Path(__file__).parents[1] / "examples" / "experiments")
    load_report("verbosity")(runs, tmp_path)
    assert (tmp_path / "lengths.png").exists()
    for r in runs:  # every seed: much longer responses, a higher proxy score
        s = r["summary"]
        assert s["final_length"] > s["ref_length"] + 2.0
        assert s["final_proxy"] > 1.0
    assert mean(runs, "overoptimization") > 1.0  # on average the gold falls well past its peak


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize(
    "name", ["scaling", "regularization", "bsr", "kl_penalty", "verbosity", "capacity"]
)
def test_pages_quote_their_reports(name):
    """Each page shows the numbers its command wrote (rerunning the command and committing
    report.md without updating the page fails here)."""
    page = (DOCS / f"{name}.md").read_text()
    report = (DOCS / name / "report.md").read_text()
    rows = table_rows(report)
    assert rows and all(row in page for row in rows)
    for fig in re.findall(r"\]\(([a-z_]+\.png)\)", report):
        assert (DOCS / name / fig).exists()
