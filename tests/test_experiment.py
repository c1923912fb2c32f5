"""End to end: determinism, the default over-optimization curve, best-of-n."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import tiny_config
from hypothesis import given
from hypothesis import strategies as st

from simrl.analysis import bon_kl_bound, bon_weights, summarize
from simrl.config import Config
from simrl.experiment import run


def test_same_seed_gives_a_bit_identical_curve():
    cfg = tiny_config()
    a, b = run(cfg), run(cfg)
    assert a.curve == b.curve
    assert a.summary == b.summary
    c = run(cfg.replace(seed=1))
    assert c.curve != a.curve


@pytest.fixture(scope="module")
def default_run():
    return run(Config())


def test_default_run_overoptimizes(default_run):
    """Gold rises, peaks strictly above start and end; proxy keeps rising."""
    curve, s = default_run.curve, default_run.summary
    gold = np.array([p["gold"] for p in curve])
    se = np.array([p["gold_se"] for p in curve])
    proxy = np.array([p["proxy"] for p in curve])
    i = int(np.argmax(gold))
    assert 0 < i < len(curve) - 1
    assert gold[i] - gold[0] > 4 * math.hypot(se[i], se[0])
    assert gold[i] - gold[-1] > 4 * math.hypot(se[i], se[-1])
    assert proxy[-1] > proxy[i] > proxy[0]
    assert s["overoptimization"] == pytest.approx(gold[i] - gold[-1])
    assert all(p["gold_se"] <= 0.01 for p in curve)  # the evaluation's precision target
    assert curve[0]["kl"] == 0.0 and curve[-1]["kl"] > curve[1]["kl"]


def test_default_run_reports_everything_the_cli_promises(default_run):
    d = default_run.to_dict()
    assert set(d) >= {"config", "curve", "summary", "timing"}
    assert set(d["curve"][0]) >= {"step", "kl", "sqrt_kl", "proxy", "gold"}
    assert set(d["summary"]) >= {
        "peak_gold",
        "peak_sqrt_kl",
        "final_gold",
        "final_proxy",
        "overoptimization",
        "rm_train_acc",
        "rm_test_acc",
    }
    assert set(d["timing"]) >= {"data", "rm_fit", "optimize", "evaluate", "total"}


def test_best_of_n_curve():
    res = run(tiny_config(policy={"optimizer": "bon", "bon_n_max": 16, "bon_samples": 64}))
    ns = [p["step"] for p in res.curve]
    assert ns == [1, 2, 4, 8, 16]
    np.testing.assert_allclose([p["kl"] for p in res.curve], bon_kl_bound(np.array(ns)))
    proxy = [p["proxy"] for p in res.curve]
    assert all(b >= a for a, b in itertools.pairwise(proxy))  # selection by proxy
    assert res.summary["kl_kind"] == "bound"


@given(st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_bon_estimator_equals_the_mean_over_all_subsets(n_extra, seed):
    rng = np.random.default_rng(seed)
    N = 7
    n = min(n_extra, N)
    proxy = rng.permutation(N).astype(float)  # distinct scores: no ties
    gold = rng.normal(size=N)
    brute = np.mean(
        [gold[list(s)][np.argmax(proxy[list(s)])] for s in itertools.combinations(range(N), n)]
    )
    order = np.argsort(proxy)
    assert math.isclose(bon_weights(N, n) @ gold[order], brute, rel_tol=1e-10, abs_tol=1e-12)
    assert math.isclose(bon_weights(N, n).sum(), 1.0, rel_tol=1e-12)


def test_kl_bound_values():
    assert bon_kl_bound(1) == 0.0
    assert math.isclose(float(bon_kl_bound(2)), math.log(2) - 0.5)


def test_summarize_finds_the_peak():
    curve = [
        {"step": s, "gold": g, "proxy": s, "sqrt_kl": s / 10}
        for s, g in enumerate([0.0, 0.5, 0.9, 0.4])
    ]
    s = summarize(curve)
    assert (s["peak_gold"], s["peak_step"], s["final_gold"]) == (0.9, 2, 0.4)
    assert math.isclose(s["overoptimization"], 0.5)
