"""Comparisons at matched sqrt(KL): interpolation along a curve, the gold AUC, saturation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simrl.analysis import gold_auc, matched_summary, value_at_sqrt_kl


def curve_of(d, gold, **extra):
    return [
        {"sqrt_kl": float(a), "gold": float(b), **{k: float(v[i]) for k, v in extra.items()}}
        for i, (a, b) in enumerate(zip(d, gold, strict=True))
    ]


@given(
    st.lists(st.floats(0.05, 2.0), min_size=2, max_size=12),
    st.lists(st.floats(-3.0, 3.0), min_size=13, max_size=13),
    st.floats(0.0, 1.0),
)
def test_interpolation_recovers_a_piecewise_linear_gold_between_any_checkpoints(steps, g, u):
    """Checkpoints sampled from a piecewise-linear gold(d) with knots at the checkpoints: the
    value at any budget inside the curve is that function's value there."""
    d = np.concatenate([[0.0], np.cumsum(steps)])
    gold = np.array(g[: d.size])
    budget = u * d[-1]
    got = value_at_sqrt_kl(curve_of(d, gold), budget)
    assert got == pytest.approx(np.interp(budget, d, gold), abs=1e-9)


def test_a_budget_past_the_end_is_none_not_extrapolated():
    c = curve_of([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
    assert value_at_sqrt_kl(c, 2.0) == 2.0
    assert value_at_sqrt_kl(c, 2.0001) is None


def test_the_first_crossing_is_used_when_kl_falls_back():
    """An adaptive penalty can pull KL back below a budget; the run is measured where it
    first got there, not where it returned."""
    c = curve_of([0.0, 2.0, 0.5, 2.0], [0.0, 1.0, 5.0, -4.0])
    assert value_at_sqrt_kl(c, 1.0) == pytest.approx(0.5)


@given(st.floats(-2.0, 2.0), st.integers(3, 40))
def test_auc_of_a_linear_gold_is_half_its_end_value_whatever_the_checkpoints(slope, n):
    d = np.sort(np.random.default_rng(n).uniform(0.0, 5.0, n))
    d[0] = 0.0
    c = curve_of(d, slope * d)
    top = max(b for b in (1.0, 2.0, 3.0, 4.0) if b <= d[-1]) if d[-1] >= 1.0 else None
    got = gold_auc(c, (1.0, 2.0, 3.0, 4.0))
    if top is None:
        assert got is None
    else:
        assert got == pytest.approx(slope * top / 2.0, abs=1e-9)


def test_auc_ignores_what_comes_after_the_largest_budget():
    d = [0.0, 1.0, 2.0, 3.0]
    a = gold_auc(curve_of(d, [0.0, 1.0, 1.0, 1.0]), (1.0, 2.0))
    b = gold_auc(curve_of(d, [0.0, 1.0, 1.0, -50.0]), (1.0, 2.0))
    assert a == b == pytest.approx(0.75)


def test_saturation_and_the_fit_before_it():
    """The regime flag uses the per-token entropy relative to the reference; the pre-saturation
    fit uses only the checkpoints before the entropy first falls under the floor."""
    d = np.linspace(0.0, 6.0, 13)
    gold = d * (1.0 - 0.3 * np.log(np.where(d > 0, d, 1.0)))  # Gao's RL form up to d = 4
    gold[d > 4.0] -= 3.0 * (d[d > 4.0] - 4.0)  # then a collapse the form cannot follow
    ent_tok = np.where(d > 4.0, 0.3, 1.5)
    c = curve_of(d, gold, entropy=5 * ent_tok, entropy_per_token=ent_tok)
    s = matched_summary(c, (1.0, 2.0), 0.5, "rl")
    assert s["saturated"] is True
    assert s["fit_r2_presat"] == pytest.approx(1.0)
    loose = matched_summary(c, (1.0, 2.0), 0.1, "rl")
    assert loose["saturated"] is False and loose["fit_r2_presat"] < 0.99
