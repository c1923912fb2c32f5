"""Hidden-layer activations of the proxy and their derivatives, as scalar kernels.

Codes (kept in sync with ``simrl.reward_model.ACTIVATIONS``):

* ``tanh``:     a = tanh(z),                    a' = 1 - a^2            (bounded, |a| < 1)
* ``relu``:     a = max(z, 0),                  a' = [z > 0]            (unbounded above)
* ``gelu``:     a = z Phi(z),                   a' = Phi(z) + z phi(z)  (Hendrycks & Gimpel
                                                2016, the exact erf form)
* ``identity``: a = z,                          a' = 1                  (a linear trunk)

Derivatives take both the pre-activation ``z`` and the activation ``a`` so that each uses
whichever it needs (tanh reads a, the others z).
"""

from __future__ import annotations

import math

from numba import njit

from simrl.kernels.vexp import vexp

ACT_TANH = 0
ACT_RELU = 1
ACT_GELU = 2
ACT_IDENTITY = 3

INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, error_model="numpy")  # the divisor is >= 1 (or NaN): no zero check needed
def fast_tanh(z: float) -> float:
    """tanh(z) = 1 - 2 / (exp(2z) + 1): one exp instead of libm's tanh, exact limits +-1 (exp
    overflows to inf or underflows to 0), absolute error about 1e-16. The exp is
    :func:`simrl.kernels.vexp.vexp`, so a loop of tanh over the hidden units vectorizes."""
    return 1.0 - 2.0 / (vexp(2.0 * z) + 1.0)


@njit(cache=True)
def activate(z: float, act: int) -> float:
    """a = act(z) for activation code ``act``."""
    if act == ACT_TANH:
        return fast_tanh(z)
    if act == ACT_RELU:
        return z if z > 0.0 else 0.0
    if act == ACT_GELU:
        return 0.5 * z * (1.0 + math.erf(z * INV_SQRT2))
    return z


@njit(cache=True)
def activate_grad(z: float, a: float, act: int) -> float:
    """da/dz at pre-activation ``z`` with activation ``a = act(z)``."""
    if act == ACT_TANH:
        return 1.0 - a * a
    if act == ACT_RELU:
        return 1.0 if z > 0.0 else 0.0
    if act == ACT_GELU:
        return 0.5 * (1.0 + math.erf(z * INV_SQRT2)) + z * INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return 1.0
