"""exp(x) from IEEE 754 operations only, so that loops calling it vectorize.

Numba lowers ``math.exp`` to a call of the C library's ``exp``. LLVM's loop vectorizer cannot
widen a call, so every loop that takes an exponential (each softmax row of the policy, each
tanh of the proxy's hidden layer) runs one element at a time, and the call is most of its
cost. :func:`vexp` is the textbook algorithm written out in additions, multiplications, a
conversion and a bit cast (Cody & Waite 1980; Tang 1989, "Table-driven implementation of the
exponential function", ACM TOMS 15(2), without the table):

1. x = k ln 2 + r with k = round(x / ln 2), |r| <= ln(2)/2, computed as
   r = (x - k ln2_hi) - k ln2_lo, where ln2_hi has enough trailing zero bits that k ln2_hi is
   exact for every k this range needs (fdlibm's split of ln 2);
2. e^r by its Taylor polynomial of degree 13 in Horner form (truncation below 5e-18
   relative on |r| <= 0.347);
3. e^x = e^r 2^k, with 2^k applied as two exact powers of two 2^(k//2) 2^(k - k//2), so that
   subnormal results are rounded once and overflow gives inf.

Measured against the C library (``tests/test_vexp.py``): within 1 ulp everywhere, the same
double in most cases. Unlike the C library's, the result is the same on every machine and
for every vector width: each step is a correctly rounded IEEE operation and no ``fastmath``
flag lets the compiler reorder or fuse them. exp(0) = 1, exp(-inf) = 0, exp(inf) = inf and
NaN propagates, as in C.
"""

from __future__ import annotations

import math

from numba import njit, types
from numba.extending import intrinsic, overload

LOG2E = 1.4426950408889634  # 1 / ln 2
LN2_HI = 6.93147180369123816490e-01  # ln 2 split as fdlibm's e_exp.c: k * LN2_HI is exact
LN2_LO = 1.90821492927058770002e-10
ROUND = 6755399441055744.0  # 1.5 * 2^52: (y + ROUND) - ROUND rounds y to the nearest integer
X_MIN, X_MAX = -750.0, 710.0  # exp underflows to 0 below about -745.13, overflows above 709.78
# 1/n! for n = 2..13, the Taylor coefficients of e^r beyond 1 + r.
_C = [1.0 / math.factorial(n) for n in range(2, 14)]
C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13 = _C


def pow2(k: int) -> float:
    """2^k for an integer -1022 <= k <= 1023, exactly (in Python ``math.ldexp``; compiled, the
    bit cast below, which vectorizes)."""
    return math.ldexp(1.0, k)


@intrinsic
def _pow2_bits(typingctx, k):
    """2^k as a double for an integer -1022 <= k <= 1023: the bits (k + 1023) << 52."""
    if not isinstance(k, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i64 = context.get_value_type(types.int64)
        bits = builder.shl(builder.add(args[0], i64(1023)), i64(52))
        return builder.bitcast(bits, context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


@overload(pow2)
def _pow2_jit(k):
    return lambda k: _pow2_bits(k)


@njit(cache=True, inline="always")
def vexp(x: float) -> float:
    """e^x within 1 ulp of the C library's, from IEEE operations only (see the module).

    ``vexp.py_func`` runs the same operations on Python floats: the slow reference, equal
    bit for bit."""
    xc = x if x > X_MIN else X_MIN  # NaN takes X_MIN here and is returned below
    xc = xc if xc < X_MAX else X_MAX
    kf = (xc * LOG2E + ROUND) - ROUND
    r = (xc - kf * LN2_HI) - kf * LN2_LO
    q = C12 + r * C13
    q = C11 + r * q
    q = C10 + r * q
    q = C9 + r * q
    q = C8 + r * q
    q = C7 + r * q
    q = C6 + r * q
    q = C5 + r * q
    q = C4 + r * q
    q = C3 + r * q
    q = C2 + r * q
    p = 1.0 + (r + (r * r) * q)  # e^r = 1 + r + r^2 (1/2 + r/6 + ...)
    k = int(kf)
    k1 = k >> 1
    y = (p * pow2(k1)) * pow2(k - k1)
    return y if x == x else x
