"""The exponential made of IEEE operations (simrl.kernels.vexp) and the tanh built on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from simrl.kernels.activations import fast_tanh
from simrl.kernels.vexp import vexp

SPECIAL = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    5e-324,
    -5e-324,
    1e-300,
    math.log(2.0),
    709.78,  # the largest finite results
    709.7827128933839,
    709.79,  # overflow
    -708.39,  # the smallest normal results
    -709.0,  # subnormal results
    -745.13,
    -745.14,  # underflow to 0
    -746.0,
    1e4,
    -1e4,
    math.inf,
    -math.inf,
    math.nan,
]


@njit(cache=True)
def _vexp_loop(xs: np.ndarray, out: np.ndarray) -> None:
    for i in range(xs.shape[0]):  # a loop LLVM vectorizes: vexp in vector registers
        out[i] = vexp(xs[i])


@njit(cache=True)
def _tanh_loop(xs: np.ndarray, out: np.ndarray) -> None:
    for i in range(xs.shape[0]):
        out[i] = fast_tanh(xs[i])


def _c_exp(x: float) -> float:
    """The C library's exp (``math.exp`` raises where C returns inf)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of the last place of ``want`` (0 where both are inf or equal)."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):
        err = np.abs(got - want) / np.spacing(np.abs(want))
    return np.where(same, 0.0, err)


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            rng.uniform(-1.0, 1.0, 100_000),
            rng.uniform(-40.0, 40.0, 100_000),
            rng.uniform(-750.0, 712.0, 100_000),
            rng.uniform(-745.2, -700.0, 20_000),  # subnormal and tiny normal results
            np.array(SPECIAL),
        ]
    )


def test_within_one_ulp_of_the_c_library_and_mostly_equal():
    xs = _inputs()
    got = np.empty_like(xs)
    _vexp_loop(xs, got)
    want = np.array([_c_exp(x) for x in xs])
    ulps = _ulps(got, want)
    assert ulps.max() <= 1.0
    assert (ulps == 0).mean() > 0.85  # correctly rounded most of the time, like libm


def test_exact_cases_and_limits():
    exact = [(0.0, 1.0), (-0.0, 1.0), (5e-324, 1.0), (-5e-324, 1.0), (1e-300, 1.0)]
    exact += [(709.79, math.inf), (1e4, math.inf), (math.inf, math.inf)]  # overflow
    exact += [(-745.14, 0.0), (-746.0, 0.0), (-1e4, 0.0), (-math.inf, 0.0)]  # underflow
    exact += [(-745.13, 5e-324)]  # the smallest subnormal
    for x, want in exact:
        assert vexp(x) == want, x
    assert math.isfinite(vexp(709.782712893384))  # the largest finite result
    assert 0.0 < vexp(-709.0) < 2.2250738585072014e-308  # subnormal, not flushed


def test_vectorized_loop_equals_the_python_reference_bit_for_bit():
    """The compiled loop runs vexp eight lanes at a time (and a scalar remainder);
    ``py_func`` runs the same operations on Python floats. Every bit must agree, for every
    input, or results would depend on vector width and position in an array."""
    xs = _inputs()
    got = np.empty_like(xs)
    _vexp_loop(xs, got)
    want = np.array([vexp.py_func(float(x)) for x in xs])
    np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))


@given(st.floats(-760.0, 720.0, allow_nan=False))
def test_any_double_within_one_ulp(x):
    y = vexp(x)
    assert y == vexp.py_func(x)
    want = _c_exp(x)
    assert y == want if math.isinf(want) else abs(y - want) <= math.ulp(want)


@given(st.floats(-40.0, 40.0, allow_nan=False), st.floats(-40.0, 40.0, allow_nan=False))
def test_monotone_on_pairs(a, b):
    lo, hi = min(a, b), max(a, b)
    assert vexp(lo) <= vexp(hi)


def test_tanh_absolute_error_and_limits():
    xs = np.concatenate([np.linspace(-25.0, 25.0, 200_001), [0.0, -0.0, 400.0, -400.0]])
    got = np.empty_like(xs)
    _tanh_loop(xs, got)
    assert np.abs(got - np.tanh(xs)).max() <= 4.5e-16
    assert got[-2] == 1.0 and got[-1] == -1.0 and got[-4] == 0.0
    assert np.all(np.abs(got) <= 1.0)
    np.testing.assert_array_equal(got, [fast_tanh.py_func(float(x)) for x in xs])


@pytest.mark.parametrize("x", [math.nan])
def test_nan_propagates(x):
    assert math.isnan(vexp(x)) and math.isnan(vexp.py_func(x)) and math.isnan(fast_tanh(x))
