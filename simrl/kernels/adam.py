"""AdamW and SGD updates of a block of parameters, element-wise and branch-free.

Shared by every proxy architecture's fit (:mod:`simrl.kernels.rm_fit`,
:mod:`simrl.kernels.mlp_fit`). No ``fastmath``: LLVM vectorizes the loops (packed square
root and division through the ``llvm.sqrt`` intrinsic) without reassociating any sum or
fusing any multiply-add, so results are bit-identical to the scalar algorithm.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

# Adam (Kingma & Ba 2015) defaults.
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def ieee_sqrt(x: float) -> float:
    """Correctly rounded square root (IEEE 754), as ``math.sqrt``; see the overload below."""
    return math.sqrt(x)


@intrinsic
def _llvm_sqrt(typingctx, x):
    """``llvm.sqrt.f64``: Numba lowers ``math.sqrt`` to a call of libm's ``sqrt``, which LLVM's
    loop vectorizer cannot widen; the intrinsic widens to ``vsqrtpd``. Both are the IEEE
    correctly rounded square root, so results are bit-identical."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
        return builder.call(fn, args)

    return x(x), codegen


@overload(ieee_sqrt)
def _ieee_sqrt_jit(x):
    return lambda x: _llvm_sqrt(x)


@njit(cache=True, error_model="numpy")  # no ZeroDivisionError branch: the divisor is >= eps
def adam_block(
    params: np.ndarray,
    grad: np.ndarray,
    m1: np.ndarray,
    m2: np.ndarray,
    shrink: float,
    step_size: float,
    inv_sqrt_c2: float,
) -> None:
    """One AdamW step on a block of parameters; zeroes ``grad`` for the next mini-batch.

    p <- shrink p - lr m_hat / (sqrt(v_hat) + eps) (Kingma & Ba 2015, Alg. 1; decoupled decay,
    Loshchilov & Hutter 2019), with the bias corrections folded into ``step_size`` =
    lr / (1 - b1^t) and ``inv_sqrt_c2`` = 1 / sqrt(1 - b2^t). ``shrink`` = 1 - lr wd, or
    exactly 1 (an exact no-op multiply) for blocks without decay. Branch-free and element-wise,
    so LLVM vectorizes it (packed sqrt and division) without reassociating anything.
    """
    b1, b2, eps = ADAM_BETA1, ADAM_BETA2, ADAM_EPS
    for q in range(params.shape[0]):
        g = grad[q]
        grad[q] = 0.0
        a = b1 * m1[q] + (1.0 - b1) * g
        s = b2 * m2[q] + (1.0 - b2) * g * g
        m1[q] = a
        m2[q] = s
        params[q] = params[q] * shrink - step_size * a / (ieee_sqrt(s) * inv_sqrt_c2 + eps)


@njit(cache=True)
def sgd_block(params: np.ndarray, grad: np.ndarray, shrink: float, lr: float) -> None:
    """p <- shrink p - lr g on a block of parameters; zeroes ``grad``."""
    for q in range(params.shape[0]):
        params[q] = params[q] * shrink - lr * grad[q]
        grad[q] = 0.0
