"""The experiment reports on reduced re-runs (docs/experiments/): each report runs on real
runs of its spec's arms in two worlds and writes effects.json whose effects are the paired
differences of the runs' own numbers. Marked slow. The direction of each page's findings is
checked against the full runs (docs/findings.md), not here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_spec

from simrl.reports import load_report

DOCS = Path(__file__).resolve().parents[1] / "docs" / "experiments"
SHORT = {"policy": {"steps": 300, "eval_every": 50}}
PAIRS = {"seed": [0, 1], "world.seed": [0, 2]}
KEYS = {
    "comparison",
    "arm",
    "baseline",
    "metric",
    "mean",
    "se",
    "low",
    "high",
    "p",
    "agree",
    "n_worlds",
    "n_pairs",
    "dropped",
    "per_world",
    "direction",
    "verdict",
}


def effects(out: Path, page: str) -> list[dict]:
    payload = json.loads((out / "effects.json").read_text())
    assert payload["page"] == page and payload["unit"] == "world"
    return payload["effects"]


def check_paired(runs: list[dict], entries: list[dict], arm_of, key: str, arm: str, base: str):
    """The entry for (arm, key) is the mean over worlds of the per-world mean of the paired
    differences of summary[key], recomputed here from the runs."""
    (e,) = [x for x in entries if x["arm"] == arm and x["metric"] == key]
    assert e["baseline"] == base and set(e) >= KEYS
    per_world = {}
    for w in PAIRS["world.seed"]:
        d = []
        for s in PAIRS["seed"]:
            (a,) = [
                r
                for r in runs
                if arm_of(r) == arm
                and r["config"]["seed"] == s
                and r["config"]["world"]["seed"] == w
            ]
            (b,) = [
                r
                for r in runs
                if arm_of(r) == base
                and r["config"]["seed"] == s
                and r["config"]["world"]["seed"] == w
            ]
            d.append(a["summary"][key] - b["summary"][key])
        per_world[str(w)] = float(np.mean(d))
    assert e["per_world"] == pytest.approx(per_world)
    assert e["mean"] == pytest.approx(np.mean(list(per_world.values())))
    assert e["low"] <= e["mean"] <= e["high"]
    assert e["n_worlds"] == 2 and e["n_pairs"] == 4 and e["dropped"] == 0
    assert e["verdict"] in (None, "n/a")  # two worlds: no verdict


def well_formed(entries: list[dict], page: str | None = None) -> None:
    """Every effect has its fields, and every finding of docs/findings.md about an arm these
    runs have (on ``page``, when two pages share an arm's name) names metrics the report
    writes (a renamed arm or metric fails here)."""
    from simrl.reports._findings import FINDINGS

    assert entries
    written = {(e["arm"], e["metric"]) for e in entries}
    for f in FINDINGS:
        if page is not None and f.page != page:
            continue
        if any(arm == f.arm for arm, _ in written):
            assert {(f.arm, m) for m in f.metrics} <= written, f.claim
    for e in entries:
        assert set(e) >= KEYS
        assert e["n_worlds"] == len(e["per_world"])
        assert e["verdict"] in (None, "n/a", "reproduced", "not reproduced", "reversed")


@pytest.mark.slow
def test_scaling_report(tmp_path):
    from simrl.reports.scaling import arm

    runs = run_spec({"base": SHORT, "grid": [{**PAIRS}, {**PAIRS, "data.n_pairs": [8000]}]})
    load_report("scaling")(runs, tmp_path)
    entries = effects(tmp_path, "scaling")
    well_formed(entries)
    check_paired(runs, entries, arm, "peak_gold", "RL, 8000 pairs", "RL, default")


@pytest.mark.slow
def test_regularization_report(tmp_path):
    from simrl.reports.regularization import method_epochs

    runs = run_spec(
        {
            "base": {**SHORT, "eval": {"diagnostics": False}},
            "grid": [PAIRS, {**PAIRS, "rm.center_rewards_coefficient": [0.01]}],
        }
    )
    load_report("regularization")(runs, tmp_path)
    assert (tmp_path / "rewards.png").exists()
    entries = effects(tmp_path, "regularization")
    well_formed(entries)
    check_paired(
        runs, entries, method_epochs, "rm_test_acc", "centering 0.01, 30 epochs", "BT, 30 epochs"
    )


@pytest.mark.slow
def test_bsr_report(tmp_path):
    from simrl.reports.bsr import method

    runs = run_spec({"base": SHORT, "grid": [PAIRS, {**PAIRS, "rm.bsr_lambda": [0.001]}]})
    text = load_report("bsr")(runs, tmp_path)
    assert "‖h − h̄‖ CV" in text
    entries = effects(tmp_path, "bsr")
    well_formed(entries)
    check_paired(runs, entries, method, "final_gold", "BSR 0.001", "BT")
    check_paired(runs, entries, method, "rm_tau_mutual_ood", "BSR 0.001", "BT")


@pytest.mark.slow
def test_kl_penalty_report(tmp_path):
    from simrl.reports.kl_penalty import arm

    runs = run_spec(
        {
            "base": SHORT,
            "grid": [
                {**PAIRS, "policy.kl_coef": [0.0, 0.3]},
                {**PAIRS, "policy.kl_coef": [0.3], "policy.kl_estimator": ["k3"]},
            ],
        }
    )
    load_report("kl_penalty")(runs, tmp_path)
    entries = effects(tmp_path, "kl_penalty")
    well_formed(entries)
    check_paired(runs, entries, arm, "final_sqrt_kl", "kl_coef=0.3", "kl_coef=0")
    check_paired(runs, entries, arm, "final_gold", "kl_coef=0.3, k3", "kl_coef=0.3")


@pytest.mark.slow
def test_verbosity_report(tmp_path):
    spec = {"report": "verbosity", "base": "../presets/verbosity.toml", "grid": PAIRS}
    runs = run_spec(spec, Path(__file__).parents[1] / "examples" / "experiments")
    load_report("verbosity")(runs, tmp_path)
    assert (tmp_path / "lengths.png").exists()
    entries = effects(tmp_path, "verbosity")
    well_formed(entries)
    (e,) = [x for x in entries if x["metric"] == "final_length-ref_length"]
    per = {
        str(w): np.mean(
            [
                r["summary"]["final_length"] - r["summary"]["ref_length"]
                for r in runs
                if r["config"]["world"]["seed"] == w
            ]
        )
        for w in PAIRS["world.seed"]
    }
    assert e["per_world"] == pytest.approx(per) and e["baseline"] is None


@pytest.mark.slow
def test_mechanism_report(tmp_path):
    from simrl.reports.mechanism import CORR_ARM, arm, gap_at

    base = {**SHORT, "rm": {"features": "embedding", "activation": "gelu", "depth": 2,
                            "head_norm": "rmsnorm", "pretrain": "related",
                            "pretrain_pairs": 1000, "pretrain_epochs": 2,
                            "track_dispersion": True}}  # fmt: skip
    runs = run_spec({"base": base, "grid": [{**PAIRS, "rm.bsr_lambda": [0.0, 0.001]}]})
    load_report("mechanism")(runs, tmp_path)
    assert (tmp_path / "dispersion.png").exists()
    entries = effects(tmp_path, "mechanism")
    well_formed(entries, "mechanism")
    check_paired(runs, entries, arm, "rm_hnorm_centered_cv", "BSR 0.001", "BT")
    check_paired(runs, entries, arm, "rm_final_hnorm_centered_cv", "BSR 0.001", "BT")
    (e,) = [x for x in entries if x["metric"] == "spearman:rm_tau_response_ood"]
    assert e["arm"] == CORR_ARM and e["n_pairs"] == 8
    for w in PAIRS["world.seed"]:  # within world w, over its 4 runs
        rs = [r for r in runs if r["config"]["world"]["seed"] == w]
        x = [r["summary"]["rm_hnorm_centered_cv"] for r in rs]
        y = [r["summary"]["rm_tau_response_ood"] for r in rs]
        from scipy.stats import spearmanr

        assert e["per_world"][str(w)] == pytest.approx(spearmanr(x, y).statistic)
    r = runs[0]  # the gap at the first checkpoint's sqrt(KL) is that checkpoint's
    p = r["curve"][1]
    assert gap_at(r, p["sqrt_kl"]) == pytest.approx(p["proxy"] - p["gold"])


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
