"""Effects across worlds (simrl.effects) and statistics within worlds (simrl.stats): the
interval covers a known effect, pairing by (world, seed) finds what an unpaired comparison
misses, the Wilcoxon test is over worlds, missing values are dropped and counted."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simrl.effects import (
    Effect,
    combine,
    paired_effect,
    paired_values,
    two_stage_bootstrap,
    verdict,
    world_effect,
)
from simrl.stats import median_iqr, within_world_correlation


def run(arm: str, world: int, seed: int, value: float | None) -> dict:
    """A run dict with what the effect functions read."""
    return {"config": {"world": {"seed": world}, "seed": seed, "arm": arm}, "summary": {"m": value}}


def arm_of(r: dict) -> str:
    return r["config"]["arm"]


def hierarchical(rng, mu, n_worlds=8, n_seeds=10, sd_world=0.3, sd_seed=0.5):
    """Per world, seed-level effects: world effect ~ N(mu, sd_world), seeds around it."""
    return {w: rng.normal(rng.normal(mu, sd_world), sd_seed, size=n_seeds) for w in range(n_worlds)}


def test_interval_covers_a_known_effect_at_about_the_nominal_rate():
    """200 simulated experiments (8 worlds x 10 seeds, world spread 0.3, seed spread 0.5):
    the 95% interval covers the true mean effect in 85-99.5% of them. An interval that
    ignored the world level (resampling the 80 pairs alone) covers about 70%."""
    rng = np.random.default_rng(1)
    mu, covered, pooled_covered, reps = 0.3, 0, 0, 200
    for i in range(reps):
        values = hierarchical(rng, mu)
        e = world_effect(values, n_boot=400, seed=i)
        covered += e.low < mu < e.high
        flat = np.concatenate(list(values.values()))
        boot = flat[rng.integers(0, flat.size, (400, flat.size))].mean(axis=1)
        lo, hi = np.quantile(boot, [0.025, 0.975])
        pooled_covered += lo < mu < hi
    assert 0.85 <= covered / reps <= 0.995
    assert pooled_covered / reps < 0.85  # the test can tell the two apart


def test_pairing_finds_an_effect_an_unpaired_comparison_misses():
    """Each (world, seed) shares a large offset between arms; the arm adds 0.2. Runs come in
    shuffled order, so pairing must go by (world, seed), not by position."""
    rng = np.random.default_rng(0)
    runs = []
    for w in range(8):
        for s in range(10):
            shared = rng.normal(0, 2.0)
            runs += [run("base", w, s, shared), run("arm", w, s, shared + 0.2 + rng.normal(0, 0.1))]
    order = rng.permutation(len(runs))
    runs = [runs[i] for i in order]
    e = paired_effect(runs, arm_of, "arm", "base", "m", n_boot=1000)
    assert e.low > 0.1 and e.high < 0.3 and e.agree == 8 and e.n_pairs == 80
    assert e.mean == pytest.approx(0.2, abs=0.05)
    a = [r["summary"]["m"] for r in runs if arm_of(r) == "arm"]
    b = [r["summary"]["m"] for r in runs if arm_of(r) == "base"]
    assert stats.ttest_ind(a, b, equal_var=False).pvalue > 0.05


def test_sign_count_and_mean_of_per_world_effects():
    """Worlds weigh equally whatever their number of seeds: the mean is of world means."""
    values = {0: [1.0, 1.0, 1.0], 1: [2.0], 2: [-0.5, -0.5], 3: [0.3]}
    e = world_effect(values, n_boot=200)
    per = np.array([1.0, 2.0, -0.5, 0.3])
    assert e.mean == pytest.approx(per.mean())  # not the mean of the 7 values (0.757)
    assert e.se == pytest.approx(per.std(ddof=1) / 2)
    assert e.agree == 3 and e.n_worlds == 4 and e.n_pairs == 7
    assert e.per_world == {"0": 1.0, "1": 2.0, "2": -0.5, "3": 0.3}


def test_wilcoxon_is_over_worlds_with_the_exact_distribution():
    """Six worlds with effects 0.5, -0.2, 1.1, 0.8, -0.1, 0.7: the negative ones have ranks
    1 and 2, W- = 3; of the 64 sign patterns, 5 have W- <= 3 ({}, {1}, {2}, {3}, {1, 2}),
    so the exact two-sided p is 10/64. World 0 has many seeds: a test over pairs would
    give a different p."""
    per = [0.5, -0.2, 1.1, 0.8, -0.1, 0.7]
    values = {w: [x] for w, x in enumerate(per)}
    values[0] = [0.4, 0.6, 0.5, 0.45, 0.55]
    e = world_effect(values, n_boot=200)
    assert e.p == pytest.approx(10 / 64)
    assert e.p == pytest.approx(stats.wilcoxon(per).pvalue)
    five_up = world_effect({w: [w + 1.0] for w in range(5)}, n_boot=200)
    assert five_up.p == pytest.approx(2 / 32)


def test_missing_values_and_partners_are_dropped_and_counted():
    runs = [run("base", w, s, 0.0) for w in range(3) for s in range(4)]
    runs += [run("arm", w, s, 1.0) for w in range(3) for s in range(4)]
    runs[0]["summary"]["m"] = None  # base, world 0 seed 0: never reached the budget
    runs.pop(1)  # base, world 0 seed 1: missing partner
    for r in runs:  # world 2 never reaches it in the arm
        if arm_of(r) == "arm" and r["config"]["world"]["seed"] == 2:
            r["summary"]["m"] = float("nan")
    diffs, dropped = paired_values(runs, arm_of, "arm", "base", "m")
    assert sorted(diffs) == [0, 1] and len(diffs[0]) == 2 and len(diffs[1]) == 4
    assert dropped == 2 + 4
    e = paired_effect(runs, arm_of, "arm", "base", "m", n_boot=200)
    assert (e.n_worlds, e.n_pairs, e.dropped) == (2, 6, 6)
    assert e.mean == 1.0 and e.low == 1.0 and e.high == 1.0
    assert e.to_dict()["se"] == 0.0
    empty = paired_effect(runs, arm_of, "arm", "nobody", "m", n_boot=50)
    assert empty.n_worlds == 0 and math.isnan(empty.mean) and empty.to_dict()["mean"] is None


def test_an_arm_with_two_runs_of_one_pair_is_an_error():
    runs = [run("a", 0, 0, 1.0), run("a", 0, 0, 2.0), run("b", 0, 0, 0.0)]
    with pytest.raises(ValueError, match="two runs"):
        paired_values(runs, arm_of, "a", "b", "m")


def test_bootstrap_is_deterministic_and_resamples_within_worlds():
    groups = [(np.array([0.0, 1.0]),), (np.array([5.0]),)]
    a = two_stage_bootstrap(groups, lambda x: x.mean(-1), 300, seed=3)
    b = two_stage_bootstrap(groups, lambda x: x.mean(-1), 300, seed=3)
    np.testing.assert_array_equal(a, b)
    # every resample is a mean of 2 worlds, each 0, 0.5, 1 (world 0) or 5 (world 1)
    possible = {(x + y) / 2 for x in (0, 0.5, 1, 5) for y in (0, 0.5, 1, 5)}
    assert set(np.round(a, 12)) <= possible and len(set(a)) > 4


@pytest.mark.parametrize(
    ("low", "high", "direction", "margin", "expected"),
    [
        (0.1, 0.3, 1, 0.0, "reproduced"),
        (0.1, 0.3, -1, 0.0, "reversed"),
        (-0.3, -0.1, -1, 0.0, "reproduced"),
        (-0.1, 0.3, 1, 0.0, "not reproduced"),
        (-0.1, 0.3, 0, 0.5, "reproduced"),
        (-0.1, 0.3, 0, 0.2, "not reproduced"),
        (0.3, 0.6, 0, 0.2, "not reproduced"),  # an effect where none was claimed
        (-0.6, -0.3, 0, 0.2, "not reproduced"),  # a claim of no effect has no direction
        (0.01, 0.03, 0, 0.1, "reproduced"),
        (0.05, 0.3, 1, 0.1, "not reproduced"),  # a one-sided drop must clear its margin
        (0.15, 0.3, 1, 0.1, "reproduced"),
        (-0.3, -0.15, -1, 0.1, "reproduced"),
        (-0.3, -0.05, 1, 0.1, "reversed"),
    ],
)
def test_verdict(low, high, direction, margin, expected):
    e = Effect(0.0, 0.1, low, high, 0.5, 4, 8, 80, 0, {})
    assert verdict(e, direction, margin) == expected


def test_verdict_needs_four_worlds():
    e = Effect(1.0, 0.1, 0.8, 1.2, 0.25, 3, 3, 30, 0, {})
    assert verdict(e, 1) == "n/a"
    assert verdict(Effect(1.0, 0.1, 0.8, 1.2, 0.125, 4, 4, 40, 0, {}), 1) == "reproduced"


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (["reproduced", "reproduced", "n/a"], "reproduced"),
        (["reproduced", "not reproduced"], "partly"),
        (["reproduced", "reversed"], "partly"),
        (["not reproduced", "reversed"], "reversed"),
        (["not reproduced", "n/a"], "not reproduced"),
        (["n/a"], "n/a"),
    ],
)
def test_combine(points, expected):
    assert combine(points) == expected


def test_within_world_correlation_sees_through_differences_between_worlds():
    """Within every world y rises with x, but worlds with larger x have much lower y: the
    pooled correlation is negative, the within-world one positive (Simpson's paradox)."""
    rng = np.random.default_rng(0)
    xy, xs, ys = {}, [], []
    for w in range(8):
        x = rng.normal(0, 1, 30) + 3 * w
        y = 0.6 * (x - 3 * w) + rng.normal(0, 0.8, 30) - 4 * w
        xy[w] = (x, y)
        xs += list(x)
        ys += list(y)
    assert stats.spearmanr(xs, ys).statistic < -0.5
    e = within_world_correlation(xy, "spearman", n_boot=500)
    assert e.low > 0.3 and e.agree == 8
    for w, (x, y) in xy.items():
        assert e.per_world[str(w)] == pytest.approx(stats.spearmanr(x, y).statistic)
    p = within_world_correlation(xy, "pearson", n_boot=200)
    assert p.per_world["0"] == pytest.approx(stats.pearsonr(*xy[0]).statistic)


def test_within_world_correlation_of_independent_variables_is_null():
    rng = np.random.default_rng(2)
    xy = {w: (rng.normal(size=40), rng.normal(size=40)) for w in range(8)}
    e = within_world_correlation(xy, "spearman", n_boot=500)
    assert e.low < 0 < e.high


def test_within_world_correlation_ties_and_degenerate_worlds():
    xy = {0: ([1, 1, 2, 3], [1, 2, 2, 5]), 1: ([1, 2], [3, 4]), 2: ([1, 1, 1], [1, 2, 3])}
    e = within_world_correlation(xy, "spearman", n_boot=100)
    assert e.n_worlds == 1 and e.dropped == 5
    assert e.mean == pytest.approx(stats.spearmanr(*xy[0]).statistic)


def test_median_iqr():
    assert median_iqr([4.0, None, 1.0, 3.0, 2.0, float("nan")]) == (2.5, 1.75, 3.25, 4)
    assert median_iqr([None])[3] == 0
